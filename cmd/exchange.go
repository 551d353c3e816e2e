package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/printer"
	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/transport"
)

// exchange is one SOAP call of a session: what to send and where.
type exchange struct {
	dialect *envelope.Dialect
	phase   envelope.Phase
	values  envelope.Values
	body    *envelope.Body
	url     string
	conn    *conn
}

// outcome is what came back from a server that answered.
type outcome struct {
	resp     *transport.Response
	streamed *reply.Streamed
	reply    *reply.Reply // the whole reply, parsed, for begin, end and --xpath; nil otherwise
	soap     bool         // the answer was a SOAP envelope
}

// faultError is the first error a reply reported (a SOAP fault, or an error
// in the body); the reply itself is on stdout and the other problems were
// printed already.
type faultError struct {
	summary  string
	rejected bool // the server says it does not know the session
	printed  bool // already on stderr
}

func (e *faultError) Error() string { return e.summary }

// keepLimit bounds a begin or end reply held whole to find the session ID in it.
const keepLimit = 64 << 20

// do builds and posts the envelope and streams the answer to stdout as the
// output options say. It returns an outcome whenever the server answered,
// and an error classified for the exit code when the answer is not a
// success. What the server sent always reaches stdout (a fault, an HTML
// error page), so nothing is lost.
func (a *appCtx) do(ctx context.Context, x *exchange, out *output) (*outcome, error) {
	env, err := x.dialect.Build(x.phase, x.values, x.body)
	if err != nil {
		return nil, err
	}
	inner, err := x.dialect.Inner(x.body)
	if err != nil {
		return nil, err
	}
	ct, action, err := x.dialect.HTTPHeaders(inner)
	if err != nil {
		return nil, err
	}
	if x.conn.action != "" {
		if x.dialect.SOAPVersion == "1.2" {
			ct = "application/soap+xml; charset=utf-8; action=\"" + strings.Trim(x.conn.action, `"`) + "\""
		} else {
			action = x.conn.action
		}
	}
	req := transport.Request{URL: x.url, SOAPAction: action, ContentType: ct, Body: env, User: x.conn.user, Password: x.conn.pass}
	if x.conn.dryRun {
		return nil, a.dryRun(req, x.conn)
	}
	if err := a.showRequest(out, req); err != nil {
		return nil, err
	}
	cl, err := a.client(x.conn)
	if err != nil {
		return nil, err
	}
	prog := a.startProgress(a.io.OutTTY)
	defer prog.stop()
	resp, err := cl.Do(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, withCode(ExitInterrupt, fmt.Errorf("interrupted while waiting for %s", x.url))
		}
		return nil, err
	}
	defer resp.Body.Close()
	o := &outcome{resp: resp}
	if out.has('h') {
		a.showReplyHead(resp)
	}
	if x.phase != envelope.Begin {
		infof(a.io, "%s %s in %s, session %s", resp.Proto, resp.Reason, ms(resp.Elapsed), x.values.ID)
	}

	var body io.Reader = resp.Body
	if prog != nil {
		body = &counting{r: body, p: prog}
	}
	var keep *bytes.Buffer
	if x.phase != envelope.Session || out.query != nil {
		keep = &bytes.Buffer{}
		body = io.TeeReader(body, &limited{w: keep, n: keepLimit})
	}
	opt := reply.StreamOptions{RequireSOAP: true, NotSOAP: a.io.Out}
	var p *printer.Printer
	switch {
	case out.raw:
		body = io.TeeReader(body, a.io.Out)
		opt.NotSOAP = io.Discard
	case out.query != nil:
		// only the values asked for go to stdout
	case out.has('s') || out.has('b'):
		p = printer.New(a.io.Out, printer.Options{Pretty: out.pretty, Palette: palette(out.color), Trusted: true})
		if out.has('s') {
			opt.Header = p
		}
		if out.has('b') {
			opt.Body = p
		}
	}
	st, serr := reply.Stream(body, opt)
	o.streamed = st
	if p != nil {
		if err := p.Close(); err != nil && serr == nil {
			serr = err
		}
	}
	if serr != nil {
		if ctx.Err() != nil {
			return o, withCode(ExitInterrupt, fmt.Errorf("interrupted while reading the reply from %s", x.url))
		}
		var ns *reply.NotSOAPError
		var te *transport.Error
		switch {
		case errors.As(serr, &te):
			return o, serr
		case errors.As(serr, &ns):
			what := describe(resp, ns)
			if loc := resp.Header.Get("Location"); resp.Status >= 300 && resp.Status < 400 && loc != "" {
				return o, withCode(ExitTransport, fmt.Errorf("HTTP %s from %s: it redirects to %s", resp.Reason, x.url, loc),
					"soapsess does not follow redirects (a POST would lose its envelope); use the new URL with begin --url")
			}
			if !resp.OK() {
				return o, withCode(ExitTransport, fmt.Errorf("HTTP %s from %s, and %s", resp.Reason, x.url, what))
			}
			return o, withCode(ExitReply, fmt.Errorf("%s replied HTTP %s with %s", x.url, resp.Reason, what))
		}
		o.soap = true
		code := ExitReply
		if !resp.OK() {
			code = ExitTransport
		}
		return o, withCode(code, fmt.Errorf("the reply from %s (HTTP %s) is not well-formed XML: %w", x.url, resp.Reason, serr))
	}
	o.soap = true
	if fe := a.problems(st, x); fe != nil {
		return o, fe
	}
	if !resp.OK() {
		return o, withCode(ExitTransport, fmt.Errorf("HTTP %s from %s with a SOAP reply that holds no fault", resp.Reason, x.url))
	}
	if keep != nil {
		if keep.Len() >= keepLimit {
			return o, withCode(ExitReply, fmt.Errorf("the reply from %s is larger than %d MiB; it cannot be searched", x.url, keepLimit>>20))
		}
		if o.reply, err = reply.Parse(keep.Bytes()); err != nil {
			return o, withCode(ExitReply, err)
		}
		if out.query != nil {
			return o, out.query.print(a.io, keep.Bytes())
		}
	}
	return o, nil
}

