package printer

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func format(t testing.TB, src string, opt Options) string {
	t.Helper()
	var out bytes.Buffer
	if err := Format(&out, strings.NewReader(src), opt); err != nil {
		t.Fatalf("Format: %v\n%s", err, src)
	}
	return out.String()
}

// item is one thing an independent parser (encoding/xml's raw tokenizer)
// sees in a document: what formatting must not change.
type item struct{ kind, name, value string }

// content lists elements with their prefixes and attributes, non-blank text
// (white space at its ends trimmed), comments, PIs and declarations.
func content(t testing.TB, doc string) []item {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = false // entity references are checked by their bytes, not expanded
	var out []item
	var text strings.Builder
	flush := func() {
		if s := strings.TrimSpace(text.String()); s != "" {
			out = append(out, item{"text", "", s})
		}
		text.Reset()
	}
	name := func(n xml.Name) string {
		if n.Space != "" {
			return n.Space + ":" + n.Local
		}
		return n.Local
	}
	for {
		tk, err := d.RawToken()
		if err == io.EOF {
			flush()
			return out
		}
		if err != nil {
			t.Fatalf("does not re-parse: %v\n%s", err, doc)
		}
		switch tk := tk.(type) {
		case xml.StartElement:
			flush()
			var attrs []string
			for _, a := range tk.Attr {
				attrs = append(attrs, name(a.Name)+"="+a.Value)
			}
			out = append(out, item{"start", name(tk.Name), strings.Join(attrs, " ")})
		case xml.EndElement:
			flush()
			out = append(out, item{"end", name(tk.Name), ""})
		case xml.CharData:
			text.Write(tk)
		case xml.Comment:
			flush()
			out = append(out, item{"comment", "", string(tk)})
		case xml.ProcInst:
			flush()
			out = append(out, item{"pi", tk.Target, string(tk.Inst)})
		case xml.Directive:
			flush()
			out = append(out, item{"directive", "", string(tk)})
		}
	}
}

func sameContent(t *testing.T, name, in, out string) {
	t.Helper()
	a, b := content(t, in), content(t, out)
	if len(a) != len(b) {
		t.Errorf("%s: %d items in, %d out", name, len(a), len(b))
		return
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("%s: item %d changed: %q became %q", name, i, a[i], b[i])
			return
		}
	}
}

