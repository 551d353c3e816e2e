package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/printer"
	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/transport"
)

func (a *appCtx) fmtCommand() *cli.Command {
	return &cli.Command{
		Name:      "fmt",
		Usage:     "pretty-print SOAP or any XML (captures, logs), with a summary of faults",
		ArgsUsage: "[FILE...|-]",
		Description: `Indents element-only content and keeps everything else as written: prefixes,
namespace declarations, attribute order and quoting, comments, CDATA, entity
references, text and mixed content. Colours on a terminal. Faults and errors
inside the document are summed up on stderr (exit status 3). With no FILE, or
with -, reads stdin. Streams: any size, in constant memory; --xpath too,
for a path of / and // steps (see soapsess send --help).

Examples:
   soapsess fmt reply.xml
   curl -s ... | soapsess fmt
   id=$(soapsess fmt --xpath '//xa:Session/@SessionId' reply.xml)`,
		Flags:  queryFlags(),
		Action: a.fmt,
	}
}

func (a *appCtx) fmt(c *cli.Context) error {
	files := c.Args().Slice()
	if len(files) == 0 {
		files = []string{"-"}
	}
	q, err := queryOf(c)
	if err != nil {
		return err
	}
	pal := palette(colorOn(a.io.ColorMode, a.io.OutTTY, a.io.getenv))
	if q == nil {
		a.startPager(c)
	}
	var worst error
	for _, f := range files {
		if err := a.fmtOne(f, q, pal); err != nil {
			if worst == nil || codeOf(err) > codeOf(worst) {
				if worst != nil {
					report(a.io, worst)
				}
				worst = err
			} else {
				report(a.io, err)
			}
		}
	}
	return worst
}

func (a *appCtx) fmtOne(name string, q *query, pal *printer.Palette) error {
	var r io.Reader
	if name == "-" {
		if a.io.InTTY {
			return usageError("fmt reads a file, or stdin from a pipe: soapsess fmt reply.xml, or ... | soapsess fmt")
		}
		r, name = a.io.In, "standard input"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return withCode(ExitUsage, err)
		}
		defer f.Close()
		r = f
	}
	// No dialect here: watch for the errors of every built-in one.
	opt := reply.StreamOptions{Async: true, Errors: envelope.BuiltinErrors()}
	var p *printer.Printer
	var ev *reply.Evaluation
	if q != nil {
		ev = q.q.Evaluate(q.limit)
		opt.Document = ev
	} else {
		p = printer.New(a.io.Out, printer.Options{Pretty: true, Palette: pal, Trusted: true})
		opt.Document = p
	}
	st, err := reply.Stream(r, opt)
	if p != nil {
		if cerr := p.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) {
			return err
		}
		return withCode(ExitUsage, fmt.Errorf("%s: %w", name, err))
	}
	fe := a.printProblems(st.Problems)
	if q != nil {
		values, err := ev.Values()
		if err := q.show(a.io, values, err); err != nil {
			return err
		}
	}
	if fe != nil {
		return fe
	}
	return nil
}
