package cmd

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/session"
)

func (a *appCtx) endCommand() *cli.Command {
	return &cli.Command{
		Name:      "end",
		Usage:     "close the open session",
		ArgsUsage: "[BODY]",
		Description: `Sends the dialect's end header with BODY (default: the dialect's own end
body). The local session is marked ended once the server has answered, fault or
not, and kept open when the server was never reached (as the .NET DSML client does).
Dialects that confirm an end (sqlsoap) are retried when the confirmation is
missing, fault or not, and the session kept after the last try; retries carry
the dialect's default end body, so a statement in BODY never runs twice. A
session the server no longer knows counts as ended (exit 0, with a warning),
as does one that had already ended here (nothing is sent).

An ended session keeps its record (how it began, its setup requests) for
begin --again; ls and status show it as ended; end --forget drops it.

Examples:
   soapsess end
   trap 'soapsess end >/dev/null' EXIT
   soapsess end --forget     # drop the local session without asking the server`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "forget", Usage: "only forget the local session (open or ended) and its record; send nothing"},
		}, append(append(varFlags(), outputFlags()...), connFlags()...)...),
		Action: a.end,
	}
}

func (a *appCtx) end(c *cli.Context) error {
	if c.Bool("forget") {
		return a.forget(c)
	}
	var ended string // the session's name, once the server confirmed its end
	err := a.call(c, envelope.End, func(s *session.Session, r session.Request) (*session.Result, error) {
		res, err := s.End(c.Context, r)
		if res != nil && !r.DryRun {
			for _, w := range res.EndWarnings {
				warnf(a.io, "%s", w)
			}
		}
		if err == nil && res != nil && res.Gone != "" {
			warnf(a.io, "the server no longer knew session %q (ID %s): it had ended or expired; it is marked ended here too", s.State.Name, s.State.ID)
			res.Problems = nil // the warning says what the fault did; the fault itself is on stdout
			return res, nil
		}
		if err == nil && !r.DryRun {
			ended = s.State.Name
		}
		return res, err
	})
	if err == nil && ended != "" {
		infof(a.io, "session %q ended", ended) // after the reply, as begin's "began"
	}
	var already *session.EndedError
	if errors.As(err, &already) && !c.Bool("dry-run") {
		// Closed already (by another end, or the server): what end is for
		// is done. Nothing was sent.
		warnf(a.io, "%v; nothing sent (end --forget drops its record)", already)
		return nil
	}
	return err
}

func (a *appCtx) forget(c *cli.Context) error {
	if err := noMoreArgs(c, 1); err != nil {
		return err
	}
	name, store, err := a.namedStore(c)
	if err != nil {
		return err
	}
	removed, err := (&session.Manager{Store: store}).Forget(name)
	if err != nil {
		return err
	}
	if !removed {
		return withCode(ExitSession, fmt.Errorf("no session named %q to forget", name))
	}
	infof(a.io, "session %q forgotten locally; the server was not told", name)
	return nil
}
