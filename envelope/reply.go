package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
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

// ParseReply reads a SOAP 1.1 or 1.2 envelope.
func ParseReply(raw []byte) (*Reply, error) {
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

// SessionInfo is what a reply says about the session.
type SessionInfo struct {
	ID      string
	IDName  string // local name of the attribute or element holding the ID
	Timeout int    // seconds granted, when the dialect and reply tell
}

// ErrNoSessionID is returned when a reply carries no session ID.
var ErrNoSessionID = errors.New("the reply carries no session ID")

// Session finds the session ID (and granted timeout) in a reply.
func (d *Dialect) Session(r *Reply) (SessionInfo, error) {
	var info SessionInfo
	for _, n := range xmlquery.QuerySelectorAll(r.doc, d.compile(d.manifest.Session.ID)) {
		if id := n.InnerText(); strings.TrimSpace(id) != "" {
			info.ID, info.IDName = id, n.Data
			break
		}
	}
	if info.ID == "" {
		return info, ErrNoSessionID
	}
	if expr := d.manifest.Session.Timeout; expr != "" {
		if n := xmlquery.QuerySelector(r.doc, d.compile(expr)); n != nil {
			t, err := strconv.Atoi(strings.TrimSpace(n.InnerText()))
			if err != nil || t < 0 {
				return info, fmt.Errorf("the reply grants a session timeout that is not a number of seconds: %q", n.InnerText())
			}
			info.Timeout = t
		}
	}
	return info, nil
}

// EndConfirmed reports whether an end reply carries the confirmation the
// dialect asks for; dialects that ask for none are always confirmed.
func (d *Dialect) EndConfirmed(r *Reply) bool {
	expr := d.manifest.Session.EndConfirm
	if expr == "" {
		return true
	}
	return truthy(d.compile(expr).Evaluate(xmlquery.CreateXPathNavigator(r.doc)))
}

// Rejected reports whether what a fault says means the server no longer
// knows the session (unknown, expired or refused).
func (d *Dialect) Rejected(p Problem) bool {
	text := p.Text()
	for _, re := range d.rejected {
		if re.MatchString(text) {
			return true
		}
	}
	return false
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return v != ""
	case *xpath.NodeIterator:
		return v.MoveNext()
	}
	return false
}
