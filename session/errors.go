package session

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
)

// HTTPError is an HTTP error status without a SOAP fault to say more: the
// body is not SOAP (a proxy's error page; it went to Sinks.NotSOAP), not
// well-formed, or a SOAP envelope without a fault.
type HTTPError struct {
	URL         string
	Status      int
	Reason      string // "502 Bad Gateway"
	ContentType string
	SOAP        bool  // the body was a SOAP envelope
	Err         error // why the body could not be used; nil for a SOAP body without a fault
	// Offered are the authentication schemes a 401 (or a proxy's 407)
	// asks for, as the server names them: "Negotiate", "NTLM", "Basic".
	Offered []string
}

func newHTTPError(url string, resp *transport.Response, contentType string, soap bool, err error) *HTTPError {
	e := &HTTPError{URL: url, Status: resp.Status, Reason: resp.Reason, ContentType: contentType, SOAP: soap, Err: err}
	switch resp.Status {
	case http.StatusUnauthorized:
		e.Offered = transport.Schemes(resp.Header, "WWW-Authenticate")
	case http.StatusProxyAuthRequired:
		e.Offered = transport.Schemes(resp.Header, "Proxy-Authenticate")
	}
	return e
}

func (e *HTTPError) Error() string {
	switch {
	case e.SOAP && e.Err == nil:
		return fmt.Sprintf("HTTP %s from %s with a SOAP reply that holds no fault", e.Reason, e.URL)
	case e.SOAP:
		return fmt.Sprintf("the reply from %s (HTTP %s) is not well-formed XML: %v", e.URL, e.Reason, e.Err)
	}
	return fmt.Sprintf("HTTP %s from %s, and %s", e.Reason, e.URL, describe(e.ContentType, e.Err))
}
func (e *HTTPError) Unwrap() error { return e.Err }

// RedirectError is a redirect, which is not followed: a POST would lose its
// envelope.
type RedirectError struct {
	URL      string
	Reason   string
	Location string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("HTTP %s from %s: it redirects to %s", e.Reason, e.URL, e.Location)
}

// ReplyError is a 2xx reply without what the call needs: not SOAP, not
// well-formed, too large to search, or (begin) without a session ID.
type ReplyError struct {
	URL         string
	Reason      string
	ContentType string
	Err         error // *reply.NotSOAPError, ErrNoSessionID, ErrTooLarge, or why it is not well-formed
}

func (e *ReplyError) Error() string {
	var ns *reply.NotSOAPError
	switch {
	case errors.As(e.Err, &ns):
		return fmt.Sprintf("%s replied HTTP %s with %s", e.URL, e.Reason, describe(e.ContentType, e.Err))
	case errors.Is(e.Err, ErrNoSessionID):
		return fmt.Sprintf("%s answered without a session ID, so no session was opened", e.URL)
	case errors.Is(e.Err, ErrTooLarge):
		return fmt.Sprintf("the reply from %s is %v", e.URL, e.Err)
	}
	var mf *MalformedError
	if errors.As(e.Err, &mf) {
		return fmt.Sprintf("the reply from %s (HTTP %s) is %v", e.URL, e.Reason, e.Err)
	}
	return fmt.Sprintf("the reply from %s (HTTP %s) is not usable: %v", e.URL, e.Reason, e.Err)
}
func (e *ReplyError) Unwrap() error { return e.Err }

// ErrNoSessionID is wrapped by the ReplyError of a begin whose reply
// carries no session ID.
var ErrNoSessionID = errors.New("no session ID in the reply")

// ErrTooLarge is wrapped by the ReplyError of a reply too large to hold
// whole (a begin or end reply, or one kept with Sinks.Keep).
var ErrTooLarge = fmt.Errorf("larger than %d MiB; it cannot be searched", KeepLimit>>20)

// FaultError is the first error a reply reported: a SOAP fault, or an error
// in the body. All the problems are in Result.Problems, in order.
type FaultError struct {
	Problem reply.Problem
	// Rejected says the server no longer knows the session (it ended or
	// expired): the local session was marked rejected.
	Rejected bool
	Name, ID string // the session, when Rejected
}

func (e *FaultError) Error() string {
	if e.Rejected {
		return fmt.Sprintf("the server no longer knows session %q (ID %s): it ended or expired there (%s)", e.Name, e.ID, e.Problem.Summary())
	}
	return e.Problem.Summary()
}

// EndNotConfirmedError is an end the server answered without the
// confirmation the dialect asks for: in a Retry, or after every attempt
// (Final), when the session is kept.
type EndNotConfirmedError struct {
	Name     string
	Attempts int
	Final    bool        // no more attempts: the session is kept
	Fault    *FaultError // the last reply's fault, when it was one
}

func (e *EndNotConfirmedError) Unwrap() error {
	if e.Fault == nil {
		return nil
	}
	return e.Fault
}

func (e *EndNotConfirmedError) Error() string {
	if !e.Final {
		return fmt.Sprintf("the server did not confirm the end of session %q", e.Name)
	}
	return fmt.Sprintf("the server did not confirm the end of session %q after %d attempts; it is kept", e.Name, e.Attempts)
}

// NotEndedError is an end whose request got no SOAP answer (unreachable, or
// a proxy's error page): the server may never have seen it, so the local
// session is kept to try again. Err says why.
type NotEndedError struct {
	Name string
	Err  error
}

func (e *NotEndedError) Error() string { return fmt.Sprintf("%v; session %q is kept", e.Err, e.Name) }
func (e *NotEndedError) Unwrap() error { return e.Err }