// problems prints what the reply reported and returns the first error, if
// any, to end the command with.
func (a *appCtx) problems(st *reply.Streamed, x *exchange) *faultError {
	var first *faultError
	for _, pr := range st.Problems {
		if pr.Severity != reply.SeverityError {
			warnf(a.io, "%s", pr.Summary())
			continue
		}
		errorf(a.io, "%s", pr.Summary()) // in the order the reply has them
		if first == nil {
			first = &faultError{summary: pr.Summary(), printed: true}
		}
		if x != nil && x.phase != envelope.Begin && x.dialect.Rejected(pr) {
			first.rejected = true
		}
	}
	return first
}

// describe says what a non-SOAP reply is, for error messages.
func describe(r *transport.Response, why error) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	what := "a body"
	if mt != "" {
		what = "a " + mt + " body"
	}
	var ns *reply.NotSOAPError
	if errors.As(why, &ns) && ns.Err != nil {
		return what + " that is not a SOAP envelope (" + ns.Err.Error() + ")"
	}
	return what + " that is not a SOAP envelope"
}

// errDryRun ends a command after --dry-run printed the request.
var errDryRun = errors.New("dry run")

// dryRun prints the exact request that would be sent: headers and envelope.
func (a *appCtx) dryRun(r transport.Request, cn *conn) error {
	w := a.io.Out
	// As Go's HTTP client writes them: header names canonical, gzip asked for.
	fmt.Fprintf(w, "POST %s\n", r.URL)
	fmt.Fprintf(w, "Content-Type: %s\n", r.ContentType)
	if r.SOAPAction != "" {
		fmt.Fprintf(w, "%s: %s\n", http.CanonicalHeaderKey("SOAPAction"), r.SOAPAction)
	}
	fmt.Fprintf(w, "Accept: text/xml, application/soap+xml, */*;q=0.5\nAccept-Encoding: gzip\nUser-Agent: soapsess/%s\n", version())
	for k, vs := range cn.opt.Header {
		for _, v := range vs {
			fmt.Fprintf(w, "%s: %s\n", k, transport.RedactHeader(k, v))
		}
	}
	if r.User != "" && cn.opt.Auth != transport.AuthNone {
		scheme := "Basic"
		if cn.opt.Auth == transport.AuthNTLM || cn.opt.Auth == transport.AuthNegotiate {
			scheme = "NTLM"
		}
		fmt.Fprintf(w, "Authorization: %s [redacted] (user %s)\n", scheme, r.User)
	}
	fmt.Fprintf(w, "\n%s", transport.Redact(r.Body, cn.pass))
	return errDryRun
}

// showRequest prints the request line, headers and envelope, as --print asks.
func (a *appCtx) showRequest(out *output, r transport.Request) error {
	if out.has('H') {
		w := a.io.Out
		fmt.Fprintf(w, "POST %s\n", r.URL)
		fmt.Fprintf(w, "Content-Type: %s\n", r.ContentType)
		if r.SOAPAction != "" {
			fmt.Fprintf(w, "%s: %s\n", http.CanonicalHeaderKey("SOAPAction"), r.SOAPAction)
		}
		if r.User != "" {
			fmt.Fprintf(w, "Authorization: [redacted] (user %s)\n", r.User)
		}
		fmt.Fprintln(w)
	}
	if out.has('E') {
		err := printer.Format(a.io.Out, bytes.NewReader(transport.Redact(r.Body, r.Password)), printer.Options{Pretty: true, Palette: palette(out.color)})
		if err != nil {
			return err
		}
		fmt.Fprintln(a.io.Out)
	}
	return nil
}

func (a *appCtx) showReplyHead(r *transport.Response) {
	fmt.Fprintf(a.io.Out, "%s %s\n", r.Proto, r.Reason)
	transport.WriteHeaders(a.io.Out, "", r.Header)
	fmt.Fprintln(a.io.Out)
}

// limited keeps at most n bytes and drops the rest; the reply still streams.
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// readBody reads BODY: a file, or "-" for standard input; with --template it
// is filled in first.
func (a *appCtx) readBody(arg string, d *envelope.Dialect, tmpl bool, v envelope.Values) (*envelope.Body, error) {
	var (
		raw []byte
		err error
	)
	if arg == "-" {
		raw, err = io.ReadAll(a.io.In)
		arg = "standard input"
	} else {
		raw, err = os.ReadFile(arg)
	}
	if err != nil {
		return nil, withCode(ExitUsage, fmt.Errorf("read body: %w", err))
	}
	if tmpl {
		if raw, err = d.RenderBody(arg, raw, v); err != nil {
			return nil, err
		}
	}
	b, err := envelope.ParseBody(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	return b, nil
}

// bodyArg picks the body: the argument, else the dialect's default for the
// phase, else standard input (refusing a terminal, which would just hang).
func (a *appCtx) bodyArg(c *cli.Context, d *envelope.Dialect, p envelope.Phase, v envelope.Values) (*envelope.Body, error) {
	arg, tmpl := c.Args().First(), c.Bool("template")
	if arg != "" {
		return a.readBody(arg, d, tmpl, v)
	}
	if b, ok, err := d.DefaultBody(p, v); ok {
		return b, err
	}
	if a.io.InTTY {
		return nil, usageError("give the body as a file, or pipe it in: soapsess send query.xml, or ... | soapsess send -")
	}
	return a.readBody("-", d, tmpl, v)
}
