package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/soapsess/soapsess/transport"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
)

func (a *appCtx) endCommand() *cli.Command {
	return &cli.Command{
		Name:      "end",
		Usage:     "close the open session",
		ArgsUsage: "[BODY]",
		Description: `Sends the dialect's end header with BODY (default: the dialect's own end
body). The local session is forgotten once the server has answered, fault or
not, and kept when the server was never reached (as the .NET DSML client does).
Dialects that confirm an end (sqlsoap) are retried when the confirmation is
missing; retries carry the dialect's default end body, so a statement in BODY
never runs twice.

Examples:
   soapsess end
   trap 'soapsess end >/dev/null' EXIT
   soapsess end --forget     # drop the local session without asking the server`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "forget", Usage: "only forget the local session; send nothing"},
		}, append(append(varFlags(), outputFlags()...), connFlags()...)...),
		Action: a.end,
	}
}

func (a *appCtx) end(c *cli.Context) error {
	if err := noMoreArgs(c, 1); err != nil {
		return err
	}
	if c.Bool("forget") {
		return a.forget(c)
	}
	o, x, show, err := a.prepare(c, envelope.End)
	if err != nil {
		return err
	}
	attempts := o.dialect.EndAttempts()
	for i := 1; ; i++ {
		out, err := a.do(c.Context, x, show)
		if errors.Is(err, errDryRun) {
			return nil
		}
		var te *transport.Error
		if out == nil && errors.As(err, &te) && i < endTries {
			// Never answered: try again a few times, as the SQL Server docs
			// advise for a terminate; the session stays until a server answers.
			warnf(a.io, "%v; trying again (%d of %d)", err, i+1, endTries)
			if !sleep(c.Context, time.Duration(i)*endBackoff) {
				return withCode(ExitInterrupt, errors.New("interrupted"))
			}
			continue
		}
		if out == nil || !out.soap {
			// No SOAP answer (refused, or a proxy's error page): the server
			// may never have seen the end, so keep the session to try again.
			if err != nil && out != nil {
				return withCode(codeOf(err), fmt.Errorf("%w; session %q is kept", err, o.sess.Name), "soapsess end again once the server is reachable, or soapsess end --forget")
			}
			return err
		}
		var fe *faultError
		if errors.As(err, &fe) && fe.rejected {
			return o.rejected(fe)
		}
		if err == nil && out.reply != nil && !o.dialect.EndConfirmed(out.reply) {
			if i < attempts {
				warnf(a.io, "the server did not confirm the end of session %q; trying again (%d of %d)", o.sess.Name, i+1, attempts)
				if b, ok, err := o.dialect.DefaultBody(envelope.End, x.values); ok && err == nil {
					x.body = b
				}
				continue
			}
			return withCode(ExitReply, fmt.Errorf("the server did not confirm the end of session %q after %d attempts; it is kept", o.sess.Name, attempts),
				"try soapsess end again later, or soapsess end --forget to drop it locally")
		}
		if _, derr := o.store.Delete(o.sess.Name, o.sess.ID); derr != nil && err == nil {
			err = derr
		}
		if err == nil {
			infof(a.io, "session %q ended", o.sess.Name)
		}
		return err
	}
}

func (a *appCtx) forget(c *cli.Context) error {
	name, err := a.sessionName(c)
	if err != nil {
		return err
	}
	store, err := a.store(c)
	if err != nil {
		return err
	}
	removed, err := store.Delete(name, "")
	if err != nil {
		return err
	}
	if !removed {
		return withCode(ExitSession, fmt.Errorf("no session named %q to forget", name))
	}
	infof(a.io, "session %q forgotten locally; the server was not told", name)
	return nil
}

// endTries bounds how often end tries a server it cannot reach.
const endTries = 3

var endBackoff = 300 * time.Millisecond

// sleep waits d, or less if ctx ends; it reports whether it waited it all.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
