package envelope

import (
	"bytes"
	"errors"
	"strings"

	"github.com/antchfx/xmlquery"
)

// A headerShape is what a phase's header element looks like, learnt by
// rendering the dialect's own template: its namespace and name, the
// attributes with fixed values, and the attribute that carries the ID.
type headerShape struct {
	phase  Phase
	ns     string
	local  string
	fixed  map[string]string // local name -> value
	idAttr string            // local name, "" when the phase carries no ID
	idText bool              // the ID is the element's text
}

const sentinelID = "soapsess-sentinel-id"

// shapes renders each phase's header to learn its shape, so recognising a
// request needs nothing beyond the templates.
func (d *Dialect) shapes() ([]headerShape, error) {
	var out []headerShape
	for _, p := range Phases {
		h, err := d.Header(p, Values{ID: sentinelID, IDName: "SessionId", Vars: d.Vars()})
		if err != nil {
			return nil, err
		}
		doc, err := xmlquery.Parse(strings.NewReader(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + d.envelopeNS() + `"><SOAP-ENV:Header>` + string(h) + `</SOAP-ENV:Header></SOAP-ENV:Envelope>`))
		if err != nil {
			return nil, &DialectError{"dialect " + d.Name + ": " + string(p) + ".xml", err}
		}
		el := xmlquery.FindOne(doc, "/*/*/*")
		if el == nil {
			continue
		}
		s := headerShape{phase: p, ns: el.NamespaceURI, local: el.Data, fixed: map[string]string{}, idText: strings.TrimSpace(el.InnerText()) == sentinelID}
		for _, a := range el.Attr {
			switch {
			case a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns"):
			case strings.EqualFold(a.Name.Local, "mustUnderstand"):
			case a.Value == sentinelID:
				s.idAttr = a.Name.Local
			default:
				s.fixed[a.Name.Local] = a.Value
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// ErrNoSessionHeader is returned for a request without this dialect's
// session header.
var ErrNoSessionHeader = errors.New("no session header of this dialect")

// recognize finds this dialect's session header in a request envelope and
// says which phase it belongs to and the session ID it carries ("" for a
// begin).
func (d *Dialect) recognize(request []byte) (Phase, string, error) {
	shapes, err := d.shapes()
	if err != nil {
		return "", "", err
	}
	doc, err := xmlquery.Parse(bytes.NewReader(request))
	if err != nil {
		return "", "", err
	}
	for _, h := range xmlquery.Find(doc, "/*[local-name()='Envelope']/*[local-name()='Header']/*") {
		best, bestFixed := -1, -1
		for i, s := range shapes {
			if h.NamespaceURI != s.ns || h.Data != s.local || !matches(h, s) {
				continue
			}
			if len(s.fixed) > bestFixed {
				best, bestFixed = i, len(s.fixed)
			}
		}
		if best >= 0 {
			s := shapes[best]
			if s.idText {
				return s.phase, strings.TrimSpace(h.InnerText()), nil
			}
			return s.phase, attr(h, s.idAttr), nil
		}
	}
	return "", "", ErrNoSessionHeader
}

func matches(h *xmlquery.Node, s headerShape) bool {
	for k, v := range s.fixed {
		if !strings.EqualFold(strings.TrimSpace(attr(h, k)), v) {
			return false
		}
	}
	if s.idText {
		return strings.TrimSpace(h.InnerText()) != ""
	}
	return s.idAttr == "" || attr(h, s.idAttr) != ""
}

// attr returns an attribute's value by local name, compared without case
// (Virtuoso writes SessionID where others write SessionId).
func attr(n *xmlquery.Node, local string) string {
	if local == "" {
		return ""
	}
	for _, a := range n.Attr {
		if strings.EqualFold(a.Name.Local, local) {
			return a.Value
		}
	}
	return ""
}