// Every corpus file formats to the same elements, prefixes, attributes and
// non-blank text; formatting again changes nothing; and without Pretty the
// bytes come back exactly.
func TestCorpusRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../testdata/corpus/*/*.xml")
	if len(files) < 40 {
		t.Fatalf("only %d corpus files", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pretty := format(t, string(raw), Options{Pretty: true})
		sameContent(t, f, string(raw), pretty)
		if again := format(t, pretty, Options{Pretty: true}); again != pretty {
			t.Errorf("%s: formatting twice changes the output", f)
		}
		if same := format(t, string(raw), Options{}); same != string(raw) {
			t.Errorf("%s: without Pretty the bytes changed", f)
		}
	}
}

func TestIndentsOnlyElementContent(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"element only", `<a><b><c>1</c><d/></b></a>`, "<a>\n  <b>\n    <c>1</c>\n    <d/>\n  </b>\n</a>\n"},
		{"already indented", "<a>\n\t<b/>\n\t\t<c/>\n</a>", "<a>\n  <b/>\n  <c/>\n</a>\n"},
		{"text only", `<a> two  spaces </a>`, "<a> two  spaces </a>\n"},
		{"white space only", `<a>   </a>`, "<a>   </a>\n"},
		{"empty", `<a></a>`, "<a></a>\n"},
		{"mixed, text late", `<p><b>bold</b> and <i>it</i></p>`, "<p><b>bold</b> and <i>it</i></p>\n"},
		{"mixed inside", `<r><p>x <t><u/><v/></t></p><q/></r>`, "<r>\n  <p>x <t><u/><v/></t></p>\n  <q/>\n</r>\n"},
		{"preserve", `<r><pre xml:space="preserve"><a> <b/></a></pre><s><t/></s></r>`, "<r>\n  <pre xml:space=\"preserve\"><a> <b/></a></pre>\n  <s>\n    <t/>\n  </s>\n</r>\n"},
		{"cdata is text", `<r><![CDATA[x]]><a/></r>`, "<r><![CDATA[x]]><a/></r>\n"},
		{"comments and PIs", `<?xml version="1.0"?><!--c--><r><!--in--><?p x?><a/></r>`, "<?xml version=\"1.0\"?>\n<!--c-->\n<r>\n  <!--in-->\n  <?p x?>\n  <a/>\n</r>\n"},
		{"entities and quotes", `<r><a q='&apos;"' e="&#x41;">&lt;&amp;</a></r>`, "<r>\n  <a q='&apos;\"' e=\"&#x41;\">&lt;&amp;</a>\n</r>\n"},
	}
	for _, tt := range tests {
		if got := format(t, tt.in, Options{Pretty: true}); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// A root with a great many children is assumed element-only once the held
// bytes pass the limit; memory stays bounded and the content intact.
func TestHeldBytesAreBounded(t *testing.T) {
	var in strings.Builder
	in.WriteString("<root>")
	for in.Len() < 3*arenaLimit {
		in.WriteString("<row><v>1</v><w>two</w></row>")
	}
	in.WriteString("</root>")
	var out bytes.Buffer
	p := New(&out, Options{Pretty: true})
	if err := feed(p, in.String(), func() {
		if len(p.arena) > arenaLimit+64 {
			t.Fatalf("%d bytes held", len(p.arena))
		}
	}); err != nil {
		t.Fatal(err)
	}
	sameContent(t, "big", in.String(), out.String())
	if !strings.HasPrefix(out.String(), "<root>\n  <row>\n    <v>1</v>") {
		t.Errorf("not indented: %.60q", out.String())
	}
}

func TestColour(t *testing.T) {
	pal := &Palette{
		Tag: Style{"[T]", "[/]"}, Attr: Style{"[A]", "[/]"}, Value: Style{"[V]", "[/]"},
		Text: Style{"[X]", "[/]"}, Comment: Style{"[C]", "[/]"}, Header: Style{"[H]", "[/]"}, Fault: Style{"[F]", "[/]"},
	}
	in := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><Session SessionId="1"/></s:Header><s:Body><s:Fault><faultcode>s:Client</faultcode></s:Fault><!--n--></s:Body></s:Envelope>`
	got := format(t, in, Options{Pretty: true, Palette: pal})
	for _, want := range []string{
		`[T]<[/][T]s:Envelope[/] [A]xmlns:s[/]=[V]"http://schemas.xmlsoap.org/soap/envelope/"[/][T]>[/]`,
		`[T]<[/][H]Session[/] [A]SessionId[/]=[V]"1"[/][T]/>[/]`, // a session header stands out
		`[T]<[/][F]s:Fault[/][T]>[/]`, `[T]</[/][F]s:Fault[/][T]>[/]`, // so does a fault
		`[X]s:Client[/]`, `[C]<!--n-->[/]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("coloured output lacks %s:\n%s", want, got)
		}
	}
	// A Header printed on its own still shows its entries as session headers.
	alone := format(t, `<s:Header xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><o:sqlSession xmlns:o="urn:o" sessionId="1"/></s:Header>`, Options{Pretty: true, Palette: pal})
	if !strings.Contains(alone, `[H]o:sqlSession[/]`) {
		t.Errorf("a lone Header's entry is not highlighted:\n%s", alone)
	}
	strip := strings.NewReplacer("[T]", "", "[A]", "", "[V]", "", "[X]", "", "[C]", "", "[H]", "", "[F]", "", "[/]", "")
	if plain := format(t, in, Options{Pretty: true}); strip.Replace(got) != plain {
		t.Errorf("colour changed more than colour:\n%s\n%s", strip.Replace(got), plain)
	}
}

func feed(p *Printer, doc string, after func()) error {
	return p.format(strings.NewReader(doc), after)
}
