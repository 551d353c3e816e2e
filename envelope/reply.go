package envelope

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
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

// Reply is a parsed SOAP reply.
type Reply struct {
	Version string // "1.1" or "1.2"
	Fault   *Fault // nil unless the Body holds a Fault
	Raw     []byte
	body    [][]byte // each element of the Body, standing alone
	doc     *xmlquery.Node
}

// ParseReply reads a SOAP 1.1 or 1.2 envelope.
func ParseReply(raw []byte) (*Reply, error) {
	r := &Reply{Raw: raw}
	s := newScanner(raw)
	var (
		inBody bool
		tag    []byte
		tagEnd int64
	)
	for {
		tk, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &NotSOAPError{fmt.Errorf("not well-formed XML: %w", err)}
		}
		switch t := tk.tok.(type) {
		case xml.StartElement:
			ns := uri(t.Name, tk.scope)
			switch {
			case tk.depth == 1:
				switch {
				case t.Name.Local == "Envelope" && ns == NSSOAP11:
					r.Version = "1.1"
				case t.Name.Local == "Envelope" && ns == NSSOAP12:
					r.Version = "1.2"
				default:
					return nil, &NotSOAPError{fmt.Errorf("root element is <%s>", qname(t.Name))}
				}
			case tk.depth == 2:
				inBody = t.Name.Local == "Body" && ns == envNS(r.Version)
			case tk.depth == 3 && inBody:
				tag = withDeclarations(raw[tk.start:tk.end], t, tk.scope)
				tagEnd = tk.end
			}
		case xml.EndElement:
			if tk.depth == 3 && inBody {
				el := append(append([]byte{}, tag...), raw[tagEnd:tk.end]...)
				r.body = append(r.body, el)
			}
		}
	}
	doc, err := xmlquery.Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, &NotSOAPError{err}
	}
	r.doc = doc
	r.Fault = findFault(doc)
	return r, nil
}

func envNS(version string) string {
	if version == "1.2" {
		return NSSOAP12
	}
	return NSSOAP11
}

// WriteBody writes each element of the reply's Body as standalone XML: the
// bytes the server sent, with the namespace declarations of the Envelope and
// Body carried into the element, one element per line.
func (r *Reply) WriteBody(w io.Writer) error {
	for _, el := range r.body {
		if _, err := w.Write(el); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	return nil
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
		if id := strings.TrimSpace(n.InnerText()); id != "" {
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
func (d *Dialect) Rejected(text string) bool {
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
