package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/refserver"
)

func (a *appCtx) serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the reference server: DSML, XMLA and SQL Server sessions on loopback",
		Description: `Serves the three session protocols with the real servers' session
semantics, so soapsess (or any SOAP client) can be tried without them:
   /dsml            DSML Services for Windows (a tiny in-memory directory)
   /xmla            XML for Analysis, SSAS-like (DISCOVER_DATASOURCES, empty Execute)
   /xmla/virtuoso   XML for Analysis, Virtuoso-like (SessionID spelling)
   /sql             SQL Server native SOAP (sqlbatch answers a row count)
--dsml-entries N adds N users under cn=Users,dc=example,dc=com to page
through inside a DSML session; an unpaged search returns at most 1000 of
them, as Active Directory does.
Set SOAPSESS_SERVE_PASSWORD to require that password with HTTP Basic auth.
One line per request is logged on stderr. Stop it with Ctrl-C.

Examples:
   soapsess serve
   soapsess serve --addr 127.0.0.1:9000 --idle-timeout 30s
   soapsess serve --dsml-entries 5000`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8808", Usage: "address to listen on; keep it on loopback"},
			&cli.DurationFlag{Name: "idle-timeout", Value: 10 * time.Minute, Usage: "end DSML and XMLA sessions idle this long"},
			&cli.IntFlag{Name: "sql-max-timeout", Value: 300, Usage: "the SQL endpoint's session timeout cap, in `SECONDS`"},
			&cli.IntFlag{Name: "dsml-entries", Value: 0, Usage: "add `N` generated users under cn=Users,dc=example,dc=com to the DSML directory (0 to 1000000)"},
		},
		Action: a.serve,
	}
}

func (a *appCtx) serve(c *cli.Context) error {
	if err := noMoreArgs(c, 0); err != nil {
		return err
	}
	if c.Duration("idle-timeout") <= 0 || c.Int("sql-max-timeout") <= 0 {
		return usageError("--idle-timeout and --sql-max-timeout must be positive")
	}
	if n := c.Int("dsml-entries"); n < 0 || n > refserver.MaxDSMLEntries {
		return usageError("--dsml-entries must be between 0 and %d", refserver.MaxDSMLEntries)
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return withCode(ExitError, fmt.Errorf("listen: %w", err))
	}
	if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		warnf(a.io, "listening on %s, which is not loopback: anyone who can reach it can use the reference server", ln.Addr())
	}
	srv := &http.Server{
		Handler: refserver.New(refserver.Options{
			IdleTimeout:   c.Duration("idle-timeout"),
			SQLMaxTimeout: c.Int("sql-max-timeout"),
			DSMLEntries:   c.Int("dsml-entries"),
			Password:      a.io.getenv("SOAPSESS_SERVE_PASSWORD"),
			Log:           a.io.Err,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(a.io.Err, "soapsess: reference server on %s: %s/dsml %s/xmla %s/xmla/virtuoso %s/sql\n", base, base, base, base, base)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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
