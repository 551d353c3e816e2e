// Package session opens, uses and ends SOAP sessions: the state a server
// keeps between calls under a session ID carried in a SOAP header (DSML
// Services for Windows, XML for Analysis, SQL Server native SOAP, or a
// dialect of one's own).
//
// A Manager keeps sessions in a state.Store under names. Begin opens one on
// the server and keeps its ID; Open loads a kept one; Session.Send posts a
// request inside it, Session.SendAllPages pages a DSML search through it,
// and Session.End closes it, retrying as the dialect asks. Between calls a
// session carries its variables (captured from replies by the dialect's
// [[captures]] and the caller's) and its HTTP cookies, and a journal of the
// requests that built its state; Again begins a session anew from what it
// began with and replays the journal, and KeepAlive keeps an idle one from
// expiring. The package holds the session policy: a session's requests go
// one at a time; a session the server no longer knows is marked rejected
// (and with Request.Restart begun again and the request resent); every
// answered request is counted; an end is confirmed or retried; and a
// session is never marked ended before a server has answered its end. It prints nothing and reads no flags or
// environment: calls take values, an io.Reader body and sinks for the
// reply, and return a *Result and typed errors.
//
// The errors of a call the server answered are this package's: HTTPError
// (an HTTP error status without a SOAP fault), RedirectError, ReplyError (a
// 2xx reply without what the call needs), FaultError (Rejected when the
// server no longer knows the session), EndNotConfirmedError, NotEndedError
// and NotKeptError; a reply cut short, TruncatedError; a cancelled context
// gives an InterruptedError. Requests a session refuses before sending give
// EndedError (it is no longer open), BusyError (its other request took
// longer than LockTimeout), BeginOnlyError, and for SendAllPages
// PageSizeError and NotPageableError; Again and a restart give
// NoRecipeError, ReplayError and RestartError. Errors of the packages it
// uses come back as they are: *transport.Error (the server was not
// reached, or the connection broke), *transport.ConfigError and
// *transport.URLError (settings that cannot work), state.ErrNoSession,
// state.ErrExists and *state.CorruptError, and envelope's *BodyError (a
// *BodyTooLargeError in it for a body over Body.Max),
// *DialectError and ErrMissingVar.
package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"time"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
)

// Manager opens and loads the sessions of one store.
type Manager struct {
	Store *state.Store
	// Dialects finds the dialect a session was begun with from its
	// reference in the state (a built-in name or a directory); nil finds
	// built-ins and directories only.
	Dialects func(ref string) (*envelope.Dialect, error)
	// ProxyFromEnv chooses a proxy when a Conn names none (e.g.
	// http.ProxyFromEnvironment); nil for none.
	ProxyFromEnv func(*http.Request) (*url.URL, error)
	// UserAgent is sent with every request ("soapsess" when empty).
	UserAgent string
	// Trace, when set, sees every request and reply on the wire.
	Trace *transport.Trace
	// Retry, when set, is told before an end is tried again.
	Retry func(Retry)
	// EndBackoff is the pause before the first retry of an unreachable end,
	// growing with each (300ms when 0).
	EndBackoff time.Duration
	// A session's requests go one at a time: a call waits for the one on
	// the wire. LockTimeout bounds the wait (0: as long as it takes), with
	// a *BusyError; Waiting, when set, is called once a call has waited a
	// second.
	LockTimeout time.Duration
	Waiting     func(name string)
}

// Retry says why an end is tried again: Err is a *transport.Error (no
// answer came; when the request may have reached the server, the retry
// carries the dialect's own end body, never a statement of the caller's) or
// an *EndNotConfirmedError.
type Retry struct {
	Attempt, Of int // the attempt about to be made, of at most Of
	Err         error
}

// Session is an open session.
type Session struct {
	m       *Manager
	State   state.Session // as kept: when loaded or begun, and after each call
	Dialect *envelope.Dialect
	// Conn is how Send and End reach the server: the settings the session
	// keeps, without the password. Set Conn.Password (and change any
	// setting) before calling.
	Conn Conn

	client     *transport.Client // reused while Conn stays as it was made for
	clientConn Conn
}

