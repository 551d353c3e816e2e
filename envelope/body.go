package envelope

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// Body is a request body: one well-formed, namespace-well-formed XML element.
type Body struct {
	XML       []byte // the element as given, without XML declaration or surrounding space
	Local     string // local name of the root element
	Namespace string // namespace URI of the root element
}

// IsEnvelope reports whether the body is itself a whole SOAP envelope.
func (b *Body) IsEnvelope() bool {
	return b.Local == "Envelope" && (b.Namespace == NSSOAP11 || b.Namespace == NSSOAP12)
}

// BodyError says why a request body was refused before anything was sent.
type BodyError struct {
	Err error
}

func (e *BodyError) Error() string { return "body is not usable: " + e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// ParseBody checks that src is one well-formed XML element (comments and
// processing instructions around it are allowed, a DTD is not) and returns it
// ready to be placed in an envelope.
func ParseBody(src []byte) (*Body, error) {
	src = stripProlog(src)
	if len(src) == 0 {
		return nil, &BodyError{errors.New("it is empty")}
	}
	b := &Body{XML: src}
	s := newScanner(src)
	for {
		tk, err := s.next()
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, &BodyError{fmt.Errorf("not well-formed XML: %w", err)}
		}
		if se, ok := tk.tok.(xml.StartElement); ok && tk.depth == 1 {
			b.Local = se.Name.Local
			b.Namespace = uri(se.Name, tk.scope)
		}
	}
}
