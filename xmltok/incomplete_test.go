package xmltok

import (
	"errors"
	"io"
	"testing"
)

// cutReader gives its bytes a few at a time, then ends with err: with the
// last bytes (as a net/http body cut short does) or on the call after.
type cutReader struct {
	data     []byte
	chunk    int
	err      error
	withLast bool
}

func (r *cutReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	if r.withLast && len(r.data) == 0 {
		return n, r.err
	}
	return n, nil
}

var cutDocs = []string{
	`<`, `<a`, `<a><b attr="x`, `<a><b attr='x>`, `<a></b`, `<a><!-- no`, `<a><![CDATA[ x`, `<?xml version="1.0"`,
	`<!DOCTYPE a [<!ENTITY x "y">`, `<a><!`, `<a><![CDA`,
}

// Input that ends inside a token, at its own end (io.EOF), is a syntax
// error that says the document is incomplete, so that a caller that knows
// the input may have been cut can tell; a read error stopping it, whether
// it comes with the last bytes or after them, is returned as it is.
func TestInputEndingInsideAToken(t *testing.T) {
	for _, doc := range cutDocs {
		for _, chunk := range []int{1, 3, 1 << 20} {
			for _, withLast := range []bool{false, true} {
				err := lexToEnd(&cutReader{data: []byte(doc), chunk: chunk, err: io.EOF, withLast: withLast})
				var se *SyntaxError
				if !errors.As(err, &se) || !errors.Is(err, ErrIncomplete) {
					t.Errorf("%q ending (chunk %d, with the last bytes %v): %v; want a SyntaxError wrapping ErrIncomplete", doc, chunk, withLast, err)
				}
				err = lexToEnd(&cutReader{data: []byte(doc), chunk: chunk, err: io.ErrUnexpectedEOF, withLast: withLast})
				if err != io.ErrUnexpectedEOF {
					t.Errorf("%q cut (chunk %d, with the last bytes %v): %v; want io.ErrUnexpectedEOF", doc, chunk, withLast, err)
				}
			}
		}
	}
}

// A document that is malformed where it stands is not incomplete.
func TestMalformedIsNotIncomplete(t *testing.T) {
	for _, doc := range []string{`<>`, `<a><!-- a -- b --></a>`, `</a b>`, `<?  ?>`} {
		err := lexToEnd(&cutReader{data: []byte(doc), chunk: 1 << 20, err: io.EOF})
		if err == nil || errors.Is(err, ErrIncomplete) {
			t.Errorf("%q: %v; want a syntax error that is not ErrIncomplete", doc, err)
		}
	}
}

// lexToEnd reads every token and returns the error that stopped it, nil at
// the end of the input.
func lexToEnd(r io.Reader) error {
	lx := NewLexer(r)
	for {
		if _, err := lx.Next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}