// transport is the session's HTTP client for its Conn, reused from call to
// call (NTLM authenticates a connection, not a request) until Conn changes.
func (s *Session) transport() (*transport.Client, error) {
	if _, err := s.jar(); err != nil { // into s.Conn.Jar: the client sends and keeps cookies
		return nil, err
	}
	if s.client != nil && reflect.DeepEqual(s.clientConn, s.Conn) {
		return s.client, nil
	}
	cl, err := s.m.newClient(s.Conn)
	if err != nil {
		return nil, err
	}
	s.Close()
	s.client, s.clientConn = cl, s.Conn
	return cl, nil
}

// Close lets go of the session's idle connections; End does it itself.
func (s *Session) Close() {
	if s.client != nil {
		s.client.CloseIdleConnections()
		s.client = nil
	}
}

// Request is one call inside a session.
type Request struct {
	Body Body
	// Vars are template variables for this request, over those the session
	// began with.
	Vars  map[string]string
	Reply Sinks
	// DryRun builds the request and returns it in Result.Preview; nothing is
	// sent and nothing changes.
	DryRun bool
	// Captures keep values of the reply as session variables, after the
	// dialect's own (see envelope.Capture).
	Captures []envelope.Capture
	// Setup adds the request, once the server has accepted it, to the
	// session's journal: the requests that build its state, replayed in
	// order by a new begin (Again). At most SetupLimit bytes.
	Setup bool
	// Restart, when the server no longer knows the session (now, or it
	// rejected an earlier request), begins it again (see Again) and sends
	// the request once more (Result.Restarted). A reply rejecting the
	// session is then not passed to the sinks: they see nothing of a reply
	// until it is known not to reject the session, or until it outgrows
	// a megabyte. Not with Reply.Raw (ErrRestartRaw).
	Restart bool
	// Replayed, when set, is told of each journal request a restart
	// replays.
	Replayed func(Replay)

	keepalive bool // the dialect's keep-alive body
}

// SetupLimit bounds a request kept in a journal, and a begin body kept to
// begin again with.
const SetupLimit = 1 << 20

// BeginOptions are what a session begins with.
type BeginOptions struct {
	Name    string
	URL     string
	Dialect *envelope.Dialect
	Timeout int // seconds to ask for, for dialects that carry one; 0 asks for none
	// Vars are template variables, kept with the session.
	Vars map[string]string
	// Conn is how to reach the server; all but the password and the extra
	// headers are kept with the session.
	Conn   Conn
	Body   Body
	Reply  Sinks
	DryRun bool
	// Captures keep values of the reply as session variables from the
	// start, after the dialect's own.
	Captures []envelope.Capture
	// IdleTimeout is how many seconds the server keeps an idle session, as
	// the caller knows it (0: as the server grants or the dialect says).
	IdleTimeout int

	journal []state.Request // carried over by Again
}

// endTries bounds how often an end tries a server it cannot reach.
const endTries = 3

// Begin opens a session on the server and keeps it under o.Name, over
// the record of one that ended. It refuses, before sending anything, a
// name whose session is open, a state directory that cannot be written and
// a dialect whose later requests could not be made.
func (m *Manager) Begin(ctx context.Context, o BeginOptions) (*Result, error) {
	if err := transport.CheckURL(o.URL); err != nil {
		return nil, err
	}
	if err := state.CheckName(o.Name); err != nil {
		return nil, err
	}
	// The name's calls wait from the check to the keeping: of parallel
	// begins on one name only one reaches the server.
	release, err := m.busy(ctx, o.Name)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := m.Store.CheckWritable(); err != nil {
		return nil, err
	}
	if err := m.Free(o.Name); err != nil {
		return nil, err
	}
	return m.begin(ctx, o)
}

