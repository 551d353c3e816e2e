package envelope

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"

	"github.com/soapsess/soapsess/reply"
)

// SessionInfo is what a reply says about the session.
type SessionInfo struct {
	ID      string
	IDName  string // local name of the attribute or element holding the ID
	Timeout int    // seconds granted, when the dialect and reply tell
}

// ErrNoSessionID is returned when a reply carries no session ID.
var ErrNoSessionID = errors.New("the reply carries no session ID")

// Session finds the session ID (and granted timeout) in a reply.
func (d *Dialect) Session(r *reply.Reply) (SessionInfo, error) {
	var info SessionInfo
	for _, n := range xmlquery.QuerySelectorAll(r.Doc(), d.compile(d.manifest.Session.ID)) {
		if id := n.InnerText(); strings.TrimSpace(id) != "" {
			info.ID, info.IDName = id, n.Data
			break
		}
	}
	if info.ID == "" {
		return info, ErrNoSessionID
	}
	if expr := d.manifest.Session.Timeout; expr != "" {
		if n := xmlquery.QuerySelector(r.Doc(), d.compile(expr)); n != nil {
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
func (d *Dialect) EndConfirmed(r *reply.Reply) bool {
	expr := d.manifest.Session.EndConfirm
	if expr == "" {
		return true
	}
	return truthy(d.compile(expr).Evaluate(xmlquery.CreateXPathNavigator(r.Doc())))
}

// Rejected reports whether what a fault says means the server no longer
// knows the session (unknown, expired or refused).
func (d *Dialect) Rejected(p reply.Problem) bool {
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
