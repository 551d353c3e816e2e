package cmd

import (
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/state"
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
		}, append(varFlags(), outputFlags()...)...), connFlags()...),
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
	if err := checkURL(url); err != nil {
		return err
	}
	if c.Int("timeout") < 0 {
		return usageError("--timeout must be a positive number of seconds")
	}
	d, err := findDialect(dialectName)
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
	store, err := a.store(c)
	if err != nil {
		return err
	}
	// Refuse before sending anything: an open session would be overwritten.
	if old, err := store.Get(name); err == nil {
		return fmt.Errorf("%w named %q (ID %s on %s)", state.ErrExists, name, old.ID, old.URL)
	} else if !errors.Is(err, state.ErrNoSession) {
		return err
	}
	user := c.String("user")
	cn, err := a.connect(c, nil, user, d)
	if err != nil {
		return err
	}
	pass := cn.pass
	if user != "" && plainRemote(url) {
		warnf(a.io, "the password for %s goes over plain http:// to %s; anyone on the way can read it", user, url)
	}
	asked := c.Int("timeout")
	values := envelope.Values{Timeout: asked, User: user, URL: url, Vars: vars, Password: pass}
	body, err := a.bodyArg(c, d, envelope.Begin, values)
	if err != nil {
		return err
	}
	// The session's later headers and end body must be makeable before a
	// session is opened that could otherwise never be used or ended;
	// variables may still come with send and end.
	later := values
	later.ID, later.IDName = "check", "SessionId"
	if err := d.CheckValues(later); err != nil && !errors.Is(err, envelope.ErrMissingVar) {
		return err
	}
	if _, _, err := d.DefaultBody(envelope.End, later); err != nil && !errors.Is(err, envelope.ErrMissingVar) {
		return err
	}
	show, err := a.output(c)
	if err != nil {
		return err
	}
	out, err := a.do(c.Context, &exchange{
		dialect: d, phase: envelope.Begin, body: body, url: url, conn: cn, values: values,
	}, show)
	if errors.Is(err, errDryRun) {
		return nil // nothing sent, nothing kept
	}
	if err != nil {
		return err
	}
	info, err := d.Session(out.reply)
	if errors.Is(err, envelope.ErrNoSessionID) {
		return withCode(ExitReply, fmt.Errorf("%s answered without a session ID, so no session was opened", url),
			"check the --dialect and the URL; a server without session support ignores the begin header")
	}
	if err != nil {
		return withCode(ExitReply, err)
	}
	if asked > 0 && info.Timeout > 0 && info.Timeout < asked {
		warnf(a.io, "asked for a %ds session timeout, the server granted %ds", asked, info.Timeout)
	}
	now := time.Now().UTC().Truncate(time.Second)
	sess := &state.Session{
		Name: name, Dialect: d.Ref(), URL: url, ID: info.ID, IDName: info.IDName,
		Created: now, LastUsed: now, Timeout: info.Timeout, User: user, Vars: vars, Requests: 1,
	}
	cn.keep(sess)
	if err := store.Create(sess); err != nil {
		return withCode(ExitError, fmt.Errorf("the server opened session %s, but it could not be kept: %w", info.ID, err))
	}
	infof(a.io, "%s %s in %s, session %q began: %s", out.resp.Proto, out.resp.Reason, ms(out.resp.Elapsed), name, info.ID)
	return nil
}

// checkURL refuses what cannot be a SOAP endpoint before anything is sent.
func checkURL(raw string) error {
	u, err := neturl.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError("--url %s: want an http:// or https:// URL", raw)
	}
	if u.User != nil {
		return usageError("--url: credentials in the URL are not accepted; use --user and SOAPSESS_PASSWORD")
	}
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
