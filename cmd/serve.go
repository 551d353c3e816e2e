package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/refserver"
)

const (
	// defaultMaxConnections bounds what connections cost (a goroutine and
	// buffers, some 20 KB each: 20 MB in all) while leaving room for a
	// crowd: 800 connections trickling bodies are all accepted and cut after
	// --body-timeout, and an honest request among them is answered at once.
	defaultMaxConnections = 1024
	serveHeaderTimeout    = 5 * time.Second
)

func (a *appCtx) serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the reference server: DSML, XMLA and SQL Server sessions on loopback",
		Description: `Serves the three session protocols with the real servers' session
semantics, so soapsess (or any SOAP client) can be tried without them:
   /dsml            DSML Services for Windows (a tiny in-memory directory)
   /xmla            XML for Analysis, SSAS-like (DISCOVER_DATASOURCES, empty Execute)
   /xmla/virtuoso   XML for Analysis as Virtuoso 7.2.5 answers it (SessionID)
   /sql             SQL Server native SOAP (sqlbatch answers a row count)
--dsml-entries N adds N users under cn=Users,dc=example,dc=com to page
through inside a DSML session; an unpaged search returns at most 1000 of
them, as Active Directory does.
--idle-timeout DURATION ends DSML and SSAS-like XMLA sessions idle that long
(10m); /xmla/virtuoso's never expire, as Virtuoso's do not, unless
--idle-timeout PATH=DURATION sets it for one of /dsml, /xmla and
/xmla/virtuoso (repeatable). A /sql session keeps the timeout it
asks for, at most --sql-max-timeout.
--latency DURATION holds every request that names a session (not a begin)
that long before answering; a request that arrives while another of its
session is still being answered is logged with "overlap", to see whether a
client sends one request of a session at a time.
Limits keep it up under load: at most --max-sessions live sessions (10000;
a begin beyond them gets the endpoint's own fault, as DSML Services for
Windows answers at its MaxSessionsAllowed), at most --max-connections open
connections (1024; more wait to be accepted), and a request's headers must
arrive within 5s and its body within --body-timeout (10s; a slower body
is answered 408 and its connection closed).
Set SOAPSESS_SERVE_PASSWORD to require that password with HTTP Basic auth.
One line per request is logged on stderr. Stop it with Ctrl-C.

Examples:
   soapsess serve
   soapsess serve --addr 127.0.0.1:9000 --idle-timeout 30s
   soapsess serve --idle-timeout /dsml=2s --idle-timeout 30s --latency 500ms
   soapsess serve --dsml-entries 5000
   soapsess serve --max-sessions 100 --max-connections 20 --body-timeout 2s`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8808", Usage: "address to listen on; keep it on loopback"},
			&cli.StringSliceFlag{Name: "idle-timeout", Value: cli.NewStringSlice("10m"), DefaultText: "10m", Usage: "end DSML and XMLA sessions idle this `DURATION`; PATH=DURATION for one endpoint (repeatable)"},
			&cli.DurationFlag{Name: "latency", Usage: "hold each request that names a session this `DURATION` before answering (0 for none)"},
			&cli.IntFlag{Name: "sql-max-timeout", Value: 300, Usage: "the SQL endpoint's session timeout cap, in `SECONDS`"},
			&cli.IntFlag{Name: "dsml-entries", Value: 0, Usage: "add `N` generated users under cn=Users,dc=example,dc=com to the DSML directory (0 to 1000000)"},
			&cli.IntFlag{Name: "max-sessions", Value: refserver.DefaultMaxSessions, Usage: "refuse a begin while `N` sessions are live, with the endpoint's own fault"},
			&cli.IntFlag{Name: "max-connections", Value: defaultMaxConnections, Usage: "keep at most `N` connections open; more wait to be accepted"},
			&cli.DurationFlag{Name: "body-timeout", Value: refserver.DefaultBodyTimeout, Usage: "answer 408 to a request whose body has not arrived within this `DURATION`"},
		},
		Action: a.serve,
	}
}

