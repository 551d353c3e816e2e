package cmd

import (
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

Examples:
   soapsess begin --url http://127.0.0.1:8808/xmla --dialect xmla
   soapsess --session ad begin --url https://dc1/dsml/adssoap.dsmlx --dialect dsml --user 'CORP\ann'
   soapsess begin --url http://sql1/sql --dialect sqlsoap --timeout 600`,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "url", Usage: "the server's SOAP endpoint (http:// or https://)"},
			&cli.StringFlag{Name: "dialect", Aliases: []string{"d"}, Usage: "session protocol: " + strings.Join(envelope.Builtins(), ", ") + ", a dialect directory, or a name in ~/.config/soapsess/dialects"},
			&cli.IntFlag{Name: "timeout", Usage: "ask the server for a session timeout, in `SECONDS` (sqlsoap)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user `NAME` for HTTP auth (DOMAIN\\user or user@domain); kept with the session, its password never: see --password-file"},
		}, append(append(append(varFlags(), captureFlags()...), nsFlag()), outputFlags()...)...), connFlags()...),
		Action: a.begin,
	}
}

func (a *appCtx) begin(c *cli.Context) error {
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
	if c.Int("timeout") < 0 {
		return usageError("--timeout must be a positive number of seconds")
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
	if user != "" && plainRemote(url) {
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
		DryRun: c.Bool("dry-run"), Captures: caps,
	})
	a.showCaptures(res, caps)
	if res != nil && res.Orphan != "" {
		if res.OrphanErr != nil {
			warnf(a.io, "the server opened session %s although the begin failed, and it could not be ended (%v): it stays open there until it expires", res.Orphan, res.OrphanErr)
		} else {
			warnf(a.io, "the server opened session %s although the begin failed; it was ended again", res.Orphan)
		}
	}
	if err := a.shown(res, err, out, finish); err != nil || res.Preview != nil {
		return err
	}
	if asked > 0 && res.Granted > 0 && res.Granted < asked {
		warnf(a.io, "asked for a %ds session timeout, the server granted %ds", asked, res.Granted)
	}
	r := res.Reply
	infof(a.io, "%s %s in %s, session %q began: %s", r.Proto, r.Reason, ms(r.Elapsed), name, res.Session.State.ID)
	return nil
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
