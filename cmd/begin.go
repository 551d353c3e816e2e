package cmd

import (
	"fmt"
	"net"
	neturl "net/url"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/session"
	"github.com/soapsess/soapsess/transport"
)

func (a *appCtx) beginCommand() *cli.Command {
	return &cli.Command{
		Name:      "begin",
		Usage:     "open a session on a server and remember its ID",
		ArgsUsage: "[BODY]",
		Description: `Sends the dialect's begin header with BODY (a file, or - for stdin; default:
the dialect's own begin body), reads the session ID from the reply and keeps
it under the session's name. The reply's Body goes to stdout.

The session is kept with how it began (URL, dialect, user and connection
settings, variables, captures, BODY; never a password) and, with send
--setup, the requests that built its state. After it ended or the server
rejected it, begin --again opens a new one from all of that and replays those
requests in order; it stops at the first that fails, with its exit status.

--idle-timeout tells soapsess how long the server keeps an idle session when
neither the server's reply nor the dialect says (status, ls, keepalive).

Examples:
   soapsess begin --url http://127.0.0.1:8808/xmla --dialect xmla
   soapsess --session ad begin --url https://dc1/dsml/adssoap.dsmlx --dialect dsml --user 'CORP\ann'
   soapsess begin --url http://sql1/sql --dialect sqlsoap --timeout 600
   soapsess begin --again`,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "url", Usage: "the server's SOAP endpoint (http:// or https://)"},
			&cli.StringFlag{Name: "dialect", Aliases: []string{"d"}, Usage: "session protocol: " + strings.Join(envelope.Builtins(), ", ") + ", a dialect directory, or a name in ~/.config/soapsess/dialects"},
			&cli.IntFlag{Name: "timeout", Usage: "ask the server for a session timeout, in `SECONDS` (sqlsoap)"},
			&cli.IntFlag{Name: "idle-timeout", Usage: "the server forgets a session idle this many `SECONDS` (when its reply and the dialect do not say)"},
			&cli.BoolFlag{Name: "again", Usage: "open the session anew as it began last time, and replay its setup requests"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user `NAME` for HTTP auth (DOMAIN\\user or user@domain); kept with the session, its password never: see --password-file"},
		}, append(append(append(varFlags(), captureFlags()...), nsFlag()), outputFlags()...)...), connFlags()...),
		Action: a.begin,
	}
}

func (a *appCtx) begin(c *cli.Context) error {
	if c.Bool("again") {
		return a.beginAgain(c)
	}
	if err := noMoreArgs(c, 1); err != nil {
		return err
	}
	url, dialectName := c.String("url"), c.String("dialect")
	if url == "" || dialectName == "" {
		return usageError("begin needs --url URL and --dialect %s", strings.Join(envelope.Builtins(), "|"))
	}
	if err := transport.CheckURL(url); err != nil {
		return err
	}
	if c.Int("timeout") < 0 || c.Int("idle-timeout") < 0 {
		return usageError("--timeout and --idle-timeout are positive numbers of seconds")
	}
	d, err := a.findDialect(dialectName)
	if err != nil {
		return err
	}
	if c.IsSet("timeout") && !d.UsesTimeout() {
		warnf(a.io, "the %s dialect has no session timeout to ask for; --timeout is ignored", d.Name)
	}
	vars, err := readVars(c)
	if err != nil {
		return err
	}
	name, err := a.sessionName(c)
	if err != nil {
		return err
	}
	m, err := a.manager(c)
	if err != nil {
		return err
	}
	if err := m.Free(name); err != nil { // before asking for a password
		return err
	}
	user := c.String("user")
	conn, err := a.connect(c, session.Conn{Options: transport.Options{User: user}}, d)
	if err != nil {
		return err
	}
	if user != "" && (conn.Auth == "" || conn.Auth == transport.AuthBasic) && plainRemote(url) {
		warnf(a.io, "the password for %s goes over plain http:// to %s; anyone on the way can read it", user, url)
	}
	caps, err := captures(c)
	if err != nil {
		return err
	}
	b, out, closeBody, err := a.bodyAndOutput(c, m, d, envelope.Begin)
	defer closeBody()
	if err != nil {
		return err
	}
	asked := c.Int("timeout")
	sinks, finish := a.sinks(out, envelope.Begin, nil)
	res, err := m.Begin(c.Context, session.BeginOptions{
		Name: name, URL: url, Dialect: d, Timeout: asked, Vars: vars, Conn: conn, Body: b, Reply: sinks,
		DryRun: c.Bool("dry-run"), Captures: caps, IdleTimeout: c.Int("idle-timeout"),
	})
	a.showCaptures(res, caps)
	a.warnOrphan(res)
	if err := a.shown(res, authRefused(err, conn), out, finish); err != nil || res.Preview != nil {
		return err
	}
	if asked > 0 && res.Granted > 0 && res.Granted < asked {
		warnf(a.io, "asked for a %ds session timeout, the server granted %ds", asked, res.Granted)
	}
	infof(a.io, "session %q began: %s", name, res.Session.State.ID)
	return nil
}

// warnOrphan says what became of a session the reply of a failed begin
// opened nonetheless.
func (a *appCtx) warnOrphan(res *session.Result) {
	if res == nil || res.Orphan == "" {
		return
	}
	if res.OrphanErr != nil {
		warnf(a.io, "the server opened session %s although the begin failed, and it could not be ended (%v): it stays open there until it expires", res.Orphan, res.OrphanErr)
	} else {
		warnf(a.io, "the server opened session %s although the begin failed; it was ended again", res.Orphan)
	}
}

// beginAgain opens anew a session that ended or was rejected, as it
// began, and replays its journal.
func (a *appCtx) beginAgain(c *cli.Context) error {
	if err := noMoreArgs(c, 0); err != nil {
		return err
	}
	for _, f := range []string{"url", "dialect", "timeout", "idle-timeout", "user", "var", "var-file", "template", "capture", "ns", "dry-run"} {
		if c.IsSet(f) {
			return usageError("begin --again begins as the session began last time: --%s cannot go with it (begin afresh to change it)", f)
		}
	}
	m, err := a.manager(c)
	if err != nil {
		return err
	}
	name, err := a.sessionName(c)
	if err != nil {
		return err
	}
	s, err := m.Load(name)
	if err != nil {
		return err
	}
	if s.State.Open() {
		return withCode(ExitSession, fmt.Errorf("session %q (ID %s) is still open", name, s.State.ID),
			"send in it, or soapsess end it first; begin --again is for a session that ended or was rejected")
	}
	if s.Conn, err = a.connect(c, s.Conn, s.Dialect); err != nil { // the password: before the pager
		return err
	}
	out, err := a.output(c)
	if err != nil {
		return err
	}
	m.Trace = a.trace(out)
	sinks, finish := a.sinks(out, envelope.Begin, nil)
	res, err := s.Again(c.Context, sinks, a.replayed)
	a.warnOrphan(res)
	if err := a.shown(res, authRefused(err, s.Conn), out, finish); err != nil {
		return err
	}
	infof(a.io, "session %q began again: %s; %d setup requests replayed", name, s.State.ID, res.Replayed)
	return nil
}

// replayed shows what one replayed journal request reported.
func (a *appCtx) replayed(r session.Replay) {
	if r.Result != nil {
		a.printProblems(r.Result.Problems)
	}
	if r.Err == nil {
		infof(a.io, "replayed setup request %d of %d (%s)", r.Index, r.Of, r.Body)
	}
}

// plainRemote reports an http:// URL to a host that is not loopback.
func plainRemote(raw string) bool {
	u, err := neturl.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
