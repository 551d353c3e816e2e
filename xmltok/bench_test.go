package xmltok

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// rowset is a compact XMLA rowset reply of about n bytes, as bench/gen.go
// makes for the fmt benchmark: one line, short tags, short text, entity
// references, non-ASCII text and an attribute on one column in six.
func rowset(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		`<DiscoverResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return>` +
		`<root xmlns="urn:schemas-microsoft-com:xml-analysis:rowset" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`)
	cities := []string{"München", "São Paulo", "東京", "Seattle", "Łódź"}
	for i := 0; b.Len() < n; i++ {
		city := cities[i%len(cities)]
		fmt.Fprintf(&b, "<row><CATALOG_NAME>Sales &amp; Marketing</CATALOG_NAME><CUBE_NAME>Adventure Works</CUBE_NAME>"+
			"<MEMBER_UNIQUE_NAME>[Customer].[City].&amp;[%d]&amp;[%s]</MEMBER_UNIQUE_NAME>"+
			"<MEMBER_CAPTION>Chloé, %s (#%d)</MEMBER_CAPTION><MEMBER_ORDINAL>%d</MEMBER_ORDINAL>"+
			`<MEMBER_VALUE xsi:type="xsd:double">%d.5</MEMBER_VALUE></row>`, i*7919%100000, city, city, i, i, i*31)
	}
	b.WriteString(`</root></return></DiscoverResponse></soap:Body></soap:Envelope>`)
	return b.Bytes()
}

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
	doc := rowset(benchSize)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var toks int
	for b.Loop() {
		toks = drain(b, NewLexer(bytes.NewReader(doc)))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*toks), "ns/token")
}

func BenchmarkAsyncLexer(b *testing.B) {
	doc := rowset(benchSize)
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
	doc := rowset(benchSize)
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
	small, large := rowset(2<<20), rowset(8<<20)
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
