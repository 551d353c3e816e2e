package cmd

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/session"
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
	ExitSession   = 5   // no open session under that name (begin: one already open), it ended or the server rejected it as unknown or expired, or it stayed busy past --lock-timeout
	ExitReply     = 6   // a 2xx reply that is not SOAP, or a reply without what the session needs (ID, end confirmation)
	ExitInterrupt = 130 // interrupted (Ctrl-C or SIGTERM; a second Ctrl-C quits at once, unless the pager runs) before the server answered; the session is left as it was
)

// ExitCodes documents the codes, in order, for help and README.
var ExitCodes = []struct {
	Code    int
	Meaning string
}{
	{ExitOK, "success"},
	{ExitError, "unexpected or local error (state file, file system)"},
	{ExitUsage, "usage: unknown command, flag or dialect, or a body that is not well-formed XML"},
	{ExitFault, "the server answered with a SOAP fault (the fault is on stdout; a replayed setup request's, on stderr)"},
	{ExitTransport, "transport or HTTP failure: refused, timed out, a reply cut short, or an HTTP error status without a SOAP body"},
	{ExitSession, "session problem: none open under that name (begin: one already is), it ended, the server rejected it as unknown or expired, or another request kept it busy past --lock-timeout"},
	{ExitReply, "a 2xx reply that is not SOAP, or one without what the session needs (begin: an ID; end: a confirmation)"},
	{ExitInterrupt, "interrupted (Ctrl-C or SIGTERM; a second Ctrl-C quits at once, unless the pager runs) before the server answered; the session is left as it was"},
	{ExitPipe, "the reader of stdout went away (... | head): the command ran to its end, the request counted, its output dropped"},
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
	var (
		ee          *exitError
		corrupt     *state.CorruptError
		notPrivate  *state.NotPrivateError
		body        *envelope.BodyError
		dialect     *envelope.DialectError
		refused     *envelope.RefusedError
		badURL      *transport.URLError
		config      *transport.ConfigError
		tr          *transport.Error
		interrupted *session.InterruptedError
		notEnded    *session.NotEndedError
		notKept     *session.NotKeptError
		fault       *session.FaultError
		unconfirmed *session.EndNotConfirmedError
		httpErr     *session.HTTPError
		redirect    *session.RedirectError
		replyErr    *session.ReplyError
		notPageable *session.NotPageableError
		pageSize    *session.PageSizeError
		beginOnly   *session.BeginOnlyError
		replay      *session.ReplayError
		restart     *session.RestartError
		ended       *session.EndedError
		busy        *session.BusyError
		noRecipe    *session.NoRecipeError
		tooLarge    *session.BodyTooLargeError
		truncated   *session.TruncatedError
		krb         *transport.KerberosError
	)
	switch {
	case errors.As(err, &ee):
		return ee.code, ee.hints
	case errors.As(err, &replay): // the request's own code
		code, _ := classify(replay.Err)
		return code, []string{"the new session is open, with its whole journal: soapsess status shows it, soapsess end closes it"}
	case errors.As(err, &restart):
		code, hints := classify(restart.Err)
		return code, hints
	case errors.As(err, &ended):
		return ExitSession, []string{"soapsess begin --again opens a new session as this one began and replays its setup requests; soapsess end --forget drops the record"}
	case errors.As(err, &busy):
		return ExitSession, []string{"another soapsess is using the session; wait for it, or give a longer --lock-timeout"}
	case errors.As(err, &noRecipe):
		return ExitSession, []string{"begin it as before, with --url and --dialect (soapsess status shows them)"}
	case errors.Is(err, session.ErrIdleUnknown):
		return ExitUsage, []string{"give --every SECONDS, or begin with --idle-timeout SECONDS"}
	case errors.Is(err, session.ErrNoKeepalive), errors.Is(err, session.ErrSetupTooLarge), errors.Is(err, session.ErrRestartRaw):
		return ExitUsage, nil
	case errors.As(err, &interrupted):
		return ExitInterrupt, nil
	case errors.As(err, &notEnded):
		code, _ := classify(notEnded.Err)
		if errors.As(notEnded.Err, &krb) {
			return code, []string{kerberosHint(krb)}
		}
		return code, []string{"soapsess end again once the server is reachable, or soapsess end --forget"}
	case errors.As(err, &notKept):
		return ExitError, nil
	case errors.As(err, &notPrivate):
		return ExitError, []string{privateHint(notPrivate)}
	case errors.Is(err, fs.ErrPermission) && !errors.As(err, &tr) && !errors.As(err, &body):
		return ExitError, []string{"soapsess cannot write there: check the owner and permissions of the state directory (or give another with --state-dir)"}
	case errors.Is(err, state.ErrLink):
		return ExitError, []string{"remove the link: soapsess makes its lock files itself, in its state directory"}
	case errors.As(err, &corrupt): // before what it wraps: that is the file's fault, not the user's
		return ExitError, []string{"look at the file, then remove it (soapsess end --forget) to start afresh"}
	case errors.As(err, &badURL):
		if errors.Is(err, transport.ErrURLCredentials) {
			return ExitUsage, []string{"use --user, and SOAPSESS_PASSWORD or --password-file"}
		}
		return ExitUsage, nil
	case errors.As(err, &notPageable), errors.As(err, &pageSize), errors.As(err, &beginOnly):
		return ExitUsage, nil
	case errors.As(err, &refused):
		if name, ok := refusedVar(refused); ok {
			return ExitUsage, []string{fmt.Sprintf("give another value with --var %s=VALUE (%s refused this one)", name, refused.File)}
		}
		return ExitUsage, []string{refused.File + " refused to render"}
	case errors.As(err, &tooLarge): // before the BodyError that wraps it
		return ExitUsage, []string{"give a larger --max-body SIZE to send it (e.g. --max-body 1G); the body is held in memory a few times over"}
	case errors.As(err, &config), errors.As(err, &body), errors.As(err, &dialect),
		errors.Is(err, envelope.ErrUnknownDialect), errors.Is(err, state.ErrBadName),
		errors.Is(err, envelope.ErrMissingVar), errors.Is(err, session.ErrNoBody):
		return ExitUsage, nil
	case errors.Is(err, state.ErrNoSession):
		return ExitSession, []string{"run soapsess begin --url URL --dialect NAME, or pick another --session; soapsess ls lists the sessions"}
	case errors.Is(err, state.ErrExists):
		return ExitSession, []string{"run soapsess end first, or name another session with --session NAME"}
	case errors.As(err, &unconfirmed): // before the fault it may wrap
		return ExitReply, []string{"try soapsess end again later, or soapsess end --forget to drop it locally"}
	case errors.As(err, &fault):
		if fault.Rejected {
			return ExitSession, []string{"soapsess begin --again opens a new session as this one began and replays its setup requests; send --restart does that by itself"}
		}
		return ExitFault, nil
	case errors.As(err, &redirect):
		return ExitTransport, []string{"soapsess does not follow redirects (a POST would lose its envelope); use the new URL with begin --url"}
	case errors.As(err, &krb): // before the transport error that carries it
		return ExitTransport, []string{kerberosHint(krb)}
	case errors.As(err, &truncated): // before the transport error it wraps
		return ExitTransport, []string{"the server may have carried out the request before the reply was cut; check before sending it again"}
	case errors.As(err, &httpErr):
		return ExitTransport, httpHint(httpErr)
	case errors.As(err, &tr):
		return ExitTransport, transportHint(tr)
	case errors.As(err, &replyErr):
		if errors.Is(err, session.ErrNoSessionID) {
			return ExitReply, []string{"check the --dialect and the URL; a server without session support ignores the begin header"}
		}
		if errors.Is(err, session.ErrEmptyReply) {
			return ExitReply, []string{"the server sent back nothing: check that --url is the SOAP endpoint and --dialect its protocol; -v shows the exchange, and the server's log may say why"}
		}
		return ExitReply, nil
	}
	return ExitError, nil
}

