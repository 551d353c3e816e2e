package cmd

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

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

With --all-pages (DSML), BODY is a searchRequest (alone or in a batchRequest)
that soapsess pages through with the paged results control, page after page
inside the session, until the server has no more: stdout is one batchResponse
holding every entry. Ctrl-C or a failing page abandons the search on the
server first.

With --setup, a request the server accepts is also kept in the session's
journal (body, --var and --capture): the requests that build its state, such
as CREATE SESSION SET or USE db, which begin --again replays. With --restart,
when the server no longer knows the session, soapsess begins it again,
replays the journal and sends BODY once more, and says so on stderr; without
the flag nothing is ever resent.

A session's requests go one at a time: a send waits for the one on the wire
(saying so on a terminal after a second; --lock-timeout gives up, exit 5).

Examples:
   soapsess send discover.xml | xmllint --format -
   echo '<Execute xmlns="urn:schemas-microsoft-com:xml-analysis">...</Execute>' | soapsess send
   soapsess --session ad send search.xml
   soapsess --session ad send --all-pages --page-size 1000 users.xml > users.xml
   soapsess send --capture token=//ns:Token --ns ns=urn:acme login.xml
   soapsess send --setup create-set.xml
   soapsess send --restart query.xml`,
		Flags: append(append(append(append([]cli.Flag{
			&cli.BoolFlag{Name: "all-pages", Usage: "page through a DSML search with the paged results control; one batchResponse with every entry"},
			&cli.IntFlag{Name: "page-size", Value: session.DefaultPageSize, Usage: fmt.Sprintf("entries a page with --all-pages, `N` from 1 to %d", session.MaxPageSize)},
			&cli.BoolFlag{Name: "setup", Usage: "once the server accepts it, keep the request in the session's journal, for begin --again"},
			&cli.BoolFlag{Name: "restart", Usage: "if the server no longer knows the session, begin it again, replay its journal and send once more"},
		}, append(varFlags(), captureFlags()...)...), outputFlags()...), queryFlags()...), connFlags()...),
		Action: a.send,
	}
}

func (a *appCtx) send(c *cli.Context) error {
	if !c.Bool("all-pages") {
		if c.IsSet("page-size") {
			return usageError("--page-size goes with --all-pages")
		}
		if c.Bool("restart") && c.Bool("raw") {
			return usageError("--restart holds back a reply that rejects the session; --raw copies every byte as it comes")
		}
		return a.call(c, envelope.Session, func(s *session.Session, r session.Request) (*session.Result, error) {
			r.Setup, r.Restart, r.Replayed = c.Bool("setup"), c.Bool("restart"), a.replayed
			old := s.State.Name
			res, err := s.Send(c.Context, r)
			if res != nil && res.Restarted != nil {
				rs := res.Restarted
				said := "it said: " + strings.TrimSuffix(rs.Rejected.Summary(), ".")
				if !rs.RejectedAt.IsZero() {
					said = "it rejected an earlier request at " + rs.RejectedAt.Format(time.RFC3339)
				}
				warnf(a.io, "the server no longer knew session %q (ID %s; %s), so it was begun again as %s, %d setup requests replayed, and %s sent again",
					old, rs.From, said, rs.To, rs.Replayed, bodyName(r.Body))
			}
			return res, err
		})
	}
	size := c.Int("page-size")
	if size < 1 || size > session.MaxPageSize {
		return usageError("--page-size %d: want 1 to %d (Active Directory returns at most %d entries a page)", size, session.MaxPageSize, session.MaxPageSize)
	}
	if c.Bool("setup") || c.Bool("restart") {
		return usageError("--all-pages pages one search through; --setup and --restart are for single requests")
	}
	if c.Bool("raw") || c.Bool("dry-run") || strings.ContainsAny(c.String("print"), "EHhs") {
		return usageError("--all-pages makes one document of many replies: --raw, --dry-run and --print E, H, h or s show single requests (-v shows them all)")
	}
	a.paging = true
	// The note that Ctrl-C was heard is written while the paging winds down.
	a.io.Err = &lockedWriter{w: a.io.Err}
	return a.call(c, envelope.Session, func(s *session.Session, r session.Request) (*session.Result, error) {
		progress := func(pages, entries int) {
			if a.io.ErrTTY {
				fmt.Fprintf(a.io.Err, "\r\x1b[Kpage %d, %d entries", pages, entries)
			}
		}
		paged, noted := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(noted)
			select {
			case <-c.Context.Done():
				fmt.Fprintf(a.io.Err, "\r\x1b[Ksoapsess: interrupted: ending the search on the server (Ctrl-C again to quit at once)\n")
			case <-paged:
			}
		}()
		res, err := s.SendAllPages(c.Context, r, session.Paging{Size: size, Progress: progress})
		close(paged)
		<-noted
		if a.io.ErrTTY {
			fmt.Fprint(a.io.Err, "\r\x1b[K")
		}
		if res != nil {
			if res.AbandonErr != nil {
				warnf(a.io, "the search could not be abandoned on the server: %v", res.AbandonErr)
			}
			infof(a.io, "%d pages, %d entries", res.Pages, res.Entries)
		}
		return res, err
	})
}

// bodyName names a request's body for messages.
func bodyName(b session.Body) string {
	if b.R == nil {
		return "the dialect's body"
	}
	return b.Name
}

// lockedWriter serialises writes from more than one goroutine.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
