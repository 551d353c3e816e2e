// Package reply reads what a SOAP server answers: a reply streamed token by
// token in constant memory (Stream), with its Header and Body elements passed
// on standing alone and the faults and in-body errors it reports summed up
// as Problems; or a small reply held whole for XPath queries (Parse).
package reply

import "strings"

// SOAP envelope namespaces.
const (
	NSSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NSSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
	nsXML    = "http://www.w3.org/XML/1998/namespace"
)

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
