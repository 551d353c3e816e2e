package cmd

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/printer"
	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/session"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
)

// manager is the session library for one command: the store and how to
// find dialects. Its Trace is set once the output options are known (see
// trace).
func (a *appCtx) manager(c *cli.Context) (*session.Manager, error) {
	store, err := a.store(c)
	if err != nil {
		return nil, err
	}
	if c.Float64("lock-timeout") < 0 {
		return nil, usageError("--lock-timeout is a positive number of seconds")
	}
	return &session.Manager{
		Store: store, Dialects: a.findDialect, ProxyFromEnv: http.ProxyFromEnvironment,
		UserAgent: "soapsess/" + version(), EndBackoff: endBackoff,
		Retry: func(r session.Retry) {
			warnf(a.io, "%v; trying again (%d of %d)", r.Err, r.Attempt, r.Of)
		},
		LockTimeout: seconds(c.Float64("lock-timeout")),
		Waiting: func(name string) {
			if a.io.ErrTTY {
				fmt.Fprintf(a.io.Err, "soapsess: waiting for another request of session %q to finish…\n", name)
			}
		},
	}, nil
}

// endBackoff is the pause before end tries an unreachable server again (0:
// the library's); tests shorten it.
var endBackoff time.Duration

// trace sends the wire to where the flags say: every request and reply head
// to stderr with -v (to the demo's trace with bodies), the request heads to
// stdout with --print H, the first envelope with --print E.
func (a *appCtx) trace(out *output) *transport.Trace {
	t := &transport.Trace{}
	var sinks []func(head string, body []byte)
	switch {
	case a.io.Trace != nil: // the demo
		w := a.io.Trace
		sinks = append(sinks, func(head string, body []byte) { writeTrace(w, "> ", head, body) })
		t.Response = func(head string) { writeTrace(w, "< ", head, nil) }
		t.ReplyBody = w
	case a.verbose:
		w := a.io.Err
		sinks = append(sinks, func(head string, body []byte) { writeTrace(w, "> ", head, body) })
		t.Response = func(head string) { writeTrace(w, "< ", head, nil) }
	}
	if out != nil && out.has('H') {
		sinks = append(sinks, func(head string, _ []byte) { fmt.Fprintf(a.io.Out, "%s\n", head) })
	}
	if out != nil && out.has('E') {
		shown := false
		sinks = append(sinks, func(_ string, body []byte) {
			if !shown { // every round of an NTLM handshake carries the same envelope
				shown = true
				a.showEnvelope(out, body)
			}
		})
	}
	if len(sinks) == 0 && t.Response == nil {
		return nil
	}
	t.Request = func(head string, body []byte) {
		for _, s := range sinks {
			s(head, body)
		}
	}
	return t
}

// writeTrace writes a head, each line after prefix, then a body.
func writeTrace(w io.Writer, prefix, head string, body []byte) {
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(strings.TrimSuffix(head, "\n"), "\n") {
		b.WriteString(prefix + strings.TrimSuffix(line, "\n") + "\n")
	}
	b.WriteString(strings.TrimSpace(prefix) + "\n")
	if len(body) > 0 {
		b.Write(body)
		if !bytes.HasSuffix(body, []byte("\n")) {
			b.WriteByte('\n')
		}
	}
	w.Write(b.Bytes())
}

// showEnvelope prints a request envelope (secrets already redacted) indented.
func (a *appCtx) showEnvelope(out *output, env []byte) {
	if err := printer.Format(a.io.Out, bytes.NewReader(env), printer.Options{Pretty: true, Palette: palette(out.color)}); err != nil {
		a.io.Out.Write(env)
	}
	fmt.Fprintln(a.io.Out)
}

