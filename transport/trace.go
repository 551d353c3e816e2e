package transport

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
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

// RedactHeader is a header value as a trace shows it: an Authorization-like
// value keeps its scheme ("Basic", "NTLM"), anything secret is replaced.
func RedactHeader(name, value string) string {
	if !secretHeader(name) {
		return value
	}
	if scheme, _, ok := strings.Cut(value, " "); ok && strings.Contains(strings.ToLower(name), "auth") {
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

// WriteHeaders writes headers sorted by name, one "prefix Name: value" a
// line, secrets redacted (see RedactHeader).
func WriteHeaders(w io.Writer, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s%s: %s\n", prefix, k, RedactHeader(k, v))
		}
	}
}

func (c *Client) traceRequest(req *http.Request, body []byte) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "> POST %s\n", req.URL.Redacted())
	WriteHeaders(&b, "> ", req.Header)
	if c.opt.Auth == AuthNTLM || c.opt.Auth == AuthNegotiate {
		fmt.Fprintf(&b, "> (the Authorization above becomes an NTLM handshake when the server asks for one)\n")
	}
	fmt.Fprintf(&b, ">\n%s", Redact(body, c.Secrets...))
	if !bytes.HasSuffix(body, []byte("\n")) {
		b.WriteByte('\n')
	}
	c.Trace.Write(b.Bytes())
}

func (c *Client) traceResponse(r *Response) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "< %s %s (%s)\n", r.Proto, r.Reason, r.Elapsed.Round(time.Millisecond))
	WriteHeaders(&b, "< ", r.Header)
	fmt.Fprintf(&b, "<\n")
	c.Trace.Write(b.Bytes())
}
