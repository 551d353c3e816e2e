package reply

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/antchfx/xmlquery"
)

// NotSOAPError says a reply is not a SOAP envelope.
type NotSOAPError struct {
	Err error
}

func (e *NotSOAPError) Error() string { return "reply is not a SOAP envelope: " + e.Err.Error() }
func (e *NotSOAPError) Unwrap() error { return e.Err }

// Reply is a whole SOAP reply held in memory, for the XPath queries of a
// dialect (a begin or end reply is small; send streams, see Stream).
type Reply struct {
	Version string // "1.1" or "1.2"
	doc     *xmlquery.Node
}

// Doc is the parsed document, for XPath queries.
func (r *Reply) Doc() *xmlquery.Node { return r.doc }

// Parse reads a SOAP 1.1 or 1.2 envelope.
func Parse(raw []byte) (*Reply, error) {
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	doc, err := xmlquery.Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, &NotSOAPError{err}
	}
	root := doc.SelectElement("*")
	if root == nil {
		return nil, &NotSOAPError{errors.New("no root element")}
	}
	r := &Reply{doc: doc}
	switch {
	case root.Data == "Envelope" && root.NamespaceURI == NSSOAP11:
		r.Version = "1.1"
	case root.Data == "Envelope" && root.NamespaceURI == NSSOAP12:
		r.Version = "1.2"
	default:
		return nil, &NotSOAPError{fmt.Errorf("root element is <%s>", root.Data)}
	}
	return r, nil
}