// begin is Begin once the name is held and free.
func (m *Manager) begin(ctx context.Context, o BeginOptions) (*Result, error) {
	d := o.Dialect
	if err := beginOnly(d, nil, o.Captures); err != nil {
		return nil, err // a login option is given, not captured
	}
	body, err := load(o.Body)
	if err != nil {
		return nil, err
	}
	values := envelope.Values{Timeout: o.Timeout, User: o.Conn.User, URL: o.URL, Vars: o.Vars, Password: o.Conn.Password}
	b, err := body.build(d, envelope.Begin, values)
	if err != nil {
		return nil, err
	}
	// The session's later headers and end body must be makeable before a
	// session is opened that could otherwise never be used or ended;
	// variables may still come with Send and End.
	later := values
	later.ID, later.IDName = "check", "SessionId"
	if err := d.CheckValues(later); err != nil && !errors.Is(err, envelope.ErrMissingVar) {
		return nil, err
	}
	if _, _, err := d.DefaultBody(envelope.End, later); err != nil && !errors.Is(err, envelope.ErrMissingVar) {
		return nil, err
	}
	s := &Session{m: m, Dialect: d, Conn: o.Conn}
	cl, err := s.transport()
	if err != nil {
		return nil, err
	}
	res, err := m.do(ctx, exchange{url: o.URL, dialect: d, conn: o.Conn, client: cl, sinks: o.Reply, whole: true, dryRun: o.DryRun,
		req: envelope.Request{Phase: envelope.Begin, Values: values, Body: b}, captures: append(d.Captures(), o.Captures...)})
	if err != nil && res != nil && res.parsed != nil {
		// The begin failed, but the reply may still carry a new session's
		// ID (Virtuoso does so with a fault; a batch may fail after the
		// initiate): end it, or it lingers on the server.
		if info, ierr := d.Session(res.parsed); ierr == nil {
			s.State = state.Session{Name: o.Name, URL: o.URL, ID: info.ID, IDName: info.IDName, Vars: o.Vars, Timeout: info.Timeout}
			res.Orphan, res.OrphanErr = info.ID, s.endUnkept(ctx)
		}
	}
	if err != nil || o.DryRun {
		s.Close()
		return res, err
	}
	info, err := d.Session(res.parsed)
	if err != nil {
		if errors.Is(err, envelope.ErrNoSessionID) {
			err = ErrNoSessionID
		}
		s.Close()
		return res, &ReplyError{URL: o.URL, Reason: res.Reply.Reason, ContentType: res.Reply.Header.Get("Content-Type"), Err: err}
	}
	res.Granted = info.Timeout
	now := time.Now().UTC().Truncate(time.Second)
	vars := withCaptures(o.Vars, res)
	for name := range vars {
		if d.BeginOnly(name) { // the initiating request's alone
			vars = withCaptures(vars, &Result{Cleared: []string{name}})
		}
	}
	kept := state.Session{
		Name: o.Name, Dialect: d.Ref(), URL: o.URL, ID: info.ID, IDName: info.IDName,
		Created: now, LastUsed: now, Timeout: info.Timeout, User: o.Conn.User, Vars: vars, Requests: 1,
		Auth: string(o.Conn.Auth), CACert: o.Conn.CACert, Cert: o.Conn.Cert, Key: o.Conn.Key,
		Insecure: o.Conn.Insecure, Proxy: o.Conn.Proxy, SPN: o.Conn.SPN, Journal: o.journal,
	}
	if o.IdleTimeout > 0 {
		kept.IdleTimeout, kept.IdleFrom = o.IdleTimeout, "given"
	} else {
		kept.IdleTimeout, kept.IdleFrom = IdleTimeout(&kept, d)
	}
	if len(body.raw) <= SetupLimit {
		kept.Begin = &state.Recipe{Request: body.request(o.Vars, o.Captures, now), Timeout: o.Timeout}
	}
	s.State = kept
	res.Session = s
	if err := m.Store.Create(&kept); err != nil {
		// Never leave a server session nobody can end.
		ended := s.endUnkept(ctx) == nil
		s.Close()
		return res, &NotKeptError{ID: info.ID, Ended: ended, Err: err}
	}
	if err := s.keepCookies(); err != nil {
		return res, err
	}
	return res, nil
}

// Free reports, as state.ErrExists, a session open under name: a begin
// would have nowhere to keep its own. The record of one that ended does
// not count.
func (m *Manager) Free(name string) error {
	if err := state.CheckName(name); err != nil {
		return err
	}
	old, err := m.Store.Get(name)
	if err == nil {
		if !old.Open() {
			return nil
		}
		return fmt.Errorf("%w named %q (ID %s on %s)", state.ErrExists, name, old.ID, old.URL)
	}
	if errors.Is(err, state.ErrNoSession) {
		return nil
	}
	return err
}

// endUnkept ends on the server a session that could not be kept.
func (s *Session) endUnkept(ctx context.Context) error {
	v := s.values(nil)
	b, err := loaded{}.build(s.Dialect, envelope.End, v)
	if err != nil {
		return err
	}
	cl, err := s.transport()
	if err != nil {
		return err
	}
	res, err := s.m.do(ctx, exchange{url: s.State.URL, dialect: s.Dialect, conn: s.Conn, client: cl, whole: true,
		req: envelope.Request{Phase: envelope.End, Values: v, Body: b}})
	if err == nil && !s.Dialect.EndConfirmed(res.parsed) {
		return &EndNotConfirmedError{Name: s.State.Name, Attempts: 1, Final: true}
	}
	return err
}

