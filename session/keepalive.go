package session

import (
	"context"
	"errors"
	"time"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
)

// KeepAlive says how Session.KeepAlive keeps a session from expiring.
type KeepAlive struct {
	// Every is the longest the session is left idle; 0 for three quarters
	// of its idle timeout (state.Session.IdleTimeout).
	Every time.Duration
	// For is how long to keep it alive; 0 for as long as ctx lasts.
	For time.Duration
	// Sent, when set, is told of each keep-alive request; retrying says a
	// failed one is to be tried again.
	Sent func(res *Result, err error, retrying bool)
}

// Why KeepAlive stopped without an error.
const (
	StoppedTime        = "time"        // For ran out
	StoppedInterrupted = "interrupted" // ctx ended
	StoppedEnded       = "ended"       // the session was ended or forgotten meanwhile
)

// KeepAlive sends the dialect's cheapest request inside the session
// (keepalive-body.xml) whenever the session has been idle for k.Every,
// counting every request of the session, whoever sent it. It returns why
// it stopped: For ran out, ctx ended, or the session ended. A server that
// rejects the session ends it with the *FaultError (the session is marked
// rejected); one that cannot be reached, or a proxy's HTTP error page, is
// tried again, more often, until it has failed for k.Every.
func (s *Session) KeepAlive(ctx context.Context, k KeepAlive) (string, error) {
	if !s.Dialect.HasDefaultBody(envelope.Keepalive) {
		return "", ErrNoKeepalive
	}
	every := k.Every
	if every <= 0 {
		if s.State.IdleTimeout <= 0 {
			return "", ErrIdleUnknown
		}
		every = time.Duration(s.State.IdleTimeout) * time.Second * 3 / 4
	}
	var deadline time.Time
	if k.For > 0 {
		deadline = time.Now().Add(k.For)
	}
	var last, failing time.Time // our last request, and since when they fail
	for {
		kept, err := s.m.Store.Get(s.State.Name)
		if errors.Is(err, state.ErrNoSession) || err == nil && !kept.Open() {
			return StoppedEnded, nil
		}
		if err != nil {
			return "", err
		}
		next := kept.LastUsed
		if last.After(next) {
			next = last
		}
		next = next.Add(every)
		if !failing.IsZero() {
			next = last.Add(min(every/4, 10*time.Second))
		}
		if !deadline.IsZero() && !next.Before(deadline) {
			if !sleep(ctx, time.Until(deadline)) {
				return StoppedInterrupted, nil
			}
			return StoppedTime, nil
		}
		if wait := time.Until(next); wait > 0 {
			// Look again when it is time: someone may have used the session
			// meanwhile.
			if !sleep(ctx, wait) {
				return StoppedInterrupted, nil
			}
			continue
		}
		res, err := s.Send(ctx, Request{keepalive: true})
		last = time.Now()
		var ee *EndedError
		var te *transport.Error
		var he *HTTPError
		retry := false
		switch {
		case err == nil:
			failing = time.Time{}
		case errors.As(err, &ee):
			return StoppedEnded, nil
		case ctx.Err() != nil:
			return StoppedInterrupted, nil
		case errors.As(err, &te) && res == nil, errors.As(err, &he) && !he.SOAP:
			// Unreachable, or a proxy's error page: try again, more often,
			// for a while.
			if failing.IsZero() {
				failing = last
			}
			retry = last.Sub(failing) < every
		}
		if k.Sent != nil {
			k.Sent(res, err, retry)
		}
		if err != nil && !retry {
			return "", err
		}
	}
}
