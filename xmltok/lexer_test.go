package xmltok

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type tok struct {
	kind Kind
	raw  string
}

func lexAll(t *testing.T, r io.Reader) ([]tok, error) {
	t.Helper()
	lx := NewLexer(r)
	var out []tok
	for {
		tk, err := lx.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, tok{tk.Kind, string(tk.Raw)})
	}
}

func TestTokensKeepTheirBytes(t *testing.T) {
	doc := `<?xml version='1.0'?>` + "\n" +
		`<!DOCTYPE r [<!ENTITY e "a>b">]>` +
		`<r a='x>y' b="q'q"><!-- c > d --><![CDATA[ <not> a ]] tag ]]>t&amp;&#x41;<e/><p:x xmlns:p="u"  p:y = "1" ></p:x ><?pi some ? data?></r>`
	want := []tok{
		{PI, `<?xml version='1.0'?>`}, {Text, "\n"},
		{Directive, `<!DOCTYPE r [<!ENTITY e "a>b">]>`},
		{StartTag, `<r a='x>y' b="q'q">`},
		{Comment, `<!-- c > d -->`},
		{CData, `<![CDATA[ <not> a ]] tag ]]>`},
		{Text, `t&amp;&#x41;`},
		{EmptyTag, `<e/>`},
		{StartTag, `<p:x xmlns:p="u"  p:y = "1" >`},
		{EndTag, `</p:x >`},
		{PI, `<?pi some ? data?>`},
		{EndTag, `</r>`},
	}
	// Whole, and one byte at a time: tokens must not depend on where reads end.
	for name, r := range map[string]io.Reader{"whole": strings.NewReader(doc), "bytewise": iotest.OneByteReader(strings.NewReader(doc))} {
		got, err := lexAll(t, r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d tokens, want %d: %v", name, len(got), len(want), got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: token %d = %v %q, want %v %q", name, i, got[i].kind, got[i].raw, want[i].kind, want[i].raw)
			}
		}
	}
}

func TestLongTextComesInPiecesOnRuneBoundaries(t *testing.T) {
	text := strings.Repeat("é€x", 100000) // multi-byte runes across every buffer boundary
	lx := NewLexer(iotest.HalfReader(strings.NewReader("<a>" + text + "</a>")))
	var got bytes.Buffer
	pieces := 0
	for {
		tk, err := lx.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if tk.Kind == Text {
			pieces++
			if !utf8Whole(tk.Raw) {
				t.Fatalf("a text piece cuts a character: ...%q", tk.Raw[max(0, len(tk.Raw)-4):])
			}
			got.Write(tk.Raw)
		}
	}
	if got.String() != text {
		t.Error("text pieces do not add up to the text")
	}
	if pieces < 2 {
		t.Errorf("%d pieces: long text was not streamed", pieces)
	}
}

func utf8Whole(b []byte) bool { return strings.ToValidUTF8(string(b), "?") == string(b) }

func TestSyntaxErrors(t *testing.T) {
	for _, doc := range []string{
		`<a`, `<a b="1>`, `<!-- x`, `<![CDATA[ x`, `<?pi`, `< a/>`, `<a>x</a b>`, `<!-- a -- b -->`, `<?  ?>`,
	} {
		_, err := lexAll(t, strings.NewReader(doc))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: %v, want a SyntaxError", doc, err)
		}
	}
}

func TestAttrs(t *testing.T) {
	lx := NewLexer(strings.NewReader(`<a  x="1" p:y = '2&amp;' z="" />`))
	tk, _ := lx.Next()
	attrs, err := tk.Attrs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs) != 3 || string(attrs[1].Name) != "p:y" || string(attrs[1].Value) != "2&amp;" ||
		string(tk.Raw[attrs[1].ValueAt:attrs[1].ValueEnd]) != `'2&amp;'` || string(attrs[2].Value) != "" {
		t.Errorf("Attrs = %+v", attrs)
	}
	for _, bad := range []string{`<a x=1>`, `<a x>`, `<a x="1"y="2">`, `<a x="1" x="2">`, `<a x="<">`} {
		lx := NewLexer(strings.NewReader(bad))
		tk, err := lx.Next()
		if err != nil {
			continue
		}
		if _, err := tk.Attrs(nil); err == nil {
			t.Errorf("%s: Attrs accepted it", bad)
		}
	}
}