// transportHint says what to check when the server was not reached or
// the connection broke.
func transportHint(te *transport.Error) []string {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var dns *net.DNSError
	switch {
	case errors.Is(te, syscall.ECONNREFUSED):
		return []string{"nothing answers there: is the server up, and are the host and port in --url right?"}
	case errors.As(te, &dns):
		return []string{"the host name in --url cannot be resolved: check it (and the DNS or hosts file)"}
	case errors.As(te, &unknownCA):
		return []string{"the server's certificate is signed by a CA this machine does not trust: --cacert FILE trusts it (-k skips the check, and the protection)"}
	case errors.As(te, &hostname):
		return []string{"the server's certificate is for another name: use that name in --url"}
	case errors.Is(te, transport.ErrMaxTime):
		return []string{"give a longer --max-time, or none"}
	}
	return nil
}

// httpHint says what to check after an HTTP error status without a SOAP
// fault.
func httpHint(he *session.HTTPError) []string {
	switch he.Status {
	case http.StatusUnauthorized:
		hint := "the server wants credentials: begin the session with --user USER (the password from SOAPSESS_PASSWORD, --password-file or a prompt)"
		if m := transport.MethodFor(he.Offered); m != "" {
			hint += " and --auth " + string(m) + " (it offers " + strings.Join(he.Offered, ", ") + ")"
		}
		return []string{hint}
	case http.StatusNotFound:
		return []string{"no SOAP endpoint at that path: check the path in --url (e.g. /xmla, /olap/msmdpump.dll, /dsml/adssoap.dsmlx)"}
	case http.StatusMethodNotAllowed:
		return []string{"the URL does not take a POST: it is probably not the SOAP endpoint; check --url"}
	case http.StatusUnsupportedMediaType:
		return []string{"the server wants another SOAP version or Content-Type: check --dialect"}
	case http.StatusProxyAuthRequired:
		offers := ""
		if len(he.Offered) > 0 {
			offers = " (it offers " + strings.Join(he.Offered, ", ") + ")"
		}
		return []string{"the proxy wants credentials" + offers + ": soapsess does not send any to proxies; use one that lets you through, or --proxy"}
	}
	return nil
}

