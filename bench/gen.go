package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

// The reply is an MDSCHEMA_MEMBERS-style DISCOVER rowset, compact as servers
// send it: one line, no indentation.
const (
	replyHead = `<?xml version="1.0" encoding="utf-8"?>` +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soap:Header><Session xmlns="urn:schemas-microsoft-com:xml-analysis" SessionId="5E302251-889C-09D5-B29C-7A8B66D65D74"/></soap:Header>` +
		`<soap:Body><DiscoverResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return>` +
		`<root xmlns="urn:schemas-microsoft-com:xml-analysis:rowset" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		`<xsd:schema targetNamespace="urn:schemas-microsoft-com:xml-analysis:rowset" xmlns:sql="urn:schemas-microsoft-com:xml-sql" elementFormDefault="qualified">` +
		`<xsd:element name="root"><xsd:complexType><xsd:sequence minOccurs="0" maxOccurs="unbounded"><xsd:element name="row" type="row"/></xsd:sequence></xsd:complexType></xsd:element>` +
		`<xsd:simpleType name="uuid"><xsd:restriction base="xsd:string"><xsd:pattern value="[0-9a-zA-Z]{8}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{4}-[0-9a-zA-Z]{12}"/></xsd:restriction></xsd:simpleType>` +
		`<xsd:complexType name="row"><xsd:sequence>` +
		`<xsd:element sql:field="CATALOG_NAME" name="CATALOG_NAME" type="xsd:string" minOccurs="0"/>` +
		`<xsd:element sql:field="CUBE_NAME" name="CUBE_NAME" type="xsd:string"/>` +
		`<xsd:element sql:field="MEMBER_UNIQUE_NAME" name="MEMBER_UNIQUE_NAME" type="xsd:string" minOccurs="0"/>` +
		`<xsd:element sql:field="MEMBER_CAPTION" name="MEMBER_CAPTION" type="xsd:string" minOccurs="0"/>` +
		`<xsd:element sql:field="MEMBER_ORDINAL" name="MEMBER_ORDINAL" type="xsd:unsignedInt"/>` +
		`<xsd:element sql:field="MEMBER_VALUE" name="MEMBER_VALUE" minOccurs="0"/>` +
		`</xsd:sequence></xsd:complexType></xsd:schema>`
	replyTail = `</root></return></DiscoverResponse></soap:Body></soap:Envelope>`
)

var (
	catalogs = []string{"Adventure Works DW", "Sales &amp; Marketing", "Finance", "R&amp;D Projects"}
	cubes    = []string{"Adventure Works", "Sales", "Budget &amp; Forecast", "Inventory"}
	cities   = []string{"München", "São Paulo", "Zürich", "Kraków", "Malmö", "Reykjavík", "Seattle",
		"Paris", "東京", "Αθήνα", "Москва", "Bordeaux", "Köln", "İstanbul", "Łódź", "Québec"}
	customers = []string{"Ada", "Björn", "Chloé", "Dmitri", "Émile", "Fatma", "Günther", "Håkon",
		"Inés", "José", "Kai", "Léa", "Mateo", "Noémie", "Oğuz", "Paweł"}
)

// generate writes a reply of exactly size bytes to path (fixed seed, so the
// same size always gives the same file) and returns its size.
func generate(path string, size int64) (int64, error) {
	const slack = 1024 // room left for the last row, which is padded to fit
	if size < int64(len(replyHead)+len(replyTail))+2*slack {
		return 0, fmt.Errorf("-size: too small")
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rnd := rand.New(rand.NewPCG(1, 2))
	var row bytes.Buffer
	written := int64(len(replyHead))
	w.WriteString(replyHead)
	for ordinal := 0; ; ordinal++ {
		row.Reset()
		writeRow(&row, rnd, ordinal, "")
		if written+int64(row.Len()+len(replyTail)+slack) > size {
			// Last row: pad its caption so that the file is exactly size
			// bytes. Same seed twice, so both calls draw the same row.
			last := func() *rand.Rand { return rand.New(rand.NewPCG(uint64(ordinal), 3)) }
			row.Reset()
			writeRow(&row, last(), ordinal, "")
			pad := int(size - written - int64(row.Len()+len(replyTail)))
			row.Reset()
			writeRow(&row, last(), ordinal, strings.Repeat("-", pad))
			w.Write(row.Bytes())
			written += int64(row.Len())
			break
		}
		w.Write(row.Bytes())
		written += int64(row.Len())
	}
	w.WriteString(replyTail)
	written += int64(len(replyTail))
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if written != size {
		return 0, fmt.Errorf("generated %d bytes, want %d", written, size)
	}
	return written, nil
}

// writeRow writes one <row> of six columns, pad appended to the caption.
func writeRow(b *bytes.Buffer, rnd *rand.Rand, ordinal int, pad string) {
	city := cities[rnd.IntN(len(cities))]
	cust := customers[rnd.IntN(len(customers))]
	key := rnd.IntN(100000)
	fmt.Fprintf(b, "<row><CATALOG_NAME>%s</CATALOG_NAME><CUBE_NAME>%s</CUBE_NAME>",
		catalogs[rnd.IntN(len(catalogs))], cubes[rnd.IntN(len(cubes))])
	fmt.Fprintf(b, "<MEMBER_UNIQUE_NAME>[Customer].[Customer Geography].[City].&amp;[%d]&amp;[%s]</MEMBER_UNIQUE_NAME>", key, city)
	fmt.Fprintf(b, "<MEMBER_CAPTION>%s, %s (#%d)%s</MEMBER_CAPTION>", cust, city, key, pad)
	fmt.Fprintf(b, "<MEMBER_ORDINAL>%d</MEMBER_ORDINAL>", ordinal)
	switch rnd.IntN(3) {
	case 0:
		fmt.Fprintf(b, `<MEMBER_VALUE xsi:type="xsd:double">%.4f</MEMBER_VALUE>`, rnd.Float64()*1e6)
	case 1:
		fmt.Fprintf(b, `<MEMBER_VALUE xsi:type="xsd:int">%d</MEMBER_VALUE>`, rnd.Int64N(1<<31))
	default:
		fmt.Fprintf(b, `<MEMBER_VALUE xsi:type="xsd:string">%s &amp; %s</MEMBER_VALUE>`, cust, city)
	}
	b.WriteString("</row>")
}