func TestScopeAndDeclare(t *testing.T) {
	lx := NewLexer(strings.NewReader(`<s:E xmlns:s="urn:s" xmlns="urn:d"><s:B><x:c xmlns:x="urn:x" a="1"/><d xmlns=""/></s:B></s:E>`))
	var s Scope
	var declared []string
	for {
		tk, err := lx.Next()
		if err == io.EOF {
			break
		}
		switch tk.Kind {
		case StartTag, EmptyTag:
			if err := s.Push(&tk); err != nil {
				t.Fatal(err)
			}
			if s.Depth() == 3 {
				raw, err := Declare(&tk, s.InScope())
				if err != nil {
					t.Fatal(err)
				}
				declared = append(declared, string(raw))
			}
			if tk.Kind == EmptyTag {
				s.Pop(&tk)
			}
		case EndTag:
			if err := s.Pop(&tk); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{
		`<x:c xmlns:x="urn:x" a="1" xmlns:s="urn:s" xmlns="urn:d"/>`,
		`<d xmlns="" xmlns:s="urn:s"/>`,
	}
	if strings.Join(declared, "\n") != strings.Join(want, "\n") {
		t.Errorf("Declare:\n got %q\nwant %q", declared, want)
	}
	var s2 Scope
	lx = NewLexer(strings.NewReader(`<a><b></a>`))
	a, _ := lx.Next()
	b, _ := lx.Next()
	end, _ := lx.Next()
	s2.Push(&a)
	s2.Push(&b)
	if err := s2.Pop(&end); err == nil || !strings.Contains(err.Error(), "<b> closed by </a>") {
		t.Errorf("mismatched end tag: %v", err)
	}
}

// TestScopeRefusesBadDeclarations: a prefix bound to an empty URI, and an
// xmlns: attribute with no prefix at all (which would otherwise rebind the
// default namespace), are not namespace-well-formed.
func TestScopeRefusesBadDeclarations(t *testing.T) {
	for _, tt := range []struct{ doc, msg string }{
		{`<e xmlns:p="">`, "namespace prefix p bound to an empty URI"},
		{`<e xmlns:="">`, "attribute xmlns: names no prefix"},
		{`<e xmlns:="urn:u">`, "attribute xmlns: names no prefix"},
	} {
		tk, err := NewLexer(strings.NewReader(tt.doc)).Next()
		if err != nil {
			t.Fatalf("%s: %v", tt.doc, err)
		}
		var s Scope
		if err := s.Push(&tk); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v, want %q", tt.doc, err, tt.msg)
		}
	}
}

func TestDoctypeWithCommentsInTheSubset(t *testing.T) {
	doc := `<!DOCTYPE r [ <!-- it's a ] > --> <!ENTITY e "x"> ]><r/>`
	for name, r := range map[string]io.Reader{"whole": strings.NewReader(doc), "bytewise": iotest.OneByteReader(strings.NewReader(doc))} {
		got, err := lexAll(t, r)
		if err != nil || len(got) != 2 || got[0].kind != Directive || got[0].raw != doc[:len(doc)-4] {
			t.Errorf("%s: %v %v", name, got, err)
		}
	}
}

// The async lexer gives the same tokens as the plain one, whatever the reads.
func TestAsyncLexerMatchesLexer(t *testing.T) {
	var doc strings.Builder
	doc.WriteString(`<?xml version="1.0"?><!-- c --><r xmlns:p="u">`)
	for i := 0; doc.Len() < 3*batchSize; i++ {
		doc.WriteString(`<p:row n="` + strings.Repeat("x", i%50) + `"><v>é€ &amp; text</v><![CDATA[<c>]]><e/></p:row>`)
	}
	doc.WriteString(`</r>`)
	want, err := lexAll(t, strings.NewReader(doc.String()))
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]io.Reader{"whole": strings.NewReader(doc.String()), "halves": iotest.HalfReader(strings.NewReader(doc.String()))} {
		a := NewAsyncLexer(r)
		var got []tok
		for {
			tk, err := a.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, tok{tk.Kind, string(tk.Raw)})
		}
		a.Close()
		// Text may come in pieces at other places; compare the whole streams.
		if join(got) != join(want) || len(got) < len(want)/2 {
			t.Errorf("%s: async tokens differ from the lexer's", name)
		}
	}
}

func join(ts []tok) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.raw)
	}
	return b.String()
}

// failingReader gives its bytes, then fails as a cut connection does.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// Input cut off inside a token by a read error reports that error, not a
// document that ends there: inside a tag, a comment, a declaration, or text.
func TestReadErrorInsideATokenIsKept(t *testing.T) {
	cut := errors.New("connection reset")
	for _, doc := range []string{`<a><b attr="x`, `<a><!-- no`, `<a><![CDATA[ x`, `<`, `<a>text`} {
		lx := NewLexer(&failingReader{data: []byte(doc), err: cut})
		var err error
		for err == nil {
			_, err = lx.Next()
		}
		if !errors.Is(err, cut) {
			t.Errorf("%q: %v; want the read error", doc, err)
		}
	}
}