// kerberosHint says what to do about a Kerberos failure.
func kerberosHint(krb *transport.KerberosError) string {
	switch {
	case errors.Is(krb, transport.ErrKerberosPassword):
		return "check the password of " + krb.Principal + " (SOAPSESS_PASSWORD or --password-file); more wrong tries may lock the account"
	case errors.Is(krb, transport.ErrKerberosUnknownUser):
		return "check --user: user@REALM, or DOMAIN\\user, or a plain name in krb5.conf's default_realm"
	case errors.Is(krb, transport.ErrKerberosUnknownService):
		return "the KDC knows the server by another name: give it with --spn HTTP/host.example.com (an IP address or an alias in --url needs one)"
	case errors.Is(krb, transport.ErrKerberosSkew):
		return "this machine's clock and the KDC's differ by more than 5 minutes: set the clock right"
	case errors.Is(krb, transport.ErrKerberosExpired):
		return "run kinit again"
	case errors.Is(krb, transport.ErrKerberosNoTicket):
		return "run kinit first (KRB5CCNAME names the cache), or give --user and a password"
	case errors.Is(krb, transport.ErrKerberosCCacheType):
		return "only FILE caches can be read: KRB5CCNAME=FILE:/tmp/krb5cc_$(id -u) kinit, then run soapsess with the same KRB5CCNAME; or give --user and a password"
	case errors.Is(krb, transport.ErrKerberosNoConfig):
		return "set KRB5_CONFIG to a krb5.conf that names the realm and its KDCs"
	case errors.Is(krb, transport.ErrKerberosNoRealm):
		return "give --user as user@REALM, or set default_realm in krb5.conf"
	case errors.Is(krb, transport.ErrKerberosKDC):
		return "check the realm's kdc lines in krb5.conf (KRB5_CONFIG) and that the KDC answers on port 88"
	}
	return "KRB5_CONFIG and KRB5CCNAME say where krb5.conf and the ticket cache are; klist shows the ticket"
}

// authRefused says which HTTP auth a 401 refused, and what to check.
func authRefused(err error, cn session.Conn) error {
	var he *session.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized || cn.User == "" && cn.Auth != transport.AuthKerberos && cn.Auth != transport.AuthNegotiate {
		return err
	}
	method, as := cn.Auth, ""
	if method == "" {
		method = transport.AuthBasic
	}
	if cn.User != "" {
		as = " as " + cn.User
	}
	hint := "check --user and the password (SOAPSESS_PASSWORD or --password-file), or the Kerberos ticket (klist); -v shows each request of the handshake"
	if len(he.Offered) > 0 {
		hint = "the server offers " + strings.Join(he.Offered, ", ") + "; " + hint
		if m := transport.MethodFor(he.Offered); m != "" && !method.Answers(he.Offered) {
			hint = "the server offers " + strings.Join(he.Offered, ", ") + ", not " + string(method) + ": begin again with --auth " + string(m)
		}
	}
	return withCode(ExitTransport, fmt.Errorf("the server refused --auth %s%s: %w", method, as, err), hint)
}