// Open loads the session open under name; one that is no longer open
// gives an *EndedError.
func (m *Manager) Open(name string) (*Session, error) {
	s, err := m.Load(name)
	if err != nil {
		return nil, err
	}
	if !s.State.Open() {
		return nil, endedError(&s.State)
	}
	return s, nil
}

// endedError says a kept session is no longer open.
func endedError(st *state.Session) error {
	return &EndedError{Name: st.Name, ID: st.ID, How: st.Ended, At: st.EndedAt}
}

// IdleTimeout is how many seconds the server keeps the session idle, and
// where that figure comes from (state.Session.IdleFrom): as kept, else the
// timeout the server granted, else the dialect's default for the URL (d may
// be nil); 0 and IdleUnknown when the dialect knows none, 0 and "" when
// there is no dialect to ask. A session kept by an older soapsess has only
// the latter two.
func IdleTimeout(st *state.Session, d *envelope.Dialect) (int, string) {
	switch {
	case st.IdleTimeout > 0:
		return st.IdleTimeout, st.IdleFrom
	case st.Timeout > 0:
		return st.Timeout, "granted"
	case d != nil && d.IdleTimeout(st.URL) > 0:
		return d.IdleTimeout(st.URL), "dialect"
	case d != nil:
		return 0, IdleUnknown
	}
	return 0, ""
}

// IdleUnknown is the IdleFrom of a session whose dialect was asked and
// knows no idle timeout for its server: nobody needs to ask it again.
const IdleUnknown = "unknown"

// Load loads the session kept under name, open or not (to begin it again).
func (m *Manager) Load(name string) (*Session, error) {
	kept, err := m.Store.Get(name)
	if err != nil {
		return nil, err
	}
	find := m.Dialects
	if find == nil {
		find = func(ref string) (*envelope.Dialect, error) { return envelope.Find(ref, "") }
	}
	d, err := find(kept.Dialect)
	if err != nil {
		var de *envelope.DialectError
		if errors.As(err, &de) && kept.Dialect != "" && !errors.Is(err, envelope.ErrUnknownDialect) {
			return nil, err // the dialect's own files are broken: say so, not that the state is
		}
		return nil, &state.CorruptError{Path: m.Store.Path(name), Err: err}
	}
	kept.IdleTimeout, kept.IdleFrom = IdleTimeout(kept, d)
	return &Session{m: m, State: *kept, Dialect: d, Conn: Conn{Options: transport.Options{
		Auth: transport.Auth(kept.Auth), User: kept.User, CACert: kept.CACert, Cert: kept.Cert, Key: kept.Key,
		Insecure: kept.Insecure, Proxy: kept.Proxy, SPN: kept.SPN,
	}}}, nil
}

// Forget drops the local session under name without telling the server;
// it reports whether there was one.
func (m *Manager) Forget(name string) (bool, error) {
	if err := state.CheckName(name); err != nil {
		return false, err
	}
	return m.Store.Delete(name, "")
}

// values are what templates see in this session, with the variables of one
// request on top of those the session began with.
func (s *Session) values(vars map[string]string) envelope.Values {
	merged := map[string]string{}
	for _, layer := range []map[string]string{s.State.Vars, vars} {
		for k, v := range layer {
			merged[k] = v
		}
	}
	return envelope.Values{ID: s.State.ID, IDName: s.State.IDName, Timeout: s.State.Timeout, User: s.State.User,
		URL: s.State.URL, Vars: merged, Password: s.Conn.Password}
}

// checkedValues are values() after checking that the session's headers can
// be made from them: a value read back from a state file that would break
// the envelope is the file's fault; a variable nobody set, or one the
// dialect's templates refuse (which only a caller's --var can be: begin
// checked the file's), is the caller's.
func (s *Session) checkedValues(vars map[string]string) (envelope.Values, error) {
	v := s.values(vars)
	err := s.Dialect.CheckValues(v)
	var de *envelope.DialectError
	var re *envelope.RefusedError
	switch {
	case err == nil, errors.Is(err, envelope.ErrMissingVar), errors.As(err, &de), errors.As(err, &re):
		return v, err
	}
	return v, &state.CorruptError{Path: s.m.Store.Path(s.State.Name), Err: err}
}

