package printer

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// capped fails a write that would take the output past max bytes, so a
// printer that runs away fails at once instead of filling the memory.
type capped struct {
	bytes.Buffer
	max int
}

var errTooMuch = errors.New("output past its bound")

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > c.max {
		return 0, errTooMuch
	}
	return c.Buffer.Write(p)
}

// nested is n elements <a>, one inside the other, around inner.
func nested(n int, inner string) string {
	return strings.Repeat("<a>", n) + inner + strings.Repeat("</a>", n)
}

// A document of any depth prints in size linear in its own: each token
// gets at most a newline and maxIndent bytes of indentation. 100,000
// levels (700 KB) printed 20 GB when every level indented 2 more spaces.
func TestDeepDocumentPrintsInBoundedSize(t *testing.T) {
	const n = 100_000
	in := nested(n, "<b>x</b>")
	tokens := 2*n + 3
	out := &capped{max: len(in) + tokens*(1+maxIndent) + 1}
	if err := Format(out, strings.NewReader(in), Options{Pretty: true}); err != nil {
		t.Fatalf("Format: %v (bound %d bytes for %d bytes in)", err, out.max, len(in))
	}
	sameContent(t, "deep", in, out.String())
	deepest := strings.Repeat(" ", maxIndent) + "<b>x</b>\n"
	if !strings.Contains(out.String(), "\n"+deepest) {
		t.Errorf("the innermost element is not indented %d spaces", maxIndent)
	}
	if again := format(t, out.String(), Options{Pretty: true}); again != out.String() {
		t.Errorf("formatting the deep output again changes it")
	}
}

// Indentation grows a level at a time up to maxIndent bytes, then stays
// there, on the way in and on the way out; with a wider Indent, fewer
// levels fit.
func TestIndentStopsGrowingAtTheCap(t *testing.T) {
	for _, indent := range []string{"  ", "\t", "    ", "       "} {
		levels := maxIndent / len(indent)
		depth := levels + 5
		var want strings.Builder
		pad := func(level int) string { return strings.Repeat(indent, min(level, levels)) }
		for i := 0; i < depth; i++ {
			want.WriteString(pad(i) + "<a>\n")
		}
		want.WriteString(pad(depth) + "<b>x</b>\n" + pad(depth) + "<c/>\n")
		for i := depth - 1; i >= 0; i-- {
			want.WriteString(pad(i) + "</a>\n")
		}
		got := format(t, nested(depth, "<b>x</b><c/>"), Options{Pretty: true, Indent: indent})
		if got != want.String() {
			t.Errorf("indent %q: got\n%s\nwant\n%s", indent, got, want.String())
		}
	}
}

// The output is xmllint --format's at every depth it parses (up to 255
// levels without --huge), past the cap as below it.
func TestSameAsXmllintAtAnyDepth(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint is not installed (Debian: libxml2-utils)")
	}
	for _, depth := range []int{1, 29, 30, 31, 32, 64, 128, 254} {
		for _, inner := range []string{"<b>x</b><c/>", "<b/>", "<p>mixed <i>text</i></p><!--c--><?pi x?>"} {
			doc := `<?xml version="1.0"?>` + "\n" + nested(depth, inner) + "\n"
			f, err := os.CreateTemp(t.TempDir(), "deep-*.xml")
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(doc)
			f.Close()
			theirs, err := exec.Command(xmllint, "--format", f.Name()).Output()
			if err != nil {
				t.Fatalf("xmllint --format: %v", err)
			}
			if ours := format(t, doc, Options{Pretty: true}); ours != string(theirs) {
				t.Errorf("depth %d, %s: differs from xmllint --format:\nours:\n%s\nxmllint:\n%s", depth, inner, ours, theirs)
			}
		}
	}
}
