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
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
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

// minSecret is the length under which a secret is hidden only where it
// stands as a whole value: hidden wherever it occurs, a password such as
// "1" would hide ordinary text all over a trace.
const minSecret = 3

var redacted = []byte("[redacted]")

// redact is redactXML, and the known secrets themselves wherever they
// are: as written, URL-encoded, in base64, and as XML may write them, any
// character as a character reference (&#9;, &#x9;, &#xA;) or an entity
// (&amp;, &lt;, &gt;, &quot;, &apos;), in text and in attribute values
// alike. A secret shorter than minSecret is hidden where it is the whole
// of a text node or of an attribute value.
func redact(b []byte, secrets ...string) []byte {
	b = redactXML(b)
	var long, short []string
	for _, s := range secrets {
		switch {
		case s == "":
		case len(s) < minSecret:
			short = append(short, s)
		default:
			long = append(long, s)
		}
	}
	for _, s := range long {
		for _, form := range secretForms(s) {
			b = bytes.ReplaceAll(b, []byte(form), redacted)
		}
	}
	var spans []span
	if len(long) > 0 && bytes.IndexByte(b, '&') >= 0 {
		d := decodeXML(b)
		for _, s := range long {
			for i := 0; ; {
				j := bytes.Index(d.text[i:], []byte(s))
				if j < 0 {
					break
				}
				i += j
				spans = append(spans, span{int(d.from[i]), int(d.to[i+len(s)-1])})
				i += len(s)
			}
		}
	}
	if len(short) > 0 {
		spans = append(spans, wholeValues(b, short)...)
	}
	return cut(b, spans)
}

// secretForms are the ways a secret may be written in a message, besides
// XML's references (see decodeXML): as is, URL-encoded, and in base64.
func secretForms(s string) []string {
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s), base64.StdEncoding.EncodeToString([]byte(s))}
	slices.Sort(forms)
	forms = slices.Compact(forms)
	// Longest first, so that no form is cut up by replacing one inside it.
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return forms
}

// span is a part of a message to hide, b[start:end].
type span struct{ start, end int }

// cut replaces the spans of b, which may overlap, with [redacted].
func cut(b []byte, spans []span) []byte {
	if len(spans) == 0 {
		return b
	}
	slices.SortFunc(spans, func(x, y span) int { return x.start - y.start })
	out := make([]byte, 0, len(b))
	at := 0
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		for i++; i < len(spans) && spans[i].start <= end; i++ {
			end = max(end, spans[i].end)
		}
		out = append(append(out, b[at:start]...), redacted...)
		at = end
	}
	return append(out, b[at:]...)
}

// decoded is XML with its references resolved: text[i] comes from the
// original's bytes from[i] to to[i] (all the bytes of a character a
// reference stands for come from the whole reference).
type decoded struct {
	text     []byte
	from, to []int32
}

// entities are XML's predefined entities.
var entities = map[string]rune{"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\''}

// decodeXML resolves the character references (decimal, and hexadecimal
// with digits in either case) and the predefined entities in b; anything
// else, markup included, stays as it is.
func decodeXML(b []byte) decoded {
	d := decoded{text: make([]byte, 0, len(b)), from: make([]int32, 0, len(b)), to: make([]int32, 0, len(b))}
	var buf [utf8.UTFMax]byte
	for i := 0; i < len(b); {
		r, n := reference(b[i:])
		if n == 0 {
			d.text = append(d.text, b[i])
			d.from, d.to = append(d.from, int32(i)), append(d.to, int32(i+1))
			i++
			continue
		}
		for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
			d.text = append(d.text, c)
			d.from, d.to = append(d.from, int32(i)), append(d.to, int32(i+n))
		}
		i += n
	}
	return d
}

// reference reads the character or entity reference b starts with: the
// character and its length; 0 when b starts with none.
func reference(b []byte) (rune, int) {
	if len(b) < 3 || b[0] != '&' {
		return 0, 0
	}
	end := bytes.IndexByte(b[:min(len(b), 12)], ';')
	if end < 2 {
		return 0, 0
	}
	name := string(b[1:end])
	if r, ok := entities[name]; ok {
		return r, end + 1
	}
	if name[0] != '#' {
		return 0, 0
	}
	digits, base := name[1:], 10
	if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
		digits, base = digits[1:], 16
	}
	if digits == "" || digits[0] == '+' || digits[0] == '-' {
		return 0, 0
	}
	n, err := strconv.ParseUint(digits, base, 32)
	if err != nil || n > unicode.MaxRune || !utf8.ValidRune(rune(n)) {
		return 0, 0
	}
	return rune(n), end + 1
}

// wholeValues finds in the XML b the text nodes (CDATA sections included)
// and attribute values that are, references resolved, one of secrets,
// with or without the white space around them.
func wholeValues(b []byte, secrets []string) []span {
	var spans []span
	value := func(start, end int) {
		for _, sp := range []span{{start, end}, trimmed(b, start, end)} {
			v := string(decodeXML(b[sp.start:sp.end]).text)
			if slices.Contains(secrets, v) {
				spans = append(spans, sp)
				return
			}
		}
	}
	skip := func(i int, end string) int { // past end, or to the end of b
		if j := bytes.Index(b[i:], []byte(end)); j >= 0 {
			return i + j + len(end)
		}
		return len(b)
	}
	for i := 0; i < len(b); {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			value(i, len(b))
			break
		}
		if lt > 0 {
			value(i, i+lt)
		}
		i += lt
		switch rest := b[i:]; {
		case bytes.HasPrefix(rest, []byte("<!--")):
			i = skip(i, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := skip(i, "]]>")
			if end-3 >= i+9 {
				value(i+9, end-3)
			}
			i = end
		case bytes.HasPrefix(rest, []byte("<?")):
			i = skip(i, "?>")
		default: // a tag: its attribute values
			j := i + 1
			for j < len(b) && b[j] != '>' {
				if q := b[j]; q == '"' || q == '\'' {
					k := bytes.IndexByte(b[j+1:], q)
					if k < 0 {
						j = len(b)
						break
					}
					value(j+1, j+1+k)
					j += k + 1
				}
				j++
			}
			i = j + 1
		}
	}
	return spans
}

// trimmed is b[start:end] without the white space around it.
func trimmed(b []byte, start, end int) span {
	for start < end && isSpace(b[start]) {
		start++
	}
	for end > start && isSpace(b[end-1]) {
		end--
	}
	return span{start, end}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// renderHead is a message head as written on the wire (a request or
// status line, then "Name: value" lines, CRLF or LF separated) as people
// see it: one line each, LF-ended, control characters escaped (see
// Printable), secret header values redacted (see redactHeader) and the
// known secrets hidden wherever they appear.
func renderHead(raw []byte, secrets ...string) string {
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimRight(string(raw), "\r\n"), "\n") {
		line = Printable(strings.TrimSuffix(line, "\r"))
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

// Printable is s with its control characters escaped, so that text a
// server chose (a session ID, a fault, a header) cannot move the cursor,
// start a terminal's escape sequence or fake a line of its own when shown:
// C0 and DEL as \n, \r, \t (and the like) or \x1b, C1 as \u009b, and a
// byte that is not UTF-8 as \x9b. Everything else, backslashes included,
// stays as it is.
func Printable(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			if e := strings.IndexByte("\a\b\f\n\r\t\v", byte(r)); e >= 0 {
				b.WriteByte('\\')
				b.WriteByte("abfnrtv"[e])
			} else {
				fmt.Fprintf(&b, `\x%02x`, r)
			}
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