// prepare is what a request of phase p is made of: the session's values
// with the request's variables, and its body (the dialect's own when none
// is given).
func (s *Session) prepare(p envelope.Phase, r Request, body loaded) (envelope.Values, *envelope.Body, error) {
	if err := beginOnly(s.Dialect, r.Vars, r.Captures); err != nil {
		return envelope.Values{}, nil, err
	}
	v, err := s.checkedValues(r.Vars)
	if err != nil {
		return v, nil, err
	}
	b, err := body.build(s.Dialect, p, v)
	return v, b, err
}

// beginOnly refuses, after begin, a login option given as a variable or
// captured into one.
func beginOnly(d *envelope.Dialect, vars map[string]string, caps []envelope.Capture) error {
	for name := range vars {
		if d.BeginOnly(name) {
			return &BeginOnlyError{Name: name, Dialect: d.Name}
		}
	}
	for _, c := range caps {
		if d.BeginOnly(c.Name) {
			return &BeginOnlyError{Name: c.Name, Dialect: d.Name}
		}
	}
	return nil
}

// busy waits for the name's call lock (see Manager.LockTimeout).
func (m *Manager) busy(ctx context.Context, name string) (func(), error) {
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if m.LockTimeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, m.LockTimeout)
	}
	defer cancel()
	var waiting func()
	if m.Waiting != nil {
		waiting = func() { m.Waiting(name) }
	}
	start := time.Now()
	release, err := m.Store.Busy(wctx, name, waiting)
	if errors.Is(err, state.ErrBusy) {
		if ctx.Err() != nil {
			return nil, &InterruptedError{URL: fmt.Sprintf("another request of session %q", name), While: "waiting for", Err: ctx.Err()}
		}
		return nil, &BusyError{Name: name, Waited: time.Since(start).Round(100 * time.Millisecond)}
	}
	return release, err
}

// acquireIf waits for the session's turn and reads it again as it now is:
// another call may have changed its variables, begun it again or ended it.
// A session no longer open is an *EndedError, unless rejected is true and
// the server rejected it (a restart's turn).
func (s *Session) acquireIf(ctx context.Context, rejected bool) (func(), error) {
	release, err := s.m.busy(ctx, s.State.Name)
	if err != nil {
		return nil, err
	}
	kept, err := s.m.Store.Get(s.State.Name)
	if err == nil && !kept.Open() && !(rejected && kept.Ended == state.Rejected) {
		err = endedError(kept)
	}
	if err != nil {
		release()
		return nil, err
	}
	s.State = *kept
	return release, nil
}

// turn reads a request's body, then waits for the session's turn (see
// acquire): a body still coming down a pipe holds no one up.
func (s *Session) turn(ctx context.Context, b Body) (loaded, func(), error) {
	return s.turnIf(ctx, b, false)
}

func (s *Session) turnIf(ctx context.Context, b Body, rejected bool) (loaded, func(), error) {
	body, err := load(b)
	if err != nil {
		return loaded{}, nil, err
	}
	release, err := s.acquireIf(ctx, rejected)
	return body, release, err
}

// Send posts a request inside the session, after any other request of the
// session has finished. A request the server answered with SOAP is
// counted; a session the server says it does not know is marked rejected
// (the *FaultError says Rejected), or with r.Restart begun again.
func (s *Session) Send(ctx context.Context, r Request) (*Result, error) {
	restart := r.Restart && !r.DryRun
	if restart && r.Reply.Raw != nil {
		return nil, ErrRestartRaw
	}
	body, release, err := s.turnIf(ctx, r.Body, restart)
	if err != nil {
		return nil, err
	}
	defer release()
	if r.Setup && len(body.raw) > SetupLimit {
		return nil, ErrSetupTooLarge
	}
	if !restart {
		return s.send(ctx, r, body, r.Reply)
	}
	var fe *FaultError
	earlier := s.State.Ended != ""
	if !earlier {
		// A reply that rejects the session is held back from the sinks
		// until it is known not to be one.
		g := &gate{to: r.Reply}
		res, err := s.send(ctx, r, body, g.sinks())
		if !errors.As(err, &fe) || !fe.Rejected {
			if ferr := g.flush(); ferr != nil && err == nil {
				err = ferr
			}
			return res, err
		}
	} else { // rejected already, by an earlier request
		fe = &FaultError{Name: s.State.Name, ID: s.State.ID, Rejected: true}
	}
	at := s.State.EndedAt
	old := s.State.ID
	bres, berr := s.again(ctx, Sinks{}, r.Replayed)
	if berr != nil {
		return bres, &RestartError{Name: s.State.Name, ID: old, Rejected: fe, Err: berr}
	}
	res, err := s.send(ctx, r, body, r.Reply)
	if res != nil {
		res.Restarted = &Restart{From: old, To: s.State.ID, Replayed: bres.Replayed, Rejected: fe.Problem}
		if earlier {
			res.Restarted.RejectedAt = at
		}
	}
	return res, err
}