// NotKeptError is a begin whose session the server opened but which could
// not be kept locally. Ended says whether it was then ended on the server,
// so that it does not linger there.
type NotKeptError struct {
	ID    string
	Ended bool
	Err   error
}

func (e *NotKeptError) Error() string {
	if e.Ended {
		return fmt.Sprintf("the server opened session %s, but it could not be kept, so it was ended again: %v", e.ID, e.Err)
	}
	return fmt.Sprintf("the server opened session %s, but it could not be kept: %v", e.ID, e.Err)
}
func (e *NotKeptError) Unwrap() error { return e.Err }

// InterruptedError is a call whose context ended (Ctrl-C) before it was
// done. The session is left as it was.
type InterruptedError struct {
	URL   string
	While string // "waiting for", "reading the reply from"
	Err   error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted while %s %s", e.While, e.URL)
}
func (e *InterruptedError) Unwrap() error { return e.Err }

// describe says what a body that is not SOAP is.
func describe(contentType string, why error) string {
	if errors.Is(why, ErrEmptyReply) {
		return "an empty body"
	}
	mt, _, _ := mime.ParseMediaType(contentType)
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

// ErrEmptyReply is the *reply.NotSOAPError of a reply with no body at all.
var ErrEmptyReply = errors.New("the reply is empty")

// BeginOnlyError is a variable that belongs to the initiating request only
// (a login option, the manifest's begin_only), given on a later request.
type BeginOnlyError struct{ Name, Dialect string }

func (e *BeginOnlyError) Error() string {
	return fmt.Sprintf("variable %s of the %s dialect is a login option: it goes on begin only", e.Name, e.Dialect)
}

// EndedError is a call on a session that is no longer open: it was ended,
// or the server no longer knew it (How is state.Ended or state.Rejected).
// Its record is kept for Session.Again.
type EndedError struct {
	Name, ID, How string
	At            time.Time
}

func (e *EndedError) Error() string {
	what := "ended"
	if e.How == state.Rejected {
		what = "was rejected by the server (it had ended or expired there)"
	}
	return fmt.Sprintf("session %q (ID %s) %s at %s", e.Name, e.ID, what, e.At.Format(time.RFC3339))
}

// BusyError is a call that gave up waiting for another request of the
// same session to finish (Manager.LockTimeout).
type BusyError struct {
	Name   string
	Waited time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("session %q is busy with another request; gave up after %s", e.Name, e.Waited)
}

// ReplayError is a new begin whose replay of the journal failed at
// request Index (from 1) of Of; Err is that request's error. The new
// session stays open, with the whole journal.
type ReplayError struct {
	Index, Of int
	Body      string // the request's body name
	Err       error
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("replaying setup request %d of %d (%s): %v", e.Index, e.Of, e.Body, e.Err)
}
func (e *ReplayError) Unwrap() error { return e.Err }

// NoRecipeError is Again on a session kept without what began it (by an
// older soapsess, or with a begin body too large to keep).
type NoRecipeError struct{ Name, Why string }

func (e *NoRecipeError) Error() string {
	return fmt.Sprintf("session %q cannot be begun again: %s", e.Name, e.Why)
}

// ErrIdleUnknown is KeepAlive's error when neither the caller nor the
// session knows how long the server keeps it idle.
var ErrIdleUnknown = errors.New("the server's idle timeout is not known")

// ErrNoKeepalive is KeepAlive's error for a dialect without a
// keepalive-body.xml.
var ErrNoKeepalive = errors.New("the dialect has no keep-alive request (keepalive-body.xml)")

// ErrSetupTooLarge is Send's error for a setup request too large to keep
// in the journal (SetupLimit).
var ErrSetupTooLarge = errors.New("a setup request is kept in the session's state file; this one is too large")

// ErrRestartRaw is Send's error for Restart with Sinks.Raw: a raw copy
// streams every byte as it comes, a reply rejecting the session included.
var ErrRestartRaw = errors.New("a restart holds back a reply that rejects the session; a raw copy cannot")

// BodyTooLargeError is a request body larger than its limit (Body.Max, or
// DefaultMaxBody), refused before anything was sent. It comes wrapped in an
// *envelope.BodyError.
type BodyTooLargeError struct {
	Name  string // the body's: a file name, "standard input"
	Limit int64  // bytes
}

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %s, the limit on a request body", e.Name, Size(e.Limit))
}

// Size says a number of bytes in the largest binary unit that divides it
// exactly: "256 MiB", "1 GiB", "1536 KiB", "1000 bytes".
func Size(n int64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.name)
		}
	}
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// TruncatedError is a reply cut off before its end: the connection closed
// early (short of its Content-Length or last chunk, or, for a reply whose
// end is the connection's, with the document still incomplete), or its
// gzip stream stopped short. The request may have been carried out on the
// server, but it is not counted as answered. Err is the *transport.Error.
type TruncatedError struct {
	URL      string
	Received int64 // bytes of the reply read, decompressed
	Gzip     bool  // the reply was gzipped: Received counts what it decompressed to
	Err      error
}

func (e *TruncatedError) Error() string {
	if e.Gzip {
		return fmt.Sprintf("POST %s: the connection closed %d bytes into the reply (counted decompressed)", e.URL, e.Received)
	}
	return fmt.Sprintf("POST %s: the connection closed %d bytes into the reply", e.URL, e.Received)
}
func (e *TruncatedError) Unwrap() error { return e.Err }
