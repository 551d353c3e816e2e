package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/xmltok"
)

// insert puts the session header of phase p into a body that is a whole
// envelope (a captured request, say). A session header of this dialect
// already in its Header is replaced; everything else, the XML declaration
// included, is kept byte for byte. An envelope without a Header gets one.
func (d *Dialect) insert(p Phase, v Values, b *Body) ([]byte, error) {
	if b.Namespace != d.envelopeNS() {
		return nil, &BodyError{fmt.Errorf("the envelope is SOAP %s and the %s dialect speaks SOAP %s", versionOf(b.Namespace), d.Name, d.SOAPVersion)}
	}
	doc, err := scanEnvelope(b.XML, d)
	if err != nil {
		return nil, &BodyError{err}
	}
	if doc.inner == nil {
		return nil, &BodyError{errors.New("the envelope's Body is empty")}
	}
	if err := d.checkBody(doc.inner); err != nil {
		return nil, err
	}
	header, err := d.Header(p, v)
	if err != nil {
		return nil, err
	}
	// The templates write SOAP-ENV: for the envelope's namespace; the
	// envelope may bind that prefix to nothing, or to something else.
	if header, err = declareSOAPENV(header, d.envelopeNS()); err != nil {
		return nil, err
	}
	src := b.XML
	var out bytes.Buffer
	out.Write(b.Prolog)
	switch {
	case len(doc.old) > 0:
		at := 0
		for i, r := range doc.old {
			out.Write(src[at:r[0]])
			if i == 0 {
				out.Write(header)
			}
			at = r[1]
		}
		out.Write(src[at:])
	case doc.headerEmpty[1] > 0: // <s:Header/>: open it up
		prefix := doc.headerPrefix
		if prefix != "" {
			prefix += ":"
		}
		out.Write(src[:doc.headerEmpty[0]])
		out.WriteString("<" + prefix + "Header>")
		out.Write(header)
		out.WriteString("</" + prefix + "Header>")
		out.Write(src[doc.headerEmpty[1]:])
	case doc.headerOpen > 0:
		out.Write(src[:doc.headerOpen])
		out.Write(header)
		out.Write(src[doc.headerOpen:])
	default:
		prefix := doc.envPrefix
		if prefix != "" {
			prefix += ":"
		}
		out.Write(src[:doc.envOpen])
		out.WriteString("<" + prefix + "Header>")
		out.Write(header)
		out.WriteString("</" + prefix + "Header>")
		out.Write(src[doc.envOpen:])
	}
	if err := wellFormed(out.Bytes()[len(b.Prolog):]); err != nil { // the declaration is not a PI
		return nil, &DialectError{"dialect " + d.Name + ": " + string(p) + ".xml", fmt.Errorf("renders a broken envelope: %w", err)}
	}
	return out.Bytes(), nil
}

// inner is the element inside a whole envelope's Body (nil when the body is
// not an envelope, or its Body is empty): what decides the SOAPAction.
func (d *Dialect) inner(b *Body) (*Body, error) {
	if !b.IsEnvelope() {
		return b, nil
	}
	doc, err := scanEnvelope(b.XML, d)
	if err != nil {
		return nil, &BodyError{err}
	}
	if doc.inner == nil {
		return &Body{}, nil
	}
	return doc.inner, nil
}

func versionOf(ns string) string {
	if ns == reply.NSSOAP12 {
		return "1.2"
	}
	return "1.1"
}

// envelopeDoc is where things are in an envelope's bytes.
type envelopeDoc struct {
	envOpen    int    // just after the Envelope start tag
	envPrefix  string // the Envelope's prefix
	headerOpen int    // just after the Header start tag; 0 when there is none
	// An empty-element <Header/>: where it is, and its prefix.
	headerEmpty  [2]int
	headerPrefix string
	old          [][2]int // this dialect's session headers in the Header
	inner        *Body    // the Body's first element, standing alone
}