// sendLocked is Send for a caller that holds the session's turn.
func (s *Session) sendLocked(ctx context.Context, r Request) (*Result, error) {
	body, err := load(r.Body)
	if err != nil {
		return nil, err
	}
	return s.send(ctx, r, body, r.Reply)
}

// send posts one request of the session, its reply to sinks.
func (s *Session) send(ctx context.Context, r Request, body loaded, sinks Sinks) (*Result, error) {
	p := envelope.Session
	if r.keepalive {
		p = envelope.Keepalive
	}
	v, b, err := s.prepare(p, r, body)
	if err != nil {
		return nil, err
	}
	cl, err := s.transport()
	if err != nil {
		return nil, err
	}
	res, err := s.m.do(ctx, exchange{url: s.State.URL, dialect: s.Dialect, conn: s.Conn, client: cl, sinks: sinks, dryRun: r.DryRun,
		req: envelope.Request{Phase: envelope.Session, Values: v, Body: b}, captures: append(s.Dialect.Captures(), r.Captures...)})
	if kerr := s.keepCookies(); kerr != nil && err == nil {
		err = kerr
	}
	if res != nil {
		res.Session = s
	}
	var fe *FaultError
	if errors.As(err, &fe) && fe.Rejected {
		return res, s.rejected(fe)
	}
	if res != nil && res.SOAP && !r.DryRun {
		var setup *state.Request
		if r.Setup && err == nil {
			j := body.request(r.Vars, r.Captures, time.Now().UTC().Truncate(time.Second))
			setup = &j
		}
		if terr := s.touch(res, setup); terr != nil && err == nil {
			err = terr
		}
	}
	return res, err
}

// Again begins the session anew, as it began, after it ended or the server
// rejected it: a new session ID under the same name, then the journal
// replayed in order (Result.Replayed). It stops at the first journal
// request that fails (*ReplayError); the new session stays open. replayed,
// when set, is told of each. The session must not be open.
func (s *Session) Again(ctx context.Context, reply Sinks, replayed func(Replay)) (*Result, error) {
	release, err := s.m.busy(ctx, s.State.Name)
	if err != nil {
		return nil, err
	}
	defer release()
	kept, err := s.m.Store.Get(s.State.Name)
	if err != nil {
		return nil, err
	}
	if kept.Open() {
		return nil, fmt.Errorf("%w named %q (ID %s on %s)", state.ErrExists, kept.Name, kept.ID, kept.URL)
	}
	s.State = *kept
	return s.again(ctx, reply, replayed)
}

// again is Again for a caller that holds the session's turn.
func (s *Session) again(ctx context.Context, reply Sinks, replayed func(Replay)) (*Result, error) {
	rec := s.State.Begin
	if rec == nil {
		return nil, &NoRecipeError{Name: s.State.Name, Why: "how it began was not kept (an older soapsess, or a begin body over 1 MiB)"}
	}
	caps, err := compileCaptures(rec.Captures)
	if err != nil {
		return nil, &state.CorruptError{Path: s.m.Store.Path(s.State.Name), Err: err}
	}
	conn := s.Conn
	if _, ours := conn.Jar.(*cookieJar); ours {
		conn.Jar = nil // the old session's cookies stay with it
	}
	o := BeginOptions{
		Name: s.State.Name, URL: s.State.URL, Dialect: s.Dialect, Timeout: rec.Timeout, Vars: rec.Vars, Conn: conn,
		Body: bodyOf(rec.Request), Reply: reply, Captures: caps, journal: s.State.Journal,
	}
	if s.State.IdleFrom == "given" {
		o.IdleTimeout = s.State.IdleTimeout
	}
	res, err := s.m.begin(ctx, o)
	if err != nil {
		return res, err
	}
	s.adopt(res.Session)
	res.Session = s
	for i, j := range s.State.Journal {
		caps, err := compileCaptures(j.Captures)
		if err != nil {
			return res, &state.CorruptError{Path: s.m.Store.Path(s.State.Name), Err: err}
		}
		rres, err := s.sendLocked(ctx, Request{Body: bodyOf(j), Vars: j.Vars, Captures: caps})
		if replayed != nil {
			replayed(Replay{Index: i + 1, Of: len(s.State.Journal), Body: j.BodyName, Result: rres, Err: err})
		}
		if err != nil {
			return res, &ReplayError{Index: i + 1, Of: len(s.State.Journal), Body: j.BodyName, Err: err}
		}
		res.Replayed++
	}
	return res, nil
}

