package transport

import (
	"strings"
	"testing"
)

// A secret is hidden in every form XML can write it in, and one under 3
// bytes where it is a whole value; nothing else changes.
func TestRedactEveryEscapedForm(t *testing.T) {
	for _, tt := range []struct {
		name, secret, in, want string
	}{
		{"as the envelope escapes a tab", "Zq7\tTOKEN", "<a>Zq7&#x9;TOKEN</a>", "<a>[redacted]</a>"},
		{"a tab as a decimal reference", "Zq7\tTOKEN", "<a>Zq7&#9;TOKEN</a>", "<a>[redacted]</a>"},
		{"LF in lower-case hex", "Zq7\nTOKEN", "<a>Zq7&#xa;TOKEN</a>", "<a>[redacted]</a>"},
		{"CR zero-padded", "Zq7\rTOKEN", "<a>Zq7&#x000D;TOKEN</a>", "<a>[redacted]</a>"},
		{"CR LF, one each way", "Zq7\r\nTOKEN", "<a>Zq7&#13;&#xA;TOKEN</a>", "<a>[redacted]</a>"},
		{"a raw tab", "Zq7\tTOKEN", "<a>Zq7\tTOKEN</a>", "<a>[redacted]</a>"},
		{"an ampersand as a character reference", "p&ssword", "<a>p&#38;ssword</a>", "<a>[redacted]</a>"},
		{"entities", `<p&"w'>`, "<a>&lt;p&amp;&quot;w&apos;&gt;</a>", "<a>[redacted]</a>"},
		{"every character a reference", "abc", "<a>&#97;&#x62;&#x63;</a>", "<a>[redacted]</a>"},
		{"in an attribute, as the envelope escapes it", `Zq"7'x`, `<a v="Zq&quot;7&apos;x"/>`, `<a v="[redacted]"/>`},
		{"in an attribute, a quote left raw", `Zq"7'x`, `<a v="Zq&quot;7'x"/>`, `<a v="[redacted]"/>`},
		{"inside longer text", "s3cret", "<a>user s3&#x63;ret here</a>", "<a>user [redacted] here</a>"},
		{"twice", "s3cret", "<a>s3cret</a><b>s3&#99;ret</b>", "<a>[redacted]</a><b>[redacted]</b>"},
		{"not a reference", "s3cret", "<a>s3&#xZZ;cret &bogus; &#; &</a>", "<a>s3&#xZZ;cret &bogus; &#; &</a>"},

		{"short, a whole text node", "ab", "<p>ab</p><q>about</q>", "<p>[redacted]</p><q>about</q>"},
		{"short, white space around", "ab", "<p>\n  ab\n</p>", "<p>\n  [redacted]\n</p>"},
		{"short, escaped", "a\t", "<p>a&#x9;</p>", "<p>[redacted]</p>"},
		{"short, an attribute value", "7", `<p n="7" m='7' k="17">7x</p>`, `<p n="[redacted]" m='[redacted]' k="17">7x</p>`},
		{"short, in CDATA", "ab", "<p><![CDATA[ab]]></p>", "<p><![CDATA[[redacted]]]></p>"},
		{"short, in a comment or longer text", "ab", "<!-- ab --><p>a b</p><p>abc</p>", "<!-- ab --><p>a b</p><p>abc</p>"},
	} {
		if got := string(redact([]byte(tt.in), tt.secret)); got != tt.want {
			t.Errorf("%s: redact(%q, %q) = %q, want %q", tt.name, tt.in, tt.secret, got, tt.want)
		}
	}
}

// What -v shows of a request with a short password: the Basic credential
// and the password where it is a whole value, both hidden.
func TestShortPasswordHiddenInTrace(t *testing.T) {
	c := client(t, Options{User: "u", Password: "pw"})
	head, body, err := c.Preview(post(t, "http://soap.example/x", `<e><login p="pw">pw</login><n>pwd</n></e>`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(head, "Authorization: Basic [redacted]\n") || strings.Contains(head, "dTpwdw") {
		t.Errorf("head shows the credential:\n%s", head)
	}
	if want := `<e><login p="[redacted]">[redacted]</login><n>pwd</n></e>`; string(body) != want {
		t.Errorf("body = %s, want %s", body, want)
	}
}