func (a *appCtx) serve(c *cli.Context) error {
	if err := noMoreArgs(c, 0); err != nil {
		return err
	}
	idle, perEndpoint, err := idleTimeouts(c.StringSlice("idle-timeout"))
	if err != nil {
		return err
	}
	if c.Int("sql-max-timeout") <= 0 {
		return usageError("--sql-max-timeout must be positive")
	}
	if c.Duration("latency") < 0 {
		return usageError("--latency must not be negative")
	}
	if n := c.Int("dsml-entries"); n < 0 || n > refserver.MaxDSMLEntries {
		return usageError("--dsml-entries must be between 0 and %d", refserver.MaxDSMLEntries)
	}
	for _, name := range []string{"max-sessions", "max-connections"} {
		if c.Int(name) <= 0 {
			return usageError("--%s must be positive", name)
		}
	}
	if c.Duration("body-timeout") <= 0 {
		return usageError("--body-timeout must be positive")
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return withCode(ExitError, fmt.Errorf("listen: %w", err))
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		warnf(a.io, "listening on %s, which is not loopback: anyone who can reach it can use the reference server", ln.Addr())
	}
	bodyTimeout := c.Duration("body-timeout")
	srv := &http.Server{
		Handler: refserver.New(refserver.Options{
			IdleTimeout:   idle,
			IdleTimeouts:  perEndpoint,
			Latency:       c.Duration("latency"),
			SQLMaxTimeout: c.Int("sql-max-timeout"),
			DSMLEntries:   c.Int("dsml-entries"),
			MaxSessions:   c.Int("max-sessions"),
			BodyTimeout:   bodyTimeout,
			Password:      a.io.getenv("SOAPSESS_SERVE_PASSWORD"),
			Log:           a.io.Err,
		}),
		// A connection that sends its headers slowly, or none, is closed
		// after ReadHeaderTimeout; the reference server cuts a slow body
		// after --body-timeout itself, and ReadTimeout is the backstop for
		// both. An idle kept-alive connection is closed after a minute,
		// later than soapsess's own client lets go of it (30s).
		ReadHeaderTimeout: serveHeaderTimeout,
		ReadTimeout:       serveHeaderTimeout + bodyTimeout,
		WriteTimeout:      time.Minute,
		IdleTimeout:       time.Minute,
	}
	maxConns := c.Int("max-connections")
	var warned time.Time
	limited := refserver.LimitListener(ln, maxConns, func() {
		// Called from the accepting goroutine only; at most once a minute.
		if time.Since(warned) >= time.Minute {
			warned = time.Now()
			warnf(a.io, "%d connections open (--max-connections): new ones wait until one closes", maxConns)
		}
	})
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(a.io.Err, "soapsess: reference server on %s: %s/dsml %s/xmla %s/xmla/virtuoso %s/sql\n", base, base, base, base, base)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limited) }()
	select {
	case err := <-errc:
		return err
	case <-c.Context.Done():
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		fmt.Fprintln(a.io.Err, "soapsess: reference server stopped")
		return nil
	}
}

// idleTimeouts reads the --idle-timeout values: a DURATION for every
// endpoint, or PATH=DURATION for one of the endpoints with an idle timeout;
// a later value overrides an earlier one. The timeout for all is 10m unless
// given.
func idleTimeouts(values []string) (time.Duration, map[string]time.Duration, error) {
	all := 10 * time.Minute
	per := map[string]time.Duration{}
	for _, v := range values {
		path, text, forOne := strings.Cut(v, "=")
		if !forOne {
			text = v
		}
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil || d <= 0 {
			return 0, nil, usageError("--idle-timeout %q: want a positive duration such as 30s or 10m, or PATH=DURATION", v)
		}
		if !forOne {
			all = d
			continue
		}
		switch path = strings.TrimSpace(path); path {
		case refserver.PathDSML, refserver.PathXMLA, refserver.PathXMLAVirtuoso:
			per[path] = d
		case refserver.PathSQL:
			return 0, nil, usageError("--idle-timeout %q: a /sql session keeps the timeout it asks for; --sql-max-timeout caps it", v)
		default:
			return 0, nil, usageError("--idle-timeout %q: no endpoint %q; use /dsml, /xmla or /xmla/virtuoso", v, path)
		}
	}
	return all, per, nil
}
