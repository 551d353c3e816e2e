package printer

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/soapsess/soapsess/xmltok"
)

// rowset is a compact XMLA rowset reply of about n bytes, as bench/gen.go
// makes for the fmt benchmark (xmltok's benchmarks use the same).
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

const benchSize = 4 << 20

// BenchmarkFormat is Format over a rowset: lexing, checking and printing.
func BenchmarkFormat(b *testing.B) {
	doc := rowset(benchSize)
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
	doc := rowset(benchSize)
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
	doc := rowset(benchSize)
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
	small, large := rowset(2<<20), rowset(8<<20)
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
