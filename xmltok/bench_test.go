package xmltok

import (
	"bytes"
	"io"
	"testing"

	"github.com/soapsess/soapsess/internal/testdoc"
)

// tokenizer is Lexer or AsyncLexer.
type tokenizer interface {
	Next() (Token, error)
}

// drain reads every token, returning how many.
func drain(tb testing.TB, lx tokenizer) int {
	n := 0
	for {
		_, err := lx.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			tb.Fatal(err)
		}
		n++
	}
}

// The benchmarks lex a 4 MiB rowset (about 200,000 tokens) per op, read
// through an io.Reader as a file is; allocs/op is what lexing a whole
// document costs, whatever its number of tokens (see TestNoAllocationPerToken).
const benchSize = 4 << 20

func BenchmarkLexer(b *testing.B) {
	doc := testdoc.Rowset(benchSize)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var toks int
	for b.Loop() {
		toks = drain(b, NewLexer(bytes.NewReader(doc)))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*toks), "ns/token")
}

func BenchmarkAsyncLexer(b *testing.B) {
	doc := testdoc.Rowset(benchSize)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var toks int
	for b.Loop() {
		a := NewAsyncLexer(bytes.NewReader(doc))
		toks = drain(b, a)
		a.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*toks), "ns/token")
}

// BenchmarkScope is the namespace and nesting bookkeeping reply.Stream does
// for every tag.
func BenchmarkScope(b *testing.B) {
	doc := testdoc.Rowset(benchSize)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		var s Scope
		lx := NewBytesLexer(doc)
		for {
			t, err := lx.Next()
			if err == io.EOF {
				break
			}
			switch {
			case err != nil:
			case t.Kind == StartTag:
				err = s.Push(&t)
			case t.Kind == EmptyTag:
				if err = s.Push(&t); err == nil {
					err = s.Pop(&t)
				}
			case t.Kind == EndTag:
				err = s.Pop(&t)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

// Lexing allocates per document (buffers), never per token: a document four
// times longer costs no more allocations.
func TestNoAllocationPerToken(t *testing.T) {
	small, large := testdoc.Rowset(2<<20), testdoc.Rowset(8<<20)
	for _, c := range []struct {
		name string
		lex  func([]byte) tokenizer
		// allocations that may come late: a batch (buffer and records) is
		// made when none is free, which depends on how fast the reader is
		slack float64
	}{
		{"Lexer", func(d []byte) tokenizer { return NewLexer(bytes.NewReader(d)) }, 0},
		{"AsyncLexer", func(d []byte) tokenizer { return NewAsyncLexer(bytes.NewReader(d)) }, 3 * (inFlight + 2)},
	} {
		name, lex := c.name, c.lex
		count := func(doc []byte) float64 {
			return testing.AllocsPerRun(5, func() {
				lx := lex(doc)
				drain(t, lx)
				if a, ok := lx.(*AsyncLexer); ok {
					a.Close()
				}
			})
		}
		if s, l := count(small), count(large); l > s+c.slack {
			t.Errorf("%s: %.0f allocations for %d bytes, %.0f for %d", name, s, len(small), l, len(large))
		}
	}
}
