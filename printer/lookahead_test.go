package printer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/internal/testdoc"
	"github.com/soapsess/soapsess/reply"
)

// fmtLike prints doc as soapsess fmt does: reply.Stream, watching for the
// built-in dialects' errors, into a trusted printer that is closed whatever
// happened; it returns the output and the error's message.
func fmtLike(doc []byte, async bool, pal *Palette) (string, string) {
	var out bytes.Buffer
	p := New(&out, Options{Pretty: true, Palette: pal, Trusted: true})
	_, err := reply.Stream(bytes.NewReader(doc), reply.StreamOptions{Async: async, Errors: envelope.BuiltinErrors(), Document: p})
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return out.String(), err.Error()
	}
	return out.String(), ""
}

// sameWithLookAhead fails when printing doc from the async lexer, whose
// start tags may say their content is element-only
// (xmltok.Token.ElementOnly), differs in a byte or in the error from
// printing it from the plain lexer, which never says so.
func sameWithLookAhead(t *testing.T, name string, doc []byte) {
	t.Helper()
	for _, pal := range []*Palette{nil, {Tag: Style{"<", ">"}, Text: Style{"[", "]"}}} {
		want, wantErr := fmtLike(doc, false, pal)
		got, gotErr := fmtLike(doc, true, pal)
		if got != want || gotErr != wantErr {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s (colour %v): with look-ahead the output differs at byte %d of %d (%q, want %q), error %q (want %q)",
				name, pal != nil, i, len(want), got[i:min(len(got), i+40)], want[i:min(len(want), i+40)], gotErr, wantErr)
			return
		}
	}
}

// Elements known to be element-only before their content comes are printed
// as they were when that was learnt at their end: the same bytes, and the
// same error and output so far for a document that stops or goes wrong
// anywhere, as fmt prints it.
func TestLookAheadChangesNothing(t *testing.T) {
	small := testdoc.Rowset(100 << 10) // within a batch: the root too is known element-only at its start
	rows := testdoc.Rowset(300 << 10)  // more than a batch
	big := testdoc.Rowset(1300 << 10)  // held past arenaLimit
	var pretty bytes.Buffer
	if err := Format(&pretty, bytes.NewReader(small), Options{Pretty: true}); err != nil {
		t.Fatal(err)
	}
	var mixed bytes.Buffer
	mixed.WriteString(`<?xml version="1.0"?><!-- c --><r xmlns:x="u">`)
	for i := 0; mixed.Len() < 100<<10; i++ {
		mixed.WriteString(`<p>text <b>bold</b> more</p><q> <x:e/> </q><s xml:space="preserve"> <t> <u/> </t></s>` +
			`<v><w><![CDATA[<c>]]></w><w2><?pi x?></w2></v><e></e><f>  </f><g><h><i/></h>tail</g>`)
		mixed.WriteString(strings.Repeat("<d>", i%40) + "<z/>" + strings.Repeat("</d>", i%40))
	}
	mixed.WriteString(`</r>`)
	docs := map[string][]byte{"small rowset": small, "rowset": rows, "big rowset": big, "pretty rowset": pretty.Bytes(), "mixed": mixed.Bytes()}
	files, _ := filepath.Glob("../testdata/corpus/*/*.xml")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			docs[filepath.Base(f)] = b
		}
	}
	for name, doc := range docs {
		sameWithLookAhead(t, name, doc)
	}
	// Cut short, and gone wrong, at places spread over the documents: inside
	// elements the look-ahead has read through, and not.
	bads := []string{"</oops>", "<a b=1>", "<a b=1/>", "<a b=1></a>", "text", "<a></b>", "<![CDATA[x]]>"}
	for _, name := range []string{"small rowset", "pretty rowset", "mixed", "rowset", "big rowset"} {
		doc, from, parts := docs[name], 0, 7
		if name == "big rowset" {
			from, parts, bads = 1100<<10, 2, bads[2:4] // past arenaLimit, where the root is printed
		}
		for k := 1; k < parts; k++ {
			at := from + (len(doc)-from)*k/parts
			sameWithLookAhead(t, name+" cut", doc[:at])
			at += bytes.IndexByte(doc[at:], '<')
			for _, bad := range bads {
				broken := append(append(append([]byte{}, doc[:at]...), bad...), doc[at:]...)
				sameWithLookAhead(t, name+" with "+bad, broken)
			}
		}
	}
}
