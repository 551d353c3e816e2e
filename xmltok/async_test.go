package xmltok

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/soapsess/soapsess/internal/testdoc"
)

// lexed is a token as a test compares it; adjacent text tokens are merged,
// as lexers with different buffers cut long text in different places.
type lexed struct {
	kind       Kind
	raw, name  string
	line       int
	errMessage string
}

func lexWith(t *testing.T, lx tokenizer) []lexed {
	t.Helper()
	var out []lexed
	for {
		tk, err := lx.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			return append(out, lexed{errMessage: err.Error()})
		}
		if n := len(out); n > 0 && tk.Kind == Text && out[n-1].kind == Text && out[n-1].errMessage == "" {
			out[n-1].raw += string(tk.Raw)
			continue
		}
		out = append(out, lexed{kind: tk.Kind, raw: string(tk.Raw), name: string(tk.Name), line: tk.Line})
	}
}

// AsyncLexer gives the same tokens as Lexer, names and lines included, and
// the same error, whatever the reads, around tokens longer than a batch
// (which the lexer grows its buffer for) and tokens cut by a batch's end.
func TestAsyncLexerTokensAreLexers(t *testing.T) {
	long := strings.Repeat("x\u00e9\n", batchSize/2)
	rows := string(testdoc.Rowset(3 * batchSize))
	cut := len(rows) / 2
	cut += strings.IndexByte(rows[cut:], '<') // a tag boundary
	docs := map[string]string{
		"rowset":    rows,
		"CDATA":     rows[:cut] + "<![CDATA[" + long + "]]>" + rows[cut:],
		"comment":   rows[:cut] + "<!--" + long + "-->" + rows[cut:],
		"attribute": rows[:cut] + `<a b="` + long + `" c='>'/>` + rows[cut:],
		"text":      rows[:cut] + long + long + rows[cut:],
		"PI":        rows[:cut] + "<?pi " + long + "?>" + rows[cut:],
		"cut short": rows[:cut] + "<![CDATA[" + long,
		"bad tag":   rows[:cut] + "<a b=1>" + rows[cut:],
	}
	for name, doc := range docs {
		want := lexWith(t, NewLexer(strings.NewReader(doc)))
		if got := lexWith(t, &into{lx: NewLexer(strings.NewReader(doc))}); !slices.Equal(got, want) {
			t.Errorf("%s: Lexer.NextInto gives other tokens than Next", name)
		}
		for how, r := range map[string]io.Reader{
			"whole": strings.NewReader(doc), "halves": iotest.HalfReader(strings.NewReader(doc)),
			"NextInto": strings.NewReader(doc),
		} {
			a := NewAsyncLexer(r)
			var got []lexed
			if how == "NextInto" {
				got = lexWith(t, &into{lx: a})
			} else {
				got = lexWith(t, a)
			}
			a.Close()
			if len(got) != len(want) {
				t.Errorf("%s, %s: %d tokens, want %d", name, how, len(got), len(want))
				continue
			}
			for i := range want {
				if got[i] != want[i] {
					g, w := got[i], want[i]
					g.raw, w.raw = abbrev(g.raw), abbrev(w.raw)
					t.Errorf("%s, %s: token %d is %+v, want %+v", name, how, i, g, w)
					break
				}
			}
		}
	}
}

// into reads tokens with NextInto, into a Token it keeps, as
// reply.Stream's reader may.
type into struct {
	lx interface{ NextInto(*Token) error }
	t  Token
}

func (i *into) Next() (Token, error) {
	err := i.lx.NextInto(&i.t)
	return i.t, err
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:20] + "..." + s[len(s)-20:]
	}
	return s
}

// endless is a document that never ends: a root, then rows for ever.
type endless struct{ row []byte }

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], e.row)
	}
	return n, nil
}

// A reader that stops early and closes the lexer lets its goroutine end,
// even while the input goes on.
func TestAsyncLexerEndsAfterClose(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		a := NewAsyncLexer(io.MultiReader(strings.NewReader("<r>"), &endless{row: bytes.Repeat([]byte("<row><v>1</v></row>"), 100)}))
		for range 1000 {
			if _, err := a.Next(); err != nil {
				t.Fatal(err)
			}
		}
		a.Close()
	}
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after Close, %d before", runtime.NumGoroutine(), before)
		}
	}
}

// AsyncLexer refuses a token longer than MaxToken as Lexer does, at the
// same length, also after another long token, which leaves it a grown
// buffer to cut the next one from.
func TestAsyncLexerMaxTokenIsLexers(t *testing.T) {
	const max = 1 << 20
	defer func(m int) { asyncMaxToken = m }(asyncMaxToken)
	asyncMaxToken = max
	rows := string(testdoc.Rowset(300 << 10))
	for _, n := range []int{max - 1, max, max + 1, max + 5000, 3 * max / 2} {
		for _, at := range []int{0, 70000, 262143} {
			at += strings.IndexByte(rows[at:], '<')
			comment := func(n int) string { return "<!--" + strings.Repeat("y", n-7) + "-->" }
			doc := rows[:at] + comment(600000) + comment(n) + rows[at:]
			lx := NewLexer(strings.NewReader(doc))
			lx.MaxToken = max
			want := lexWith(t, lx)
			a := NewAsyncLexer(iotest.HalfReader(strings.NewReader(doc)))
			got := lexWith(t, a)
			a.Close()
			if !slices.Equal(got, want) {
				g, w := got[len(got)-1], want[len(want)-1]
				t.Errorf("a %d-byte comment at %d: %d tokens, the last %q %q; want %d, %q %q", n, at, len(got), abbrev(g.raw), g.errMessage, len(want), abbrev(w.raw), w.errMessage)
			}
		}
	}
}

// AsyncLexer says which elements within a batch hold only elements,
// comments, PIs and white space: not one with text, CDATA or nothing but
// white space, nor one whose end tag names another element; Lexer says it
// of none.
func TestElementOnly(t *testing.T) {
	doc := `<r><a><b/></a><c>t</c><d> </d><e> <!--x--> </e><f><g/>t</f><h><![CDATA[]]><i/></h><j><?p?></j><k></k>` +
		`<m><n><o/></n></x></m></r>`
	want := "r=false a=true c=false d=false e=true f=false h=false j=true k=false m=false n=true"
	for name, lx := range map[string]tokenizer{"Lexer": NewLexer(strings.NewReader(doc)), "AsyncLexer": NewAsyncLexer(strings.NewReader(doc))} {
		var got []string
		for {
			tk, err := lx.Next()
			if err != nil {
				break
			}
			if tk.Kind == StartTag {
				got = append(got, fmt.Sprintf("%s=%v", tk.Name, tk.ElementOnly))
			}
		}
		if name == "Lexer" {
			if s := strings.Join(got, " "); strings.Contains(s, "true") {
				t.Errorf("Lexer: %s", s)
			}
		} else if s := strings.Join(got, " "); s != want {
			t.Errorf("AsyncLexer:\n got %s\nwant %s", s, want)
		}
	}
}
