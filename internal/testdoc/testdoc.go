// Package testdoc makes the documents the xmltok and printer benchmarks
// read, so that both measure the same input.
package testdoc

import (
	"bytes"
	"fmt"
)

// Rowset is a compact XMLA rowset reply of about n bytes, as bench/gen.go
// makes for the fmt benchmark: one line, short tags, short text, entity
// references, non-ASCII text and an attribute on one column in six.
func Rowset(n int) []byte {
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
