package transport

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
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
	for _, w := range []string{"token", "secret", "password", "api-key", "apikey", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// RedactHeader is a header value as a trace shows it: credentials keep
// their scheme ("Basic [redacted]", "NTLM [redacted]"); a challenge keeps
// its scheme and parameters ("Basic realm=\"x\"", a bare "Negotiate"), its
// token hidden; any other secret is replaced.
func RedactHeader(name, value string) string {
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

// RedactXML hides the values of password-like elements and attributes
// (<password>, <wsse:Password>, secret="…") in a message shown to people.
func RedactXML(b []byte) []byte {
	b = secretElement().ReplaceAll(b, []byte("${1}[redacted]${3}"))
	b = secretDSML().ReplaceAll(b, []byte("${1}[redacted]${3}"))
	return secretAttr().ReplaceAll(b, []byte(`${1}"[redacted]"`))
}

// Redact is RedactXML, and the known secrets themselves, as written or
// XML-escaped, wherever they are.
func Redact(b []byte, secrets ...string) []byte {
	b = RedactXML(b)
	for _, s := range secrets {
		if len(s) < 3 { // too short to find without hiding ordinary text
			continue
		}
		for _, form := range []string{s, xmlEscaper.Replace(s)} {
			b = bytes.ReplaceAll(b, []byte(form), []byte("[redacted]"))
		}
	}
	return b
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// RenderHead is a message head as written on the wire (a request or
// status line, then "Name: value" lines, CRLF or LF separated) as people
// see it: one line each, LF-ended, secret header values redacted (see
// RedactHeader) and the known secrets hidden wherever they appear.
func RenderHead(raw []byte, secrets ...string) string {
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimRight(string(raw), "\r\n"), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if i > 0 {
			if name, value, ok := strings.Cut(line, ":"); ok {
				line = name + ": " + RedactHeader(name, strings.TrimLeft(value, " \t"))
			}
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return string(Redact([]byte(b.String()), secrets...))
}

// RenderResponse is a reply's status line and headers as RenderHead shows
// them, headers sorted by name, as Go received them.
func RenderResponse(r *http.Response) string {
	var raw bytes.Buffer
	fmt.Fprintf(&raw, "%s %s\n", r.Proto, r.Status)
	h := r.Header.Clone()
	if len(r.TransferEncoding) > 0 { // Go moves it out of the header
		h["Transfer-Encoding"] = r.TransferEncoding
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
	return RenderHead(raw.Bytes())
}
