package session

import (
	"bytes"

	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/transport"
	"github.com/soapsess/soapsess/xmltok"
)

// gate holds a reply back from the sinks while it may reject the session
// (Request.Restart), so that a reply sent again in a new session is the
// only one they see: its status and headers (Arrived), its header and its
// body, in their order, until the call is over (flush, unless it rejected
// the session) or what is held outgrows gateLimit (then everything goes
// through, and the rest streams).
type gate struct {
	to      Sinks
	arrived *transport.Response
	held    []heldToken
	size    int
	open    bool // passing through
}

type heldToken struct {
	body bool
	tok  xmltok.Token
}

// gateLimit bounds what a gate holds.
const gateLimit = 1 << 20

// sinks are g.to with the reply's head, header and body held back.
func (g *gate) sinks() Sinks {
	s := g.to
	if s.Arrived != nil {
		s.Arrived = func(r *transport.Response) {
			if g.open {
				g.to.Arrived(r)
				return
			}
			g.arrived = r
		}
	}
	if s.Header != nil {
		s.Header = gateWriter{g, false}
	}
	if s.Body != nil {
		s.Body = gateWriter{g, true}
	}
	return s
}

// flush lets through what is held, and all that follows.
func (g *gate) flush() error {
	g.open = true
	if g.arrived != nil {
		g.to.Arrived(g.arrived)
		g.arrived = nil
	}
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
