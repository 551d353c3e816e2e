package cmd

import (
	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/session"
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
	return a.call(c, envelope.Session, func(s *session.Session, r session.Request) (*session.Result, error) {
		return s.Send(c.Context, r)
	})
}