// sinks route a reply to stdout as the output options say. finish flushes
// the printer; it runs once the call returned.
func (a *appCtx) sinks(out *output, p envelope.Phase, sessionID func() string) (session.Sinks, func() error) {
	s := session.Sinks{NotSOAP: a.io.Out}
	s.Arrived = func(r *transport.Response) {
		if out.has('h') {
			fmt.Fprintf(a.io.Out, "%s\n", r.Head())
		}
		switch {
		case a.paging:
		case p == envelope.Begin: // the ID is in the reply, not read yet
			infof(a.io, "%s %s in %s", r.Proto, r.Reason, ms(r.Elapsed))
		default:
			infof(a.io, "%s %s in %s, session %s", r.Proto, r.Reason, ms(r.Elapsed), sessionID())
		}
	}
	var prog *progress
	if !a.paging {
		prog = a.startProgress(a.io.OutTTY)
	}
	if prog != nil {
		s.Reading = func(r io.Reader) io.Reader { return &counting{r: r, p: prog} }
	}
	var pr *printer.Printer
	switch {
	case out.raw:
		s.Raw = a.io.Out
		s.NotSOAP = nil
	case out.query != nil:
		out.query.listen(&s, a.paging) // only the values asked for go to stdout
		s.NotSOAP = a.io.Out
	case out.has('s') || out.has('b'):
		pr = printer.New(a.io.Out, printer.Options{Pretty: out.pretty, Palette: palette(out.color), Trusted: true})
		if out.has('s') {
			s.Header = pr
		}
		if out.has('b') {
			s.Body = pr
		}
	}
	finish := func() error {
		prog.stop()
		out.query.close()
		if pr != nil {
			return pr.Close()
		}
		return nil
	}
	return s, finish
}

// shown ends a call: the printer flushed, the problems the reply reported
// printed in order, the preview of a dry run, the --xpath values.
func (a *appCtx) shown(res *session.Result, err error, out *output, finish func() error) error {
	ferr := finish()
	if res != nil {
		a.printProblems(res.Problems)
		if res.Preview != nil {
			fmt.Fprintf(a.io.Out, "%s\n%s", res.Preview.Head, res.Preview.Envelope)
			return nil
		}
	}
	if err != nil {
		return err
	}
	if ferr != nil {
		return ferr
	}
	if out.query != nil && res != nil {
		return out.query.print(a.io, res.Kept)
	}
	return nil
}

// body is BODY: a file, or "-" for standard input; none takes the dialect's
// own body for the phase, else standard input (refusing a terminal, which
// would just hang).
func (a *appCtx) body(c *cli.Context, d *envelope.Dialect, p envelope.Phase) (session.Body, func(), error) {
	arg, tmpl := c.Args().First(), c.Bool("template")
	none := func() {}
	limit, err := maxBody(c)
	if err != nil {
		return session.Body{}, none, err
	}
	if arg == "" {
		if err := a.swallowedFile(c); err != nil {
			return session.Body{}, none, err
		}
	}
	switch {
	case arg == "" && d.HasDefaultBody(p):
		return session.Body{}, none, nil
	case arg == "" && a.io.InTTY:
		return session.Body{}, none, usageError("give the body as a file, or pipe it in: soapsess send query.xml, or ... | soapsess send -")
	case arg == "" || arg == "-":
		return session.Body{R: a.io.In, Name: "standard input", Template: tmpl, Max: limit}, none, nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return session.Body{}, none, withCode(ExitUsage, fmt.Errorf("read body: %w", err))
	}
	return session.Body{R: f, Name: arg, Template: tmpl, Max: limit}, func() { f.Close() }, nil
}

