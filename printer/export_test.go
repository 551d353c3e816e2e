package printer

import (
	"io"

	"github.com/soapsess/soapsess/xmltok"
)

// formatWith is Format with a hook after each token, for tests.
func formatWith(p *Printer, r io.Reader, after func()) error {
	lx := xmltok.NewLexer(r)
	for {
		t, err := lx.Next()
		if err == io.EOF {
			return p.Close()
		}
		if err != nil {
			return err
		}
		if err := p.Write(&t); err != nil {
			return err
		}
		after()
	}
}
