package refserver

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// heldRequest is a request that has entered its session's flight and waits
// there, in the server's entered hook, until the test closes release.
type heldRequest struct {
	key     sessionKey
	release chan struct{}
}

// holdInFlight makes every request that names a session stop once it is in
// flight and hand itself to the test on the returned channel. This is what
// makes the concurrency tests deterministic: a second request is sent only
// when the first is known to be in flight, and the first stays there until
// the test lets it go. Requests still held when the test ends are released.
func holdInFlight(t *testing.T, srv *Server) <-chan heldRequest {
	t.Helper()
	entered := make(chan heldRequest)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	srv.entered = func(endpoint, id string) {
		h := heldRequest{sessionKey{endpoint, id}, make(chan struct{})}
		select {
		case entered <- h:
		case <-done:
			return
		}
		select {
		case <-h.release:
		case <-done:
		}
	}
	return entered
}

// nextHeld waits for the next request to enter its flight; the bound only
// turns a broken server into a failure instead of a hang.
func nextHeld(t *testing.T, entered <-chan heldRequest) heldRequest {
	t.Helper()
	select {
	case h := <-entered:
		return h
	case <-time.After(30 * time.Second):
		t.Fatal("no request entered its session's flight")
		return heldRequest{}
	}
}

// postAsync serves one request on its own goroutine; the recorder arrives
// when the reply is complete.
func postAsync(t *testing.T, h http.Handler, path, body string) <-chan *httptest.ResponseRecorder {
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- post(t, h, path, body) }()
	return done
}

// Requests sent one after another never overlap, each request that names a
// session is held for Latency, and only those requests (not begins) are in
// flight, under the ID as sent.
func TestSequentialRequestsDoNotOverlap(t *testing.T) {
	const latency = 20 * time.Millisecond
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{Latency: latency, SQLMaxTimeout: testSQLMax})
			var flown []sessionKey
			srv.entered = func(endpoint, id string) { flown = append(flown, sessionKey{endpoint, id}) }
			id := d.beginSession(t, srv)
			if len(flown) != 0 {
				t.Fatalf("a begin entered a session's flight: %v", flown)
			}
			for i, body := range []string{d.env(d.use(id)), d.env(d.use(id)), d.env(d.end(id))} {
				start := time.Now()
				ok(t, post(t, srv, d.path, body))
				if took := time.Since(start); took < latency {
					t.Fatalf("request %d took %v, less than Latency %v", i+1, took, latency)
				}
			}
			want := sessionKey{d.path, id}
			if len(flown) != 3 || flown[0] != want || flown[1] != want || flown[2] != want {
				t.Fatalf("in flight: %v, want %v three times (two uses and the end)", flown, want)
			}
			if n := srv.Overlaps(); n != 0 {
				t.Fatalf("Overlaps after sequential requests = %d, want 0", n)
			}
		})
	}
}

// Over real HTTP, a client that sends its next request as soon as it has a
// reply is not counted as overlapping: the flight ends before the reply is
// written.
func TestFlightEndsBeforeTheReply(t *testing.T) {
	srv := New(Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	d := dialects[1]
	id := d.beginSession(t, srv)
	for range 50 {
		resp, err := ts.Client().Post(ts.URL+d.path, "text/xml", strings.NewReader(d.env(d.use(id))))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("use: status %d", resp.StatusCode)
		}
	}
	if n := srv.Overlaps(); n != 0 {
		t.Fatalf("Overlaps after 50 back-to-back requests = %d, want 0", n)
	}
}