// swallowedFile refuses an --xpath that names an XML file when no file is
// given: "send -x query.xml" takes query.xml as the expression, and the
// body would come from standard input or the dialect's default instead of
// the file. Only a value given as an argument of its own (not --xpath=V)
// and naming a file that starts like XML counts: "-x row", with a file
// named row in the directory, is still an expression.
func (a *appCtx) swallowedFile(c *cli.Context) error {
	x := c.String("xpath")
	if x == "" || c.NArg() > 0 {
		return nil
	}
	flag := ""
	for i, arg := range a.args[:max(len(a.args)-1, 0)] {
		if (arg == "-x" || arg == "--xpath") && a.args[i+1] == x {
			flag = arg
		}
	}
	if flag == "" || !looksLikeXML(x) {
		return nil
	}
	return withCode(ExitUsage, fmt.Errorf("%s took %q as its expression, and no body file was given", flag, x),
		fmt.Sprintf("put the expression after %s and the file last: soapsess %s %s 'EXPR' %s (--xpath=%s takes it as an expression)",
			flag, c.Command.Name, flag, x, x))
}

// looksLikeXML reports whether path is a regular file whose first byte
// after any space is '<'.
func looksLikeXML(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	head = bytes.TrimLeft(bytes.TrimPrefix(head[:n], []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(head) > 0 && head[0] == '<'
}

// open loads the session named by --session, its connection settings
// overridden by the flags and the password read if it needs one.
func (a *appCtx) open(c *cli.Context, m *session.Manager) (*session.Session, error) {
	name, err := a.sessionName(c)
	if err != nil {
		return nil, err
	}
	open := m.Open
	if c.Bool("restart") {
		open = m.Load // a session the server rejected is begun again by Send
	}
	s, err := open(name)
	if err != nil {
		return nil, err
	}
	if s.Conn, err = a.connect(c, s.Conn, s.Dialect); err != nil {
		return nil, err
	}
	return s, nil
}

// call is what send and end share: the session, its request, the output.
func (a *appCtx) call(c *cli.Context, p envelope.Phase,
	do func(*session.Session, session.Request) (*session.Result, error)) error {
	if err := noMoreArgs(c, 1); err != nil {
		return err
	}
	m, err := a.manager(c)
	if err != nil {
		return err
	}
	s, err := a.open(c, m) // asks for a password: before the pager takes the terminal
	if err != nil {
		return err
	}
	vars, err := readVars(c)
	if err != nil {
		return err
	}
	var caps []envelope.Capture
	if p == envelope.Session {
		if caps, err = captures(c); err != nil {
			return err
		}
	}
	b, out, closeBody, err := a.bodyAndOutput(c, m, s.Dialect, p)
	defer closeBody()
	if err != nil {
		return err
	}
	sinks, finish := a.sinks(out, p, func() string { return s.State.ID })
	res, err := do(s, session.Request{Body: b, Vars: vars, Reply: sinks, DryRun: c.Bool("dry-run"), Captures: caps})
	a.showCaptures(res, caps)
	return a.shown(res, authRefused(err, s.Conn), out, finish)
}

// bodyAndOutput reads BODY and the output options, and points the trace
// where they say. It comes last before sending, as the pager it may start
// takes the terminal.
func (a *appCtx) bodyAndOutput(c *cli.Context, m *session.Manager, d *envelope.Dialect, p envelope.Phase) (session.Body, *output, func(), error) {
	b, closeBody, err := a.body(c, d, p)
	if err != nil {
		return b, nil, closeBody, err
	}
	out, err := a.output(c)
	if err != nil {
		return b, nil, closeBody, err
	}
	m.Trace = a.trace(out)
	return b, out, closeBody, nil
}

// namedStore is the session name and the store, for the commands that
// only look at the state.
func (a *appCtx) namedStore(c *cli.Context) (string, *state.Store, error) {
	name, err := a.sessionName(c)
	if err != nil {
		return "", nil, err
	}
	store, err := a.store(c)
	return name, store, err
}

// printProblems prints what a reply reported, in its order, and returns its
// first error (already printed) to end the command with.
func (a *appCtx) printProblems(ps []reply.Problem) error {
	var first error
	for _, p := range ps {
		if p.Severity != reply.SeverityError {
			warnf(a.io, "%s", p.Summary())
			continue
		}
		errorf(a.io, "%s", p.Summary())
		if first == nil {
			first = &session.FaultError{Problem: p}
		}
	}
	return first
}
