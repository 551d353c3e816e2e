package transport

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// secretHeader says which header values never reach a trace.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "www-authenticate", "proxy-authenticate":
		return true
	}
	return SecretName(n)
}

// SecretName reports whether a header's or a variable's name says its
// value is a secret: password, token, key, ticket, a session's ID and the
// like. Traces hide such values, and status does not show them.
func SecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "pwd", "secret", "token", "ticket", "key", "auth", "cookie", "credential", "jwt", "bearer", "sig", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// redactHeader is a header value as a trace shows it: credentials keep
// their scheme ("Basic [redacted]", "NTLM [redacted]"); a challenge keeps
// its scheme and parameters ("Basic realm=\"x\"", a bare "Negotiate"), its
// token hidden; any other secret is replaced.
func redactHeader(name, value string) string {
	if !secretHeader(name) {
		return value
	}
	n := strings.ToLower(name)
	scheme, rest, spaced := strings.Cut(value, " ")
	switch {
	case n == "www-authenticate" || n == "proxy-authenticate":
		if !spaced || strings.Contains(rest, "=\"") {
			return value // a scheme offered, or auth-params (realm, nonce): no secret
		}
		return scheme + " [redacted]" // a token68: the server's half of a handshake
	case spaced && strings.Contains(n, "auth"):
		return scheme + " [redacted]"
	}
	return "[redacted]"
}

var (
	secretElement = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)(<(?:[\w.-]+:)?(?:password|passwd|pass|pwd|pw|secret|token|apikey|api_key|credential)s?(?:\s[^>]*)?>)([^<]*|<!\[CDATA\[.*?\]\]>)(</)`)
	})
	secretAttr = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)(\s(?:[\w.-]+:)?(?:password|passwd|pass|pwd|pw|secret|token)\s*=\s*)("[^"]*"|'[^']*')`)
	})
	// DSML: <attr name="userPassword"><value>…</value></attr>, and unicodePwd.
	secretDSML = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?is)(<(?:[\w.-]+:)?attr\s[^>]*name\s*=\s*["'](?:userPassword|unicodePwd)["'][^>]*>\s*<(?:[\w.-]+:)?value(?:\s[^>]*)?>)(.*?)(</)`)
	})
)

// redactXML hides the values of password-like elements and attributes
// (<password>, <wsse:Password>, secret="…") in a message shown to people.
func redactXML(b []byte) []byte {
	b = secretElement().ReplaceAll(b, []byte("${1}[redacted]${3}"))
	b = secretDSML().ReplaceAll(b, []byte("${1}[redacted]${3}"))
	return secretAttr().ReplaceAll(b, []byte(`${1}"[redacted]"`))
}

// redact is redactXML, and the known secrets themselves, as written or
// XML-escaped, wherever they are.
func redact(b []byte, secrets ...string) []byte {
	b = redactXML(b)
	for _, s := range secrets {
		if len(s) < 3 { // too short to find without hiding ordinary text
			continue
		}
		for _, form := range secretForms(s) {
			b = bytes.ReplaceAll(b, []byte(form), []byte("[redacted]"))
		}
	}
	return b
}

var (
	xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
	// As the envelope package escapes template values: white space as
	// character references too.
	xmlEscaperWS = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;",
		"\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;")
)

// secretForms are the ways a secret may be written in a message: as is,
// XML-escaped (with or without its white space as character references),
// URL-encoded, and in base64.
func secretForms(s string) []string {
	forms := []string{s, xmlEscaper.Replace(s), xmlEscaperWS.Replace(s), url.QueryEscape(s), url.PathEscape(s),
		base64.StdEncoding.EncodeToString([]byte(s))}
	slices.Sort(forms)
	forms = slices.Compact(forms)
	// Longest first, so that no form is cut up by replacing one inside it.
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return forms
}

// renderHead is a message head as written on the wire (a request or
// status line, then "Name: value" lines, CRLF or LF separated) as people
// see it: one line each, LF-ended, secret header values redacted (see
// redactHeader) and the known secrets hidden wherever they appear.
func renderHead(raw []byte, secrets ...string) string {
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimRight(string(raw), "\r\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if i > 0 {
			if name, value, ok := strings.Cut(line, ":"); ok {
				line = name + ": " + redactHeader(name, strings.TrimLeft(value, " \t"))
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return string(redact([]byte(b.String()), secrets...))
}

// renderResponse is a reply's status line and headers as renderHead shows
// them, headers sorted by name, as Go received them.
func renderResponse(r *http.Response) string {
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "%s %s\n", r.Proto, r.Status)
	h := r.Header.Clone()
	if len(r.TransferEncoding) > 0 { // Go moves it out of the header
		h["Transfer-Encoding"] = r.TransferEncoding
	}
	for k := range r.Trailer { // and this one too
		h.Add("Trailer", k)
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&raw, "%s: %s\n", k, v)
		}
	}
	return renderHead(raw.Bytes())
}