// adopt makes s the session n: its state and client.
func (s *Session) adopt(n *Session) {
	if n == s {
		return
	}
	s.Close()
	s.State, s.Conn, s.client, s.clientConn = n.State, n.Conn, n.client, n.clientConn
	n.client = nil
}

// Replay is one journal request a new begin replayed.
type Replay struct {
	Index, Of int
	Body      string
	Result    *Result
	Err       error
}

// Restart says a request was sent again in a new session: the server had
// rejected the session From (Rejected says how; or RejectedAt says when it
// rejected an earlier request), and To was begun with Replayed journal
// requests.
type Restart struct {
	From, To   string
	Replayed   int
	Rejected   reply.Problem
	RejectedAt time.Time
}

// RestartError is a request whose session the server rejected and could
// not be begun again: Err says why (a *ReplayError when its journal
// failed).
type RestartError struct {
	Name, ID string
	Rejected *FaultError
	Err      error
}

func (e *RestartError) Error() string {
	return fmt.Sprintf("the server no longer knew session %q (ID %s), and beginning it again failed: %v", e.Name, e.ID, e.Err)
}
func (e *RestartError) Unwrap() error { return e.Err }

// compileCaptures compiles captures kept with a request.
func compileCaptures(cs []state.Capture) ([]envelope.Capture, error) {
	var out []envelope.Capture
	for _, c := range cs {
		ec, err := envelope.CompileCapture(c.Name, c.XPath, c.NS)
		if err != nil {
			return nil, fmt.Errorf("capture %s: %w", c.Name, err)
		}
		out = append(out, ec)
	}
	return out, nil
}

// withCaptures is vars with what a reply captured set and what it
// cleared removed; vars itself is left as it is.
func withCaptures(vars map[string]string, res *Result) map[string]string {
	if len(res.Captured) == 0 && len(res.Cleared) == 0 {
		return vars
	}
	out := map[string]string{}
	for k, v := range vars {
		out[k] = v
	}
	for _, k := range res.Cleared {
		delete(out, k)
	}
	for k, v := range res.Captured {
		out[k] = v
	}
	return out
}