// A second request of a session sent while the first is held overlaps it,
// whether the second is a use or an end; the log line says so.
func TestConcurrentRequestsOfOneSessionOverlap(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			var log bytes.Buffer
			srv, _ := newTestServer(Options{Latency: 200 * time.Millisecond, Log: &log, SQLMaxTimeout: testSQLMax})
			id := d.beginSession(t, srv)
			entered := holdInFlight(t, srv)

			for i, second := range []string{d.env(d.use(id)), d.env(d.end(id))} {
				first := postAsync(t, srv, d.path, d.env(d.use(id)))
				h1 := nextHeld(t, entered)
				next := postAsync(t, srv, d.path, second)
				h2 := nextHeld(t, entered)
				// Both are in flight now; let them finish in order, so that
				// the use is answered before the end removes the session.
				close(h1.release)
				ok(t, <-first)
				close(h2.release)
				ok(t, <-next)
				if n := srv.Overlaps(); n != i+1 {
					t.Fatalf("Overlaps after %d overlapping pairs = %d, want %d", i+1, n, i+1)
				}
			}
			lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
			var overlapping []string
			for _, l := range lines {
				if strings.HasSuffix(l, " overlap") {
					overlapping = append(overlapping, l)
				}
			}
			if len(lines) != 5 || len(overlapping) != 2 {
				t.Fatalf("want 5 log lines of which 2 end in overlap:\n%s", log.String())
			}
			for _, l := range overlapping {
				if !strings.Contains(l, " session="+id[:4]+"…") {
					t.Fatalf("overlapping log line does not name the session: %q", l)
				}
			}
		})
	}
}

// Overlaps counts by the ID as sent: two concurrent requests naming the same
// unknown session overlap, and both get the unknown-session fault.
func TestOverlapOfAnUnknownSession(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{SQLMaxTimeout: testSQLMax})
			entered := holdInFlight(t, srv)
			first := postAsync(t, srv, d.path, d.env(d.use("0000")))
			h1 := nextHeld(t, entered)
			second := postAsync(t, srv, d.path, d.env(d.use("0000")))
			h2 := nextHeld(t, entered)
			if n := srv.Overlaps(); n != 1 {
				t.Fatalf("Overlaps with two requests of session 0000 in flight = %d, want 1", n)
			}
			close(h1.release)
			close(h2.release)
			d.badSession(t, <-first)
			d.badSession(t, <-second)
		})
	}
}

// Requests of two different sessions in flight at once do not overlap; nor
// do the same ID's requests on two endpoints, which are two sessions.
func TestConcurrentRequestsOfTwoSessionsDoNotOverlap(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{Latency: 200 * time.Millisecond, SQLMaxTimeout: testSQLMax})
			a, b := d.beginSession(t, srv), d.beginSession(t, srv)
			entered := holdInFlight(t, srv)
			first := postAsync(t, srv, d.path, d.env(d.use(a)))
			h1 := nextHeld(t, entered)
			second := postAsync(t, srv, d.path, d.env(d.use(b)))
			h2 := nextHeld(t, entered)
			close(h1.release)
			close(h2.release)
			ok(t, <-first)
			ok(t, <-second)
			if n := srv.Overlaps(); n != 0 {
				t.Fatalf("Overlaps with two sessions' requests in flight = %d, want 0", n)
			}
		})
	}
	srv, _ := newTestServer(Options{})
	entered := holdInFlight(t, srv)
	xmla, virtuoso := dialects[1], dialects[2]
	first := postAsync(t, srv, xmla.path, xmla.env(xmla.use("0000")))
	h1 := nextHeld(t, entered)
	second := postAsync(t, srv, virtuoso.path, virtuoso.env(virtuoso.use("0000")))
	h2 := nextHeld(t, entered)
	close(h1.release)
	close(h2.release)
	<-first
	<-second
	if n := srv.Overlaps(); n != 0 {
		t.Fatalf("Overlaps with one ID in flight on /xmla and /xmla/virtuoso = %d, want 0", n)
	}
}

// A held request whose client has gone away is let go at once rather than
// after Latency.
func TestLatencyEndsWithTheClient(t *testing.T) {
	srv, _ := newTestServer(Options{Latency: time.Hour})
	d := dialects[0]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodPost, d.path, strings.NewReader(d.env(d.use("0000")))).WithContext(ctx)
	req.Header.Set("Content-Type", "text/xml")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req) // returns at once; an hour's hold would time the test out
	d.badSession(t, rec)
}