// privateHint says how to make a file or directory the user's alone.
func privateHint(np *state.NotPrivateError) string {
	if runtime.GOOS == "windows" {
		inherit := ""
		if np.Dir {
			inherit = "(OI)(CI)"
		}
		return fmt.Sprintf(`in PowerShell, icacls "%s" /inheritance:r /grant:r "${env:USERNAME}:%sF" lets in only you`, np.Path, inherit)
	}
	if np.Dir {
		return "chmod 700 " + np.Path
	}
	return "chmod 600 " + np.Path
}

// refusedVar is the variable a template's refusal names, when its words
// begin "variable NAME", as the built-in dialects' do.
func refusedVar(r *envelope.RefusedError) (string, bool) {
	rest, ok := strings.CutPrefix(r.Message, "variable ")
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, " ")
	return name, name != ""
}

// message words an error for people: library errors name settings, cmd
// names the flags that give them.
func message(err error) string {
	var (
		config   *transport.ConfigError
		badURL   *transport.URLError
		missing  *envelope.MissingVarError
		tooLarge *session.BodyTooLargeError
	)
	switch {
	case errors.As(err, &config):
		return strings.Replace(err.Error(), config.Error(), "--"+config.Error(), 1)
	case errors.As(err, &badURL):
		return strings.Replace(err.Error(), badURL.Error(), "--url "+badURL.Error(), 1)
	case errors.As(err, &missing):
		return fmt.Sprintf("%s: give it with --var %s=VALUE (or in a --var-file)", err.Error(), missing.Name)
	case errors.As(err, &tooLarge):
		return err.Error() + " (--max-body)"
	case errors.Is(err, transport.ErrMaxTime):
		return strings.Replace(err.Error(), transport.ErrMaxTime.Error(), "no reply within --max-time", 1)
	}
	return err.Error()
}

// report prints an error in the house voice and returns its exit code.
func report(io *IO, err error) int {
	code, hints := classify(err)
	var fe *session.FaultError
	var unconfirmed *session.EndNotConfirmedError
	var replay *session.ReplayError
	var restart *session.RestartError
	switch {
	case errors.As(err, &unconfirmed), errors.As(err, &replay), errors.As(err, &restart):
		errorf(io, "%s", message(err))
	case errors.As(err, &fe) && fe.Rejected && err == error(fe):
		// The fault was printed as it came: say what it means, once.
		errorf(io, "the server no longer knows session %q (ID %s): it ended or expired there", fe.Name, fe.ID)
	case fe == nil:
		errorf(io, "%s", message(err))
	} // a reply's own problems are printed as they come
	for _, h := range hints {
		hintf(io, "%s", h)
	}
	return code
}

// infoAlways is infof on a pipe too: for what the command itself has to
// say (that there is nothing to list), not progress.
func infoAlways(io *IO, format string, args ...any) {
	fmt.Fprintf(io.Err, "soapsess: %s\n", transport.Printable(fmt.Sprintf(format, args...)))
}

// hintf prints a next step: after an error (report), or where a command
// has nothing to show.
func hintf(io *IO, format string, args ...any) {
	st := io.styles()
	fmt.Fprintf(io.Err, "soapsess: %shint:%s %s\n", st.hint.On, st.hint.Off, transport.Printable(fmt.Sprintf(format, args...)))
}

// warnf, errorf and infof print a message on stderr, one line whatever
// it holds: what a server chose (an ID, a fault's text) or a state file
// holds has its control characters escaped (transport.Printable), so it
// can neither fake a line of soapsess's own nor drive the terminal.
func warnf(io *IO, format string, args ...any) {
	st := io.styles()
	fmt.Fprintf(io.Err, "soapsess: %swarning:%s %s\n", st.warn.On, st.warn.Off, transport.Printable(fmt.Sprintf(format, args...)))
}

func errorf(io *IO, format string, args ...any) {
	st := io.styles()
	fmt.Fprintf(io.Err, "soapsess: %serror:%s %s\n", st.err.On, st.err.Off, transport.Printable(fmt.Sprintf(format, args...)))
}

func infof(io *IO, format string, args ...any) {
	if io.ErrTTY || io.Trace != nil {
		fmt.Fprintf(io.Err, "soapsess: %s\n", transport.Printable(fmt.Sprintf(format, args...)))
	}
}

// codeOf is the exit code of an error.
func codeOf(err error) int {
	code, _ := classify(err)
	return code
}

// ms is a duration as a status line shows it: to the millisecond, or to
// ten microseconds under one (loopback answers in 400µs, not "0s").
func ms(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