// End closes the session on the server and marks it ended once the server
// has answered with SOAP, fault or not; a server that no longer knows the
// session counts as ended (Result.Gone). The record stays for Again. A
// server that cannot be reached is tried again; an end the dialect wants
// confirmed is retried with the dialect's own end body (so a statement in
// r.Body never runs twice). Without a SOAP answer the session is kept open
// (*NotEndedError).
func (s *Session) End(ctx context.Context, r Request) (*Result, error) {
	body, release, err := s.turn(ctx, r.Body)
	if err != nil {
		return nil, err
	}
	defer release()
	v, b, err := s.prepare(envelope.End, r, body)
	if err != nil {
		return nil, err
	}
	cl, err := s.transport()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var warnings []string // what ending loses: captured state the server drops
	for _, c := range s.Dialect.Captures() {
		if c.EndWarning != "" && s.State.Vars[c.Name] != "" {
			warnings = append(warnings, c.EndWarning)
		}
	}
	attempts := s.Dialect.EndAttempts()
	backoff := s.m.EndBackoff
	if backoff <= 0 {
		backoff = 300 * time.Millisecond
	}
	for i := 1; ; i++ {
		res, err := s.m.do(ctx, exchange{url: s.State.URL, dialect: s.Dialect, conn: s.Conn, client: cl, sinks: r.Reply, whole: true, dryRun: r.DryRun,
			req: envelope.Request{Phase: envelope.End, Values: v, Body: b}})
		if kerr := s.keepCookies(); kerr != nil && err == nil {
			err = kerr
		}
		if r.DryRun && err == nil {
			return res, nil
		}
		if res != nil {
			res.Session, res.Attempts, res.EndWarnings = s, i, warnings
		}
		var te *transport.Error
		var krb *transport.KerberosError
		if res == nil && errors.As(err, &te) && !errors.As(err, &krb) && i < endTries { // a refused login is not tried again
			// Never answered: try again a few times, as the SQL Server docs
			// advise for a terminate; the session stays until a server answers.
			// A request that may have reached the server may have run: the
			// retry carries the dialect's own end body, not the caller's.
			if te.Reached {
				if def, ok, derr := s.Dialect.DefaultBody(envelope.End, v); ok && derr == nil {
					b = def
				}
			}
			s.retry(Retry{Attempt: i + 1, Of: endTries, Err: err})
			if !sleep(ctx, time.Duration(i)*backoff) {
				return nil, &InterruptedError{URL: s.State.URL, While: "waiting to try again", Err: ctx.Err()}
			}
			continue
		}
		if res == nil || !res.SOAP {
			// No SOAP answer (refused, or a proxy's error page): the server
			// may never have seen the end, so keep the session to try again.
			if sent(res, err) {
				err = &NotEndedError{Name: s.State.Name, Err: err}
			}
			return res, err
		}
		var fe *FaultError
		if errors.As(err, &fe) && fe.Rejected {
			// The server no longer knows the session: what end was for is
			// done. Mark it ended here too, and say so (Result.Gone).
			if _, merr := s.m.Store.MarkEnded(s.State.Name, s.State.ID, state.Ended); merr != nil {
				return res, merr
			}
			res.Gone = fe.Problem.Summary()
			return res, nil
		}
		// A dialect that confirms its end is tried again when the reply
		// lacks the confirmation, fault or not (the SQL Server docs: scan
		// for the terminate echo and retry without it).
		if (err == nil || fe != nil) && res.parsed != nil && !s.Dialect.EndConfirmed(res.parsed) {
			if i < attempts {
				s.retry(Retry{Attempt: i + 1, Of: attempts, Err: &EndNotConfirmedError{Name: s.State.Name, Attempts: i}})
				if def, ok, derr := s.Dialect.DefaultBody(envelope.End, v); ok && derr == nil {
					b = def
				}
				continue
			}
			return res, &EndNotConfirmedError{Name: s.State.Name, Attempts: attempts, Final: true, Fault: fe}
		}
		if _, merr := s.m.Store.MarkEnded(s.State.Name, s.State.ID, state.Ended); merr != nil && err == nil {
			err = merr
		}
		return res, err
	}
}

// sent reports whether a failed call sent its request (whether or not it
// arrived), as opposed to failing before (settings, a body) or being
// interrupted.
func sent(res *Result, err error) bool {
	var te *transport.Error
	var ie *InterruptedError
	return err != nil && !errors.As(err, &ie) && (res != nil || errors.As(err, &te))
}

func (s *Session) retry(r Retry) {
	if s.m.Retry != nil {
		s.m.Retry(r)
	}
}

// touch records a request the server answered within the session, the
// variables its reply captured or cleared, and a setup request for the
// journal.
func (s *Session) touch(res *Result, setup *state.Request) error {
	_, err := s.m.Store.Update(s.State.Name, func(st *state.Session) error {
		if st.ID != s.State.ID {
			return nil // begun again meanwhile; that session was not used
		}
		now := time.Now().UTC().Truncate(time.Second)
		if now.After(st.LastUsed) {
			st.LastUsed = now
		}
		st.Requests++
		st.Vars = withCaptures(st.Vars, res)
		if setup != nil {
			st.Journal = append(st.Journal, *setup)
		}
		s.State.LastUsed, s.State.Requests, s.State.Vars, s.State.Journal = st.LastUsed, st.Requests, st.Vars, st.Journal
		return nil
	})
	if errors.Is(err, state.ErrNoSession) {
		return nil // forgotten meanwhile
	}
	return err
}

// rejected marks the session the server no longer knows, keeping its
// record for Again.
func (s *Session) rejected(fe *FaultError) error {
	if _, err := s.m.Store.MarkEnded(s.State.Name, s.State.ID, state.Rejected); err != nil {
		return err
	}
	s.State.Ended = state.Rejected
	fe.Name, fe.ID = s.State.Name, s.State.ID
	return fe
}

// sleep waits d, or less if ctx ends; it reports whether it waited it all.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
