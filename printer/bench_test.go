package printer

import (
	"bytes"
	"io"
	"testing"

	"github.com/soapsess/soapsess/internal/testdoc"
	"github.com/soapsess/soapsess/xmltok"
)

const benchSize = 4 << 20

// BenchmarkFormat is Format over a rowset: lexing, checking and printing.
func BenchmarkFormat(b *testing.B) {
	doc := testdoc.Rowset(benchSize)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Format(io.Discard, bytes.NewReader(doc), Options{Pretty: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite is the printer alone, fed tokens lexed beforehand as
// fmt feeds it through reply.Stream (Trusted). allocs/op is per document.
func BenchmarkWrite(b *testing.B) {
	doc := testdoc.Rowset(benchSize)
	toks := lexed(b, doc)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		p := New(io.Discard, Options{Pretty: true, Trusted: true})
		for i := range toks {
			if err := p.Write(&toks[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(toks)), "ns/token")
}

// BenchmarkWriteAsync is the printer fed by xmltok.AsyncLexer, as fmt feeds
// it, whose look-ahead spares it holding elements (Token.ElementOnly):
// lexing runs on the other core.
func BenchmarkWriteAsync(b *testing.B) {
	doc := testdoc.Rowset(benchSize)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var toks int
	for b.Loop() {
		a := xmltok.NewAsyncLexer(bytes.NewReader(doc))
		p := New(io.Discard, Options{Pretty: true, Trusted: true})
		var t xmltok.Token
		for toks = 0; ; toks++ {
			err := a.NextInto(&t)
			if err == io.EOF {
				break
			}
			if err == nil {
				err = p.Write(&t)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		a.Close()
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*toks), "ns/token")
}

func lexed(tb testing.TB, doc []byte) []xmltok.Token {
	var toks []xmltok.Token
	lx := xmltok.NewBytesLexer(doc) // tokens point into doc and stay valid
	for {
		t, err := lx.Next()
		if err == io.EOF {
			return toks
		}
		if err != nil {
			tb.Fatal(err)
		}
		toks = append(toks, t)
	}
}

// Printing allocates per document, never per token: a document four times
// longer costs no more allocations.
func TestNoAllocationPerToken(t *testing.T) {
	small, large := testdoc.Rowset(2<<20), testdoc.Rowset(8<<20)
	count := func(doc []byte) float64 {
		toks := lexed(t, doc)
		return testing.AllocsPerRun(5, func() {
			p := New(io.Discard, Options{Pretty: true, Trusted: true})
			for i := range toks {
				if err := p.Write(&toks[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
	if s, l := count(small), count(large); l > s {
		t.Errorf("%.0f allocations for %d bytes, %.0f for %d", s, len(small), l, len(large))
	}
}
