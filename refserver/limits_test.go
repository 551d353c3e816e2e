package refserver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A begin among 50,000 idle sessions looks at no more sessions than among
// 1,000: only the expired ones, and the first live one. (It used to look at
// every session, under the one lock.) Counted, not timed.
func TestBeginCostDoesNotGrowWithIdleSessions(t *testing.T) {
	srv, clock := newTestServer(Options{MaxSessions: 100_000})
	st := srv.sessions
	begin := func(n int, idle time.Duration) {
		t.Helper()
		for range n {
			if _, err := st.begin(PathDSML, newDSMLID, "", idle); err != nil {
				t.Fatalf("begin with %d sessions live: %v", len(st.m), err)
			}
		}
	}
	examinedByABegin := func() int {
		t.Helper()
		st.examined = 0
		begin(1, time.Hour)
		return st.examined
	}

	begin(999, time.Hour)
	at1k := examinedByABegin()
	begin(50_000-1_000, time.Hour)
	at50k := examinedByABegin()
	if at1k > 1 || at50k > 1 {
		t.Errorf("a begin looked at %d sessions among 1,000 idle ones and %d among 50,000; want 1 (the soonest to expire)", at1k, at50k)
	}

	// 100 sessions with a second to live expire together: the next begin
	// removes them and looks at one more, the one after at one.
	begin(100, time.Second)
	clock.Advance(2 * time.Second)
	if n := examinedByABegin(); n != 101 {
		t.Errorf("the begin after 100 sessions expired looked at %d sessions, want 101", n)
	}
	if n := examinedByABegin(); n != 1 {
		t.Errorf("the begin after that looked at %d sessions, want 1", n)
	}
	if n := srv.ActiveSessions(); n != 50_003 {
		t.Errorf("ActiveSessions = %d, want 50,003", n)
	}
}

// A session's use moves its expiry: the heap never lets a used session
// expire early, nor keeps an idle one.
func TestExpiryFollowsUse(t *testing.T) {
	srv, clock := newTestServer(Options{})
	st := srv.sessions
	ids := make([]string, 3)
	for i := range ids {
		id, err := st.begin(PathDSML, newDSMLID, "u", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		clock.Advance(10 * time.Second)
	}
	// ids[0] is the oldest; using it makes it the youngest.
	if err := st.touch(PathDSML, ids[0], "u"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(45 * time.Second) // ids[1] idle 65 s, ids[2] 55 s, ids[0] 45 s
	if n := srv.ActiveSessions(); n != 2 {
		t.Fatalf("ActiveSessions = %d, want 2 (the second session expired)", n)
	}
	for i, want := range []error{nil, errNoSession, nil} {
		if err := st.touch(PathDSML, ids[i], "u"); err != want {
			t.Errorf("session %d: touch = %v, want %v", i, err, want)
		}
	}
}

// BenchmarkBegin begins and ends a session among n idle ones.
func BenchmarkBegin(b *testing.B) {
	for _, n := range []int{1_000, 50_000} {
		b.Run(fmt.Sprintf("idle=%d", n), func(b *testing.B) {
			srv, _ := newTestServer(Options{MaxSessions: n + 1})
			st := srv.sessions
			for range n {
				if _, err := st.begin(PathDSML, newDSMLID, "", time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				id, err := st.begin(PathDSML, newDSMLID, "", time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				if err := st.end(PathDSML, id, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// At MaxSessions live sessions, a begin on any endpoint gets that
// endpoint's fault, nothing of its body runs and no session is made; an end
// or an expiry makes room again.
func TestSessionCap(t *testing.T) {
	checks := map[string]func(t *testing.T, rec *httptest.ResponseRecorder){
		// DSFW: the one fault for a session request that cannot be processed.
		"dsml": func(t *testing.T, rec *httptest.ResponseRecorder) {
			doc := fault(t, rec)
			if got := doc.local(t, "faultcode").qnameValue(); got.Space != soapEnvNS || got.Local != "Client" {
				t.Errorf("faultcode = %v, want {soap}Client", got)
			}
			if got := doc.local(t, "faultstring").text; got != "SOAP Invalid Request" {
				t.Errorf("faultstring = %q", got)
			}
			if got := doc.local(t, "detail").text; got != "Bad Session Request" {
				t.Errorf("detail = %q, want Bad Session Request", got)
			}
		},
		"xmla": func(t *testing.T, rec *httptest.ResponseRecorder) {
			doc := fault(t, rec)
			if got := strings.TrimSpace(doc.local(t, "faultcode").text); got != "XMLAnalysisError.0x80004005" {
				t.Errorf("faultcode = %q, want XMLAnalysisError.0x80004005", got)
			}
			e := doc.local(t, "Error")
			if code, _ := e.attr("", "ErrorCode"); code != "2147500037" {
				t.Errorf("ErrorCode = %q, want 2147500037", code)
			}
			if d, _ := e.attr("", "Description"); !strings.Contains(d, "maximum of 2 live sessions") {
				t.Errorf("Description = %q, want it to name the maximum", d)
			}
		},
		"virtuoso": func(t *testing.T, rec *httptest.ResponseRecorder) {
			doc := fault(t, rec)
			if got := doc.local(t, "faultstring").text; got != "The XML for Analysis provider encountered an error" {
				t.Errorf("faultstring = %q", got)
			}
			e := doc.local(t, "Error")
			if code, _ := e.attr("", "ErrorCode"); code != "8004" {
				t.Errorf("ErrorCode = %q, want 8004 (SQLSTATE 08004)", code)
			}
			if d, _ := e.attr("", "Description"); !strings.HasPrefix(d, "[08004] ") || !strings.Contains(d, "maximum of 2 live sessions") {
				t.Errorf("Description = %q", d)
			}
			if len(doc.all(xmlaNS, "Session")) != 0 {
				t.Errorf("the refused begin's fault names a session")
			}
		},
		"sql": func(t *testing.T, rec *httptest.ResponseRecorder) {
			doc := fault(t, rec)
			const want = "There was an error in the incoming SOAP request packet:  Server, SoapHeader, TooManySessions"
			if got := doc.local(t, "faultstring").text; got != want {
				t.Errorf("faultstring = %q, want %q", got, want)
			}
			if len(doc.all(sqlOptionsNS, "sqlSession")) != 0 {
				t.Errorf("the refused begin's fault carries a sqlSession header")
			}
		},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			var log bytes.Buffer
			srv, clock := newTestServer(Options{MaxSessions: 2, SQLMaxTimeout: testSQLMax, IdleTimeouts: map[string]time.Duration{PathXMLAVirtuoso: idleTimeout}, Log: &log})
			first := d.beginSession(t, srv)
			// The other session is another endpoint's: the cap is the server's.
			other := dialects[0]
			if d.name == other.name {
				other = dialects[1]
			}
			other.beginSession(t, srv)

			checks[d.name](t, post(t, srv, d.path, d.env(d.begin)))
			if n := srv.ActiveSessions(); n != 2 {
				t.Fatalf("ActiveSessions after a refused begin = %d, want 2", n)
			}
			if !strings.Contains(log.String(), "fault=TooManySessions") {
				t.Errorf("the refused begin was not logged with fault=TooManySessions:\n%s", log.String())
			}

			ok(t, post(t, srv, d.path, d.env(d.end(first))))
			d.beginSession(t, srv)
			checks[d.name](t, post(t, srv, d.path, d.env(d.begin)))
			clock.Advance(idleTimeout + time.Second)
			d.beginSession(t, srv)
		})
	}
}

// A DSML begin refused at the cap runs none of its batch: "no DSML
// operation will be attempted".
func TestSessionCapRunsNoDSML(t *testing.T) {
	srv, _ := newTestServer(Options{MaxSessions: 1})
	dialects[0].beginSession(t, srv)
	add := `<addRequest dn="cn=Refused,ou=People,dc=example,dc=com"><attr name="objectClass"><value>person</value></attr></addRequest>`
	rec := post(t, srv, PathDSML, dsmlEnv(dialects[0].begin, `<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core">`+add+`</batchRequest>`))
	fault(t, rec)
	for _, dn := range srv.DSMLEntryDNs("ou=People,dc=example,dc=com", "singleLevel") {
		if strings.HasPrefix(dn, "cn=Refused") {
			t.Fatalf("the refused begin's addRequest ran: %s is in the directory", dn)
		}
	}
}

// serveOnLoopback serves h on 127.0.0.1 through ln (a LimitListener or
// not) as serve does, and stops it at the end of the test.
func serveOnLoopback(t *testing.T, h http.Handler, wrap func(net.Listener) net.Listener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 2 * time.Second}
	go func() { _ = hs.Serve(wrap(ln)) }()
	t.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String()
}

// trickle opens a connection, sends a POST's headers announcing a body of a
// kilobyte and then one byte every 50 ms, at most 200 of them (10 s), until
// the server answers or closes. It returns the reply's status (0 for none)
// and how long after the headers it came.
func trickle(addr string, sent chan<- struct{}) (status int, took time.Duration, err error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		close(sent)
		return 0, 0, err
	}
	defer c.Close()
	start := time.Now()
	_, err = io.WriteString(c, "POST /dsml HTTP/1.1\r\nHost: refserver\r\nContent-Type: text/xml\r\nContent-Length: 1024\r\n\r\n<")
	close(sent)
	if err != nil {
		return 0, 0, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range 200 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	_ = c.SetReadDeadline(start.Add(12 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, time.Since(start), err
	}
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// A body that trickles in is cut after BodyTimeout with 408, whatever the
// pace: one byte every 50 ms never finishes a kilobyte in 300 ms.
func TestSlowBodyIsCut(t *testing.T) {
	const bodyTimeout = 300 * time.Millisecond
	addr := serveOnLoopback(t, New(Options{BodyTimeout: bodyTimeout}), func(l net.Listener) net.Listener { return l })
	status, took, err := trickle(addr, make(chan struct{}))
	if err != nil || status != http.StatusRequestTimeout {
		t.Fatalf("a trickling body got status %d after %v (%v); want 408 after about %v", status, took, err, bodyTimeout)
	}
	if took > 5*time.Second {
		t.Errorf("the trickling body was cut after %v, want about %v", took, bodyTimeout)
	}
}

// The body deadline ends with the body (net/http clears it when the body
// has been read to its end): a request held on the server (Latency) longer
// than BodyTimeout is answered, not cut short.
func TestBodyTimeoutEndsWithTheBody(t *testing.T) {
	const latency = 400 * time.Millisecond
	srv := New(Options{BodyTimeout: 100 * time.Millisecond, Latency: latency})
	addr := serveOnLoopback(t, srv, func(l net.Listener) net.Listener { return l })
	id := dialects[1].beginSession(t, srv)
	start := time.Now()
	resp, err := http.Post("http://"+addr+PathXMLA, "text/xml", strings.NewReader(dialects[1].env(dialects[1].use(id))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusOK || took < latency {
		t.Errorf("a use with Latency %v and BodyTimeout 100ms: status %d after %v; want 200 after the latency", latency, resp.StatusCode, took)
	}
}

// 50 connections trickling bodies at a server capped at 20 connections:
// never more than 20 requests inside the server, each trickler cut with 408
// after the body timeout, and an honest request that arrives after all of
// them is answered within a few rounds of the timeout.
func TestConnectionCap(t *testing.T) {
	const (
		limit       = 20
		tricklers   = 50
		bodyTimeout = 500 * time.Millisecond
	)
	var inside, most atomic.Int32
	var fullCalls atomic.Int32
	ref := New(Options{BodyTimeout: bodyTimeout})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inside.Add(1)
		defer inside.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		ref.ServeHTTP(w, r)
	})
	addr := serveOnLoopback(t, h, func(l net.Listener) net.Listener {
		return LimitListener(l, limit, func() { fullCalls.Add(1) })
	})

	var wg sync.WaitGroup
	type result struct {
		status int
		took   time.Duration
		err    error
	}
	results := make([]result, tricklers)
	for i := range tricklers {
		sent := make(chan struct{})
		wg.Go(func() {
			status, took, err := trickle(addr, sent)
			results[i] = result{status, took, err}
		})
		<-sent
	}

	start := time.Now()
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Post("http://"+addr+PathDSML, "text/xml", strings.NewReader(dialects[0].env(dialects[0].begin)))
	if err != nil {
		t.Fatalf("a request behind %d trickling connections: %v", tricklers, err)
	}
	resp.Body.Close()
	took := time.Since(start)
	wg.Wait()

	if resp.StatusCode != http.StatusOK || took > 10*time.Second {
		t.Errorf("a request behind %d trickling connections: status %d after %v; want 200 within 10s", tricklers, resp.StatusCode, took)
	}
	if m := most.Load(); m > limit {
		t.Errorf("%d requests were inside the server at once, want at most %d", m, limit)
	}
	if fullCalls.Load() == 0 {
		t.Errorf("the listener never reported itself full")
	}
	for i, r := range results {
		if r.err != nil || r.status != http.StatusRequestTimeout {
			t.Errorf("trickler %d: status %d after %v (%v), want 408", i, r.status, r.took, r.err)
		}
	}
}
