package printer

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// FuzzFormat: the printer never panics, never drops content from a
// well-formed document, without Pretty gives back the input exactly, and
// prints a document as fmt does the same with the async lexer's look-ahead
// as without, whatever is wrong with it.
func FuzzFormat(f *testing.F) {
	files, _ := filepath.Glob("../testdata/corpus/*/*.xml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`<p>mixed <b>x</b> text<![CDATA[<]]></p>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameWithLookAhead(t, "fuzz", doc)
		var coloured, pretty, raw bytes.Buffer
		cerr := Format(&coloured, bytes.NewReader(doc), Options{Pretty: true, Palette: &Palette{Tag: Style{"\x1b[34m", "\x1b[0m"}}})
		if err := Format(&raw, bytes.NewReader(doc), Options{}); err == nil && !bytes.Equal(raw.Bytes(), doc) {
			t.Fatalf("raw output differs from the input")
		}
		if !wellFormed(doc) {
			return
		}
		if cerr != nil {
			t.Fatalf("well-formed input refused with colour: %v", cerr)
		}
		if err := Format(&pretty, bytes.NewReader(doc), Options{Pretty: true}); err != nil {
			t.Fatalf("well-formed input refused: %v", err)
		}
		sameContent(t, "fuzz", string(doc), pretty.String())
	})
}

// gluedAttrs finds attributes with no white space between them
// (a="1"b="2"), which encoding/xml lets through and XML does not.
var gluedAttrs = regexp.MustCompile(`["'][^\s/>"'=]`)

// wellFormed asks encoding/xml, strictly, whether doc is one well-formed
// document, and refuses what it is too lenient about.
func wellFormed(doc []byte) bool {
	for _, tag := range regexp.MustCompile(`<[^!?/][^>]*>`).FindAll(doc, -1) {
		if gluedAttrs.Match(tag) {
			return false
		}
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	roots, depth := 0, 0
	for {
		tk, err := d.Token()
		if err == io.EOF {
			return roots == 1 && depth == 0
		}
		if err != nil {
			return false
		}
		switch tk := tk.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			// Namespaces in XML, which encoding/xml does not check: no
			// name with an empty prefix or local part (xmlns:="", <a:>),
			// which it keeps whole as a local name with a colon in it.
			names := []xml.Name{tk.Name}
			for _, a := range tk.Attr {
				names = append(names, a.Name)
			}
			for _, n := range names {
				if n.Local == "" || strings.Contains(n.Local, ":") {
					return false
				}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && strings.TrimSpace(string(tk)) != "" {
				return false
			}
		case xml.Directive:
			return false // DTDs: entity definitions are beyond a formatter
		}
	}
}