func scanEnvelope(src []byte, d *Dialect) (*envelopeDoc, error) {
	shapes, err := d.shapes()
	if err != nil {
		return nil, err
	}
	lx := xmltok.NewBytesLexer(src)
	var scope xmltok.Scope
	doc := &envelopeDoc{}
	envNS := d.envelopeNS()
	inHeader, inBody := false, false
	var oldStart, innerStart int
	var innerTag []byte
	for {
		start := int(lx.Offset())
		t, err := lx.Next()
		if err == io.EOF {
			return doc, nil
		}
		if err != nil {
			return nil, err
		}
		end := start + len(t.Raw)
		switch t.Kind {
		case xmltok.StartTag, xmltok.EmptyTag:
			if err := scope.Push(&t); err != nil {
				return nil, err
			}
			depth := scope.Depth()
			prefix, local := xmltok.Split(t.Name)
			ns, _ := scope.URI(prefix)
			switch {
			case depth == 1:
				doc.envOpen, doc.envPrefix = end, string(prefix)
			case depth == 2 && ns == envNS && string(local) == "Header":
				inHeader = t.Kind == xmltok.StartTag
				if inHeader {
					doc.headerOpen = end
				} else {
					doc.headerEmpty, doc.headerPrefix = [2]int{start, end}, string(prefix)
				}
			case depth == 2 && ns == envNS && string(local) == "Body":
				inBody = t.Kind == xmltok.StartTag
			case depth == 3 && inHeader && isSessionHeader(&t, ns, string(local), shapes):
				oldStart = start
				if t.Kind == xmltok.EmptyTag {
					doc.old = append(doc.old, [2]int{start, end})
				}
			case depth == 3 && inBody && doc.inner == nil:
				if innerTag, err = xmltok.Declare(&t, scope.InScope()); err != nil {
					return nil, err
				}
				innerStart = end
				doc.inner = &Body{Local: string(local), Namespace: ns}
				if t.Kind == xmltok.EmptyTag {
					doc.inner.XML = innerTag
				}
			}
			if t.Kind == xmltok.EmptyTag {
				scope.Pop(&t)
			}
		case xmltok.EndTag:
			depth := scope.Depth()
			if err := scope.Pop(&t); err != nil {
				return nil, err
			}
			switch {
			case depth == 3 && inHeader && oldStart > 0:
				doc.old = append(doc.old, [2]int{oldStart, end})
				oldStart = 0
			case depth == 3 && inBody && doc.inner != nil && doc.inner.XML == nil:
				doc.inner.XML = append(append([]byte{}, innerTag...), src[innerStart:end]...)
			case depth == 2:
				inHeader, inBody = false, false
			}
		}
	}
}

func isSessionHeader(t *xmltok.Token, ns, local string, shapes []headerShape) bool {
	for _, s := range shapes {
		if s.ns == ns && s.local == local {
			return true
		}
	}
	return false
}

// declareSOAPENV adds xmlns:SOAP-ENV to each top-level element of a rendered
// header, so it stands inside any envelope whatever prefixes that uses.
func declareSOAPENV(header []byte, envNS string) ([]byte, error) {
	if !bytes.Contains(header, []byte("SOAP-ENV:")) {
		return header, nil
	}
	lx := xmltok.NewBytesLexer(header)
	var out bytes.Buffer
	depth := 0
	bind := []xmltok.Binding{{Prefix: "SOAP-ENV", URI: envNS}}
	for {
		t, err := lx.Next()
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		raw := t.Raw
		if depth == 0 && (t.Kind == xmltok.StartTag || t.Kind == xmltok.EmptyTag) {
			if raw, err = xmltok.Declare(&t, bind); err != nil {
				return nil, err
			}
		}
		switch t.Kind {
		case xmltok.StartTag:
			depth++
		case xmltok.EndTag:
			depth--
		}
		out.Write(raw)
	}
}
