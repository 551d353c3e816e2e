package cmd

import (
	"context"
	"fmt"
	"io"
	"mime"
	"os"
	"strings"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/transport"
)

// exchange is one SOAP call of a session: what to send and where.
type exchange struct {
	dialect *envelope.Dialect
	phase   envelope.Phase
	values  envelope.Values
	body    *envelope.Body
	url     string
	user    string
	pass    string
}

// outcome is what came back. reply is nil when the answer was not SOAP.
type outcome struct {
	resp  *transport.Response
	reply *envelope.Reply
}

// faultError is a SOAP fault the server answered with; the fault itself has
// already been written to stdout.
type faultError struct {
	fault    *envelope.Fault
	rejected bool // the fault says the server does not know the session
}

func (e *faultError) Error() string {
	f := e.fault
	msg := "SOAP fault " + f.Code
	if len(f.Subcodes) > 0 {
		msg += " (" + strings.Join(f.Subcodes, " / ") + ")"
	}
	if f.String != "" {
		msg += ": " + f.String
	}
	if f.Detail != "" && f.Detail != f.String {
		msg += " [" + f.Detail + "]"
	}
	return msg
}

// do builds and posts the envelope, writes what the server sent to stdout,
// and returns an error classified for the exit code when the answer is not a
// success. The reply body always reaches stdout, even with a fault or a
// non-SOAP answer, so nothing the server said is lost.
func (a *appCtx) do(ctx context.Context, x *exchange) (*outcome, error) {
	env, err := x.dialect.Build(x.phase, x.values, x.body)
	if err != nil {
		return nil, err
	}
	action, err := x.dialect.SOAPAction(x.body)
	if err != nil {
		return nil, err
	}
	resp, err := a.transport().Do(ctx, transport.Request{
		URL: x.url, SOAPAction: action, ContentType: x.dialect.ContentType(), Body: env,
		User: x.user, Password: x.pass,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, withCode(ExitInterrupt, fmt.Errorf("interrupted while waiting for %s", x.url))
		}
		return nil, err
	}
	out := &outcome{resp: resp}
	ok := resp.Status >= 200 && resp.Status < 300
	reply, perr := envelope.ParseReply(resp.Body)
	if perr != nil {
		if _, err := a.io.Out.Write(resp.Body); err != nil {
			return out, err
		}
		what := describe(resp)
		if !ok {
			return out, withCode(ExitTransport, fmt.Errorf("HTTP %s from %s, and %s", resp.Reason, x.url, what))
		}
		return out, withCode(ExitReply, fmt.Errorf("%s replied HTTP %s with %s", x.url, resp.Reason, what))
	}
	out.reply = reply
	if err := reply.WriteBody(a.io.Out); err != nil {
		return out, err
	}
	if reply.Fault != nil {
		return out, &faultError{fault: reply.Fault, rejected: x.phase != envelope.Begin && x.dialect.Rejected(reply.Fault)}
	}
	if !ok {
		return out, withCode(ExitTransport, fmt.Errorf("HTTP %s from %s with a SOAP reply that holds no fault", resp.Reason, x.url))
	}
	return out, nil
}

// describe says what a non-SOAP reply is, for error messages.
func describe(r *transport.Response) string {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case len(r.Body) == 0:
		return "an empty body"
	case mt != "":
		return fmt.Sprintf("a %s body that is not a SOAP envelope", mt)
	}
	return "a body that is not a SOAP envelope"
}

// readBody reads BODY: a file, or "-" for standard input.
func (a *appCtx) readBody(arg string) (*envelope.Body, error) {
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
	b, err := envelope.ParseBody(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arg, err)
	}
	return b, nil
}

// bodyArg picks the body: the argument, else the dialect's default for the
// phase, else standard input (refusing a terminal, which would just hang).
func (a *appCtx) bodyArg(arg string, d *envelope.Dialect, p envelope.Phase) (*envelope.Body, error) {
	if arg != "" {
		return a.readBody(arg)
	}
	if b, ok := d.DefaultBody(p); ok {
		return b, nil
	}
	if a.io.InTTY {
		return nil, usageError("give the body as a file, or pipe it in: soapsess send query.xml, or ... | soapsess send -")
	}
	return a.readBody("-")
}
