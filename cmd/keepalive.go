package cmd

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/session"
)

func (a *appCtx) keepaliveCommand() *cli.Command {
	return &cli.Command{
		Name:  "keepalive",
		Usage: "keep the open session from expiring while idle",
		Description: `Sends the dialect's cheapest request inside the session (DSML: an empty
batchRequest; XMLA: a DISCOVER_PROPERTIES for one property; sqlsoap: an
empty sqlbatch) whenever the session has been idle for --every seconds;
requests anyone else sends in the session count. --every defaults to three
quarters of the server's idle timeout, when that is known (see status).

It stops, with exit status 0, when --for runs out, when the session is ended
(or forgotten) by another command, or on Ctrl-C or SIGTERM. It is quiet while
all is well; when the server rejects the session it says so and exits 5 (the
session is marked rejected: begin --again). A server it cannot reach, or a
proxy's HTTP error page, is tried again more often (a warning each time),
and given up after --every seconds of failures.

Examples:
   soapsess keepalive --for 3600
   soapsess keepalive --every 240 & keeper=$!; ...; kill $keeper`,
		Flags: append([]cli.Flag{
			&cli.Float64Flag{Name: "every", Usage: "send when the session has been idle `SECONDS` (default: 3/4 of its idle timeout)"},
			&cli.Float64Flag{Name: "for", Usage: "stop after `SECONDS` (default: until the session ends, or Ctrl-C)"},
		}, connFlags()...),
		Action: a.keepalive,
	}
}

func (a *appCtx) keepalive(c *cli.Context) error {
	if err := noMoreArgs(c, 0); err != nil {
		return err
	}
	if c.Float64("every") < 0 || c.Float64("for") < 0 {
		return usageError("--every and --for are positive numbers of seconds")
	}
	if c.Bool("dry-run") || c.IsSet("header") || c.IsSet("action") || c.IsSet("max-body") {
		return usageError("keepalive sends the dialect's own request: --dry-run, --header, --action and --max-body do not go with it")
	}
	m, err := a.manager(c)
	if err != nil {
		return err
	}
	s, err := a.open(c, m)
	if err != nil {
		return err
	}
	m.Trace = a.trace(nil)
	m.Waiting = nil // a send of the user's own is on the wire: it keeps the session alive too
	stopped, err := s.KeepAlive(c.Context, session.KeepAlive{
		Every: seconds(c.Float64("every")),
		For:   seconds(c.Float64("for")),
		Sent: func(res *session.Result, err error, retrying bool) {
			if retrying {
				warnf(a.io, "keep-alive request failed: %v; trying again", message(err))
				return
			}
			if res != nil {
				a.printProblems(res.Problems) // then a rejection's meaning, once, as keepalive's own error
			}
			if err == nil && res != nil && res.Reply != nil {
				infof(a.io, "%s kept session %q alive (%s in %s)", time.Now().Format(time.TimeOnly), s.State.Name, res.Reply.Reason, ms(res.Reply.Elapsed))
			}
		},
	})
	if err != nil {
		return err
	}
	if stopped == session.StoppedEnded {
		infof(a.io, "session %q ended; keepalive stops", s.State.Name)
	}
	return nil
}
