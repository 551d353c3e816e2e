package session

import (
	"bytes"

	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/xmltok"
)

// gate holds a reply's parts back from the sinks while it may be a fault
// rejecting the session (Request.Restart), so that a reply sent again in a
// new session is the only one they see. Once the first element of the
// Body is not a Fault, everything held goes through, and the rest streams.
type gate struct {
	to      Sinks
	held    []heldToken
	size    int
	decided bool // the first Body element has been seen
	open    bool // passing through
}

type heldToken struct {
	body bool
	tok  xmltok.Token
}

// gateLimit bounds what a gate holds: a fault larger than this is let
// through, rejection or not.
const gateLimit = 1 << 20

// sinks are g.to with the header and body held back.
func (g *gate) sinks() Sinks {
	s := g.to
	if s.Header != nil {
		s.Header = gateWriter{g, false}
	}
	if s.Body != nil {
		s.Body = gateWriter{g, true}
	}
	return s
}

// flush lets through what is held.
func (g *gate) flush() error {
	g.open = true
	held := g.held
	g.held = nil
	for i := range held {
		if err := g.writer(held[i].body).Write(&held[i].tok); err != nil {
			return err
		}
	}
	return nil
}

func (g *gate) writer(body bool) reply.TokenWriter {
	if body {
		return g.to.Body
	}
	return g.to.Header
}

type gateWriter struct {
	g    *gate
	body bool
}

func (w gateWriter) Write(t *xmltok.Token) error {
	g := w.g
	if w.body && !g.decided {
		g.decided = true
		if !isFault(t) {
			if err := g.flush(); err != nil {
				return err
			}
		}
	}
	if g.open {
		return g.writer(w.body).Write(t)
	}
	g.held = append(g.held, heldToken{body: w.body, tok: xmltok.Token{
		Kind: t.Kind, Raw: bytes.Clone(t.Raw), Name: bytes.Clone(t.Name), Line: t.Line,
	}})
	if g.size += len(t.Raw); g.size > gateLimit {
		return g.flush()
	}
	return nil
}

// isFault reports a start tag of an element named Fault (SOAP 1.1 and
// 1.2 alike; the Body's elements are the SOAP stack's or the service's).
func isFault(t *xmltok.Token) bool {
	if t.Kind != xmltok.StartTag && t.Kind != xmltok.EmptyTag {
		return false
	}
	name := t.Name
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	return string(name) == "Fault"
}
