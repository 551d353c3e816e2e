package refserver

import (
	"sync"
	"time"
)

// flights counts, per session, the requests the server is working on, so
// that Overlaps can tell whether a client sent a session's requests one at a
// time. Sessions are keyed by endpoint and the ID as the client sent it, known
// to the store or not: the count must not depend on the session being valid.
// It has its own lock, so that holding a request (Options.Latency) never
// waits on, or delays, the session store.
type flights struct {
	mu       sync.Mutex
	n        map[sessionKey]int
	overlaps int
}

// take counts one more request in flight for k and reports whether another
// was in flight already.
func (f *flights) take(k sessionKey) (overlap bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[sessionKey]int{}
	}
	if f.n[k] > 0 {
		overlap = true
		f.overlaps++
	}
	f.n[k]++
	return overlap
}

func (f *flights) land(k sessionKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[k]--; f.n[k] <= 0 {
		delete(f.n, k)
	}
}

// Overlaps returns how many requests arrived for a session while another
// request of the same session (same endpoint, same ID as sent, whether or not
// the server knows it) was still in flight on the server. A request is in
// flight from the moment its handler has read the session ID until its reply
// is ready to be written, and for at least Options.Latency in between. Begins
// name no session and are not counted.
func (s *Server) Overlaps() int {
	s.flights.mu.Lock()
	defer s.flights.mu.Unlock()
	return s.flights.overlaps
}

// inSession puts c in flight for session id on its endpoint and holds it
// there for Options.Latency (less if the client goes away). Each handler calls
// it once, as soon as it has read the ID of a use or an end; "" names no
// session and does nothing. The flight ends when the handler returns (land).
func (s *Server) inSession(c *call, id string) {
	if id == "" || c.flight != nil {
		return
	}
	k := sessionKey{c.endpoint, id}
	c.flight = &k
	c.log.overlap = s.flights.take(k)
	if s.entered != nil {
		s.entered(k.endpoint, k.id)
	}
	if s.opts.Latency <= 0 {
		return
	}
	t := time.NewTimer(s.opts.Latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.r.Context().Done():
	}
}

// land ends c's flight, if it had one.
func (s *Server) land(c *call) {
	if c.flight != nil {
		s.flights.land(*c.flight)
		c.flight = nil
	}
}
