package cmd

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
)

func (a *appCtx) sendCommand() *cli.Command {
	return &cli.Command{
		Name:      "send",
		Usage:     "send a request inside the open session",
		ArgsUsage: "[BODY]",
		Description: `Wraps BODY (a file, or - or nothing for stdin) in an envelope carrying the
session header and posts it. The reply's Body goes to stdout as XML.

Examples:
   soapsess send discover.xml | xmllint --format -
   echo '<Execute xmlns="urn:schemas-microsoft-com:xml-analysis">...</Execute>' | soapsess send
   soapsess --session ad send search.xml`,
		Flags:  append(append(append(varFlags(), outputFlags()...), queryFlags()...), connFlags()...),
		Action: a.send,
	}
}

func (a *appCtx) send(c *cli.Context) error {
	if err := noMoreArgs(c, 1); err != nil {
		return err
	}
	o, x, show, err := a.prepare(c, envelope.Session)
	if err != nil {
		return err
	}
	out, err := a.do(c.Context, x, show)
	if errors.Is(err, errDryRun) {
		return nil
	}
	var fe *faultError
	if errors.As(err, &fe) && fe.rejected {
		return o.rejected(fe)
	}
	if out != nil && out.soap { // the SOAP server answered within the session
		if terr := o.touch(); terr != nil && err == nil {
			err = terr
		}
	}
	return err
}
