package cmd

import (
	"errors"
	"fmt"
	"time"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
)

// Exit codes. They are part of the interface scripts rely on: never renumber.
const (
	ExitOK        = 0   // success
	ExitError     = 1   // unexpected or local error (state file, file system)
	ExitUsage     = 2   // bad command line or input: unknown command, flag or dialect, unusable body
	ExitFault     = 3   // the server answered with a SOAP fault (shown on stdout)
	ExitTransport = 4   // no answer (refused, timeout) or an HTTP error whose body is not SOAP
	ExitSession   = 5   // no active session under that name, or the server rejected it as unknown or expired
	ExitReply     = 6   // a 2xx reply that is not SOAP, or a reply without what the session needs (ID, end confirmation)
	ExitInterrupt = 130 // interrupted (Ctrl-C) before the server answered; the session is left as it was
)

// ExitCodes documents the codes, in order, for help and README.
var ExitCodes = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "success"},
	{ExitError, "unexpected or local error (state file, file system)"},
	{ExitUsage, "usage: unknown command, flag or dialect, or a body that is not well-formed XML"},
	{ExitFault, "the server answered with a SOAP fault (the fault is on stdout)"},
	{ExitTransport, "transport or HTTP failure: refused, timed out, or an HTTP error status without a SOAP body"},
	{ExitSession, "session problem: none open under that name, or the server rejected it as unknown or expired"},
	{ExitReply, "a 2xx reply that is not SOAP, or one without what the session needs (begin: an ID; end: a confirmation)"},
	{ExitInterrupt, "interrupted (Ctrl-C) before the server answered; the session is left as it was"},
}

// exitError carries an exit code and hints for an error.
type exitError struct {
	code  int
	err   error
	hints []string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error, hints ...string) error {
	return &exitError{code: code, err: err, hints: hints}
}

func usageError(format string, args ...any) error {
	return withCode(ExitUsage, fmt.Errorf(format, args...))
}

// classify maps an error to its exit code and hints; it is the only place
// that does.
func classify(err error) (int, []string) {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, ee.hints
	}
	var (
		body    *envelope.BodyError
		dialect *envelope.DialectError
		corrupt *state.CorruptError
		tr      *transport.Error
		fault   *faultError
	)
	switch {
	case errors.As(err, &corrupt): // first: what it wraps is the file's fault, not the user's
		return ExitError, []string{"look at the file, then remove it (soapsess end --forget) to start afresh"}
	case errors.As(err, &body), errors.As(err, &dialect),
		errors.Is(err, envelope.ErrUnknownDialect), errors.Is(err, state.ErrBadName):
		return ExitUsage, nil
	case errors.Is(err, envelope.ErrMissingVar):
		return ExitUsage, nil
	case errors.Is(err, state.ErrNoSession):
		return ExitSession, []string{"run soapsess begin --url URL --dialect NAME, or pick another --session; soapsess ls lists the open ones"}
	case errors.Is(err, state.ErrExists):
		return ExitError, []string{"run soapsess end first, or name another session with --session NAME"}
	case errors.As(err, &tr):
		return ExitTransport, nil
	case errors.As(err, &fault):
		return ExitFault, nil
	}
	return ExitError, nil
}

// report prints an error in the house voice and returns its exit code.
func report(io *IO, err error) int {
	code, hints := classify(err)
	var fe *faultError
	if !errors.As(err, &fe) || !fe.printed {
		errorf(io, "%s", err.Error())
	}
	st := io.styles()
	for _, h := range hints {
		fmt.Fprintf(io.Err, "soapsess: %shint:%s %s\n", st.hint.On, st.hint.Off, h)
	}
	return code
}

func warnf(io *IO, format string, args ...any) {
	st := io.styles()
	fmt.Fprintf(io.Err, "soapsess: %swarning:%s "+format+"\n", append([]any{st.warn.On, st.warn.Off}, args...)...)
}

func errorf(io *IO, format string, args ...any) {
	st := io.styles()
	fmt.Fprintf(io.Err, "soapsess: %serror:%s "+format+"\n", append([]any{st.err.On, st.err.Off}, args...)...)
}

func infof(io *IO, format string, args ...any) {
	if io.ErrTTY || io.Trace != nil {
		fmt.Fprintf(io.Err, "soapsess: "+format+"\n", args...)
	}
}

// codeOf is the exit code of an error.
func codeOf(err error) int {
	code, _ := classify(err)
	return code
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }
