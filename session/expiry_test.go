package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soapsess/soapsess/refserver"
	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
	"github.com/soapsess/soapsess/xmltok"
)

const (
	createSet      = `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement>CREATE SESSION SET [Adventure Works].[Top Customers] AS TopCount([Customer].[Customer].Members, 10, [Measures].[Sales Amount])</Statement></Command><Properties><PropertyList/></Properties></Execute>`
	listSets       = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>MDSCHEMA_SETS</RequestType><Restrictions/><Properties><PropertyList/></Properties></Discover>`
	badRequestType = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>NO_SUCH_ROWSET</RequestType><Restrictions/><Properties/></Discover>`
	badStmt        = `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement>DROP EVERYTHING</Statement></Command><Properties><PropertyList/></Properties></Execute>`
)

// tokens is a TokenWriter that writes each token's bytes to w.
func tokens(w *bytes.Buffer) reply.TokenWriter { return rawTokens{w} }

type rawTokens struct{ w *bytes.Buffer }

func (r rawTokens) Write(t *xmltok.Token) error { r.w.Write(t.Raw); return nil }

// sets lists the session sets the server holds for s.
func sets(t *testing.T, s *Session) string {
	t.Helper()
	var out bytes.Buffer
	if _, err := s.Send(context.Background(), Request{Body: body(listSets), Reply: Sinks{Raw: &out}}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestSetupRequestsAreJournaledAndReplayed(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	ctx := context.Background()
	if _, err := s.Send(ctx, Request{Body: Body{R: strings.NewReader(createSet), Name: "create.xml"}, Setup: true}); err != nil {
		t.Fatal(err)
	}
	// A setup the server refuses is not kept; a plain send never is.
	if _, err := s.Send(ctx, Request{Body: body(badStmt), Setup: true}); err == nil {
		t.Fatal("the bad statement succeeded")
	}
	if _, err := s.Send(ctx, Request{Body: body(discover)}); err != nil {
		t.Fatal(err)
	}
	kept, err := f.m.Store.Get("s")
	if err != nil {
		t.Fatal(err)
	}
	if len(kept.Journal) != 1 || kept.Journal[0].Body != createSet || kept.Journal[0].BodyName != "create.xml" {
		t.Fatalf("journal = %+v; want the one accepted setup request", kept.Journal)
	}

	f.h.set(refserver.New(refserver.Options{})) // a restarted server: the session and its set are gone
	_, err = s.Send(ctx, Request{Body: body(listSets)})
	var fe *FaultError
	if !errors.As(err, &fe) || !fe.Rejected {
		t.Fatalf("send after the restart: %v; want the rejection", err)
	}
	old := s.State.ID
	// Again, from the record alone, as another process would.
	s2, err := f.m.Load("s")
	if err != nil {
		t.Fatal(err)
	}
	var replays []Replay
	res, err := s2.Again(ctx, Sinks{}, func(r Replay) { replays = append(replays, r) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Replayed != 1 || len(replays) != 1 || replays[0].Err != nil || s2.State.ID == old || !s2.State.Open() {
		t.Fatalf("again: replayed %d (%+v), ID %s (was %s), open %v", res.Replayed, replays, s2.State.ID, old, s2.State.Open())
	}
	if got := sets(t, s2); !strings.Contains(got, "Top Customers") {
		t.Errorf("after the replay the server lists no set:\n%s", got)
	}
	kept, _ = f.m.Store.Get("s")
	if len(kept.Journal) != 1 || kept.Begin == nil {
		t.Errorf("the new session's record: journal %d, begin %v; want both carried over", len(kept.Journal), kept.Begin)
	}
	// Again on an open session is refused before anything is sent.
	if _, err := s2.Again(ctx, Sinks{}, nil); !errors.Is(err, state.ErrExists) {
		t.Errorf("again on an open session: %v", err)
	}
}

func TestReplayStopsAtTheFirstFailure(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	ctx := context.Background()
	for _, b := range []string{createSet, createSet} {
		if _, err := s.Send(ctx, Request{Body: body(b), Setup: true}); err != nil {
			t.Fatal(err)
		}
	}
	// Spoil the second journal request by hand: its replay fails.
	if _, err := f.m.Store.Update("s", func(st *state.Session) error {
		st.Journal[1].Body = badStmt
		st.Ended = state.Rejected
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s, _ = f.m.Load("s")
	res, err := s.Again(ctx, Sinks{}, nil)
	var re *ReplayError
	var fe *FaultError
	if !errors.As(err, &re) || re.Index != 2 || re.Of != 2 || !errors.As(err, &fe) {
		t.Fatalf("again: %v; want a ReplayError at 2 of 2 wrapping the fault", err)
	}
	if res == nil || res.Replayed != 1 || !s.State.Open() {
		t.Errorf("after a failed replay: %+v; want the new session open, one replayed", res)
	}
}

func TestRestartSendsAgainInANewSession(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	ctx := context.Background()
	if _, err := s.Send(ctx, Request{Body: body(createSet), Setup: true}); err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	ref := refserver.New(refserver.Options{})
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		ref.ServeHTTP(w, r)
	}))
	// Without Restart the request goes once and is not resent.
	_, err := s.Send(ctx, Request{Body: body(listSets)})
	var fe *FaultError
	if !errors.As(err, &fe) || !fe.Rejected || requests.Load() != 1 {
		t.Fatalf("plain send: %v after %d requests; want the rejection after 1", err, requests.Load())
	}
	if _, err := s.Send(ctx, Request{Body: body(listSets)}); !errors.As(err, new(*EndedError)) {
		t.Fatalf("send on the rejected session: %v; want an EndedError", err)
	}
	// Mark it open again, as the server rejected it: a restart's turn.
	if _, err := f.m.Store.Update("s", func(st *state.Session) error { st.Ended = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	old := s.State.ID
	var out bytes.Buffer
	requests.Store(0)
	res, err := s.Send(ctx, Request{Body: body(listSets), Restart: true, Reply: Sinks{Body: tokens(&out)}})
	if err != nil {
		t.Fatal(err)
	}
	// rejected send, begin, replayed set, the send again
	if rs := res.Restarted; rs == nil || rs.From != old || rs.To == old || rs.Replayed != 1 || requests.Load() != 4 {
		t.Fatalf("restart: %+v after %d requests", res.Restarted, requests.Load())
	}
	if got := out.String(); strings.Contains(got, "Fault") || !strings.Contains(got, "Top Customers") {
		t.Errorf("the sinks saw:\n%s\nwant only the reply from the new session", got)
	}
	// A fault that is not a rejection still reaches the sinks, as does an
	// error inside a reply.
	for _, b := range []string{badRequestType, badStmt} {
		out.Reset()
		_, err = s.Send(ctx, Request{Body: body(b), Restart: true, Reply: Sinks{Body: tokens(&out)}})
		if !errors.As(err, &fe) || fe.Rejected || !strings.Contains(out.String(), fe.Problem.Message) {
			t.Errorf("a plain fault with Restart: %v, sinks saw %q", err, out.String())
		}
	}
}

func TestSendsOfOneSessionGoOneAtATime(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	var inFlight, overlaps atomic.Int64
	ref := *f.h.h.Load() // the server the session began on
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte(s.State.ID)) {
			if n := inFlight.Add(1); n > 1 {
				overlaps.Add(1)
			}
			defer inFlight.Add(-1)
			time.Sleep(5 * time.Millisecond) // widen the window an overlap would show in
		}
		ref.ServeHTTP(w, r2(r, b))
	}))
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store, err := state.Open(f.m.Store.Dir) // as a separate process would
			if err != nil {
				errs[i] = err
				return
			}
			ss, err := (&Manager{Store: store}).Open("s")
			if err == nil {
				_, err = ss.Send(context.Background(), Request{Body: body(discover)})
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if overlaps.Load() != 0 || f.requests() != 21 {
		t.Errorf("%d overlapping requests, %d counted; want 0 and 21", overlaps.Load(), f.requests())
	}
}

func TestOtherSessionsDoNotWait(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.begin()
	res, err := f.m.Begin(ctx, BeginOptions{Name: "b", URL: f.srv.URL + "/xmla", Dialect: dialect(t, "xmla")})
	if err != nil {
		t.Fatal(err)
	}
	b := res.Session
	entered, release := make(chan struct{}), make(chan struct{})
	ref := *f.h.h.Load()
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(a.State.ID)) {
			close(entered)
			<-release
		}
		ref.ServeHTTP(w, r2(r, body))
	}))
	done := make(chan error, 1)
	go func() { _, err := a.Send(ctx, Request{Body: body(discover)}); done <- err }()
	<-entered
	// a's request is on the wire: b is not held up, but a second a waits.
	if _, err = b.Send(ctx, Request{Body: body(discover)}); err != nil {
		t.Errorf("b's send while a's is on the wire: %v", err)
	}
	store, _ := state.Open(f.m.Store.Dir)
	m2 := &Manager{Store: store, LockTimeout: 50 * time.Millisecond}
	a2, err := m2.Open("s")
	if err != nil {
		t.Fatal(err)
	}
	_, err = a2.Send(ctx, Request{Body: body(discover)})
	var be *BusyError
	if !errors.As(err, &be) || be.Name != "s" {
		t.Errorf("a second send on a while its first is on the wire: %v; want a BusyError", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWaitingIsSaidAfterASecond(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	release, err := f.m.Store.Busy(context.Background(), "s", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var said atomic.Int64
	m := &Manager{Store: f.m.Store, LockTimeout: 1200 * time.Millisecond, Waiting: func(name string) {
		if name == "s" {
			said.Add(1)
		}
	}}
	s2, err := m.Open("s")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Send(context.Background(), Request{Body: body(discover)})
	if !errors.As(err, new(*BusyError)) || said.Load() != 1 {
		t.Errorf("after 1.2 s of waiting: %v, told %d times; want a BusyError, told once", err, said.Load())
	}
	_ = s
}

func TestKeepAlive(t *testing.T) {
	f := newFixture(t)
	f.h.set(refserver.New(refserver.Options{IdleTimeout: time.Second})) // wide margins: -race on a loaded machine
	s := f.begin()
	ctx := context.Background()
	var sent atomic.Int64
	start := time.Now()
	stopped, err := s.KeepAlive(ctx, KeepAlive{Every: 250 * time.Millisecond, For: 3200 * time.Millisecond, Sent: func(_ *Result, err error, _ bool) {
		if err == nil {
			sent.Add(1)
		}
	}})
	if err != nil || stopped != StoppedTime {
		t.Fatalf("keepalive: %q, %v", stopped, err)
	}
	if took := time.Since(start); took < 3200*time.Millisecond || sent.Load() < 3 {
		t.Errorf("kept alive %s with %d requests", took, sent.Load())
	}
	// More than three idle timeouts after begin, the session is alive.
	if _, err := s.Send(ctx, Request{Body: body(discover)}); err != nil {
		t.Fatalf("after keepalive: %v", err)
	}
	if _, err := s.KeepAlive(ctx, KeepAlive{}); !errors.Is(err, ErrIdleUnknown) {
		t.Errorf("keepalive with no idle timeout known: %v", err)
	}

	// A session ended by another command stops it.
	errc := make(chan error, 1)
	var stop string
	go func() {
		var err error
		stop, err = s.KeepAlive(ctx, KeepAlive{Every: 50 * time.Millisecond})
		errc <- err
	}()
	other, err := f.m.Open("s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.End(ctx, Request{}); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil || stop != StoppedEnded {
		t.Errorf("keepalive of a session ended elsewhere: %q, %v", stop, err)
	}

	// A server that no longer knows the session ends it with the rejection.
	s = f.begin()
	f.h.set(refserver.New(refserver.Options{}))
	_, err = s.KeepAlive(ctx, KeepAlive{Every: 10 * time.Millisecond})
	var fe *FaultError
	if !errors.As(err, &fe) || !fe.Rejected {
		t.Errorf("keepalive of a rejected session: %v", err)
	}
}

// A rejection inside a successful reply (Arquimedes words it in an XMLA
// Messages element) is held back from the sinks like a fault, its status
// line too; the old session's cookies do not go with the new begin.
func TestRestartHoldsBackAnyRejection(t *testing.T) {
	f := newFixture(t)
	ref := *f.h.h.Load()
	var rejectOnce, rejected atomic.Bool
	var seen []string // the Cookie header of each request after the rejection
	var mu sync.Mutex
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte("BeginSession")) && !rejected.Load() {
			http.SetCookie(w, &http.Cookie{Name: "node", Value: "old-session"})
		}
		if rejected.Load() {
			mu.Lock()
			seen = append(seen, r.Header.Get("Cookie"))
			mu.Unlock()
		}
		if bytes.Contains(b, []byte("MDSCHEMA_SETS")) && rejectOnce.CompareAndSwap(true, false) {
			rejected.Store(true)
			w.Header().Set("Content-Type", "text/xml")
			io.WriteString(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><!-- first --><DiscoverResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return><root xmlns="urn:schemas-microsoft-com:xml-analysis:rowset"><Messages xmlns="urn:schemas-microsoft-com:xml-analysis:exception"><Error ErrorCode="1" Description="Invalid Session id" Source="x"/></Messages></root></return></DiscoverResponse></s:Body></s:Envelope>`)
			return
		}
		ref.ServeHTTP(w, r2(r, b))
	}))
	s := f.begin()
	if len(s.State.Cookies) != 1 {
		t.Fatalf("begin kept cookies %+v", s.State.Cookies)
	}
	rejectOnce.Store(true)
	var out bytes.Buffer
	var arrived []int
	res, err := s.Send(context.Background(), Request{Body: body(listSets), Restart: true,
		Reply: Sinks{Body: tokens(&out), Arrived: func(r *transport.Response) { arrived = append(arrived, r.Status) }}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Restarted == nil || strings.Count(out.String(), "DiscoverResponse") != 2 || strings.Contains(out.String(), "Invalid Session") || len(arrived) != 1 {
		t.Errorf("restarted %+v; sinks saw %q, %d heads; want one reply, its head once", res.Restarted, out.String(), len(arrived))
	}
	if len(seen) != 2 {
		t.Errorf("%d requests after the rejection; want begin and send", len(seen))
	}
	for i, c := range seen { // after the rejected request: begin, send
		if strings.Contains(c, "old-session") {
			t.Errorf("request %d after the rejection carried the old session's cookie: %q", i+1, c)
		}
	}
	if _, err := s.Send(context.Background(), Request{Body: body(listSets), Restart: true, Reply: Sinks{Raw: &out}}); !errors.Is(err, ErrRestartRaw) {
		t.Errorf("Restart with Raw: %v", err)
	}
}

// A session an earlier request found rejected is begun again by a send
// with Restart.
func TestRestartAfterAnEarlierRejection(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	f.h.set(refserver.New(refserver.Options{}))
	if _, err := s.Send(context.Background(), Request{Body: body(discover)}); !errors.As(err, new(*FaultError)) {
		t.Fatalf("send: %v", err)
	}
	s2, err := f.m.Load("s")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s2.Send(context.Background(), Request{Body: body(discover), Restart: true})
	if err != nil || res.Restarted == nil || res.Restarted.RejectedAt.IsZero() || !s2.State.Open() {
		t.Fatalf("restart after an earlier rejection: %v, %+v", err, res)
	}
}

// A keep-alive whose server cannot be reached tries again, more often,
// and gives up after Every.
func TestKeepAliveGivesUpOnAnUnreachableServer(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	f.srv.Close()
	var retries, final atomic.Int64
	start := time.Now()
	_, err := s.KeepAlive(context.Background(), KeepAlive{Every: 200 * time.Millisecond, Sent: func(_ *Result, err error, retrying bool) {
		if retrying {
			retries.Add(1)
		} else {
			final.Add(1)
		}
	}})
	var te *transport.Error
	if !errors.As(err, &te) || retries.Load() < 2 || final.Load() != 1 || time.Since(start) < 200*time.Millisecond {
		t.Errorf("keepalive against a closed server: %v after %d retries in %s", err, retries.Load(), time.Since(start))
	}
}
