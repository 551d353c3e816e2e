package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/internal/testdir"
	"github.com/soapsess/soapsess/refserver"
	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
)

const discover = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions/><Properties/></Discover>`

// switchable serves with whatever handler it holds now.
type switchable struct{ h atomic.Pointer[http.Handler] }

func (s *switchable) set(h http.Handler)                               { s.h.Store(&h) }
func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

// fixture is a store and a server whose handler a test can swap.
type fixture struct {
	t     *testing.T
	m     *Manager
	srv   *httptest.Server
	h     *switchable
	conns atomic.Int64 // connections the server accepted
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, err := state.Open(filepath.Join(testdir.New(t), "state"))
	if err != nil {
		t.Fatal(err)
	}
	h := &switchable{}
	h.set(refserver.New(refserver.Options{}))
	f := &fixture{t: t, m: &Manager{Store: store, EndBackoff: time.Millisecond}, h: h}
	f.srv = httptest.NewUnstartedServer(h)
	f.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func dialect(t *testing.T, name string) *envelope.Dialect {
	t.Helper()
	d, err := envelope.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// begin opens an XMLA session named "s" on the reference server.
func (f *fixture) begin() *Session {
	f.t.Helper()
	res, err := f.m.Begin(context.Background(), BeginOptions{Name: "s", URL: f.srv.URL + "/xmla", Dialect: dialect(f.t, "xmla")})
	if err != nil {
		f.t.Fatal(err)
	}
	return res.Session
}

func (f *fixture) requests() int {
	f.t.Helper()
	s, err := f.m.Store.Get("s")
	if err != nil {
		f.t.Fatal(err)
	}
	return s.Requests
}

func body(s string) Body { return Body{R: strings.NewReader(s)} }

func reply200(contentType, doc string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		fmt.Fprint(w, doc)
	}
}

func TestSendCountsAnsweredRequests(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	var out bytes.Buffer
	res, err := s.Send(context.Background(), Request{Body: body(discover), Reply: Sinks{Raw: &out}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.SOAP || res.Reply.Status != 200 || !strings.Contains(out.String(), "DataSourceName") {
		t.Errorf("send: SOAP %v, status %d, raw %q", res.SOAP, res.Reply.Status, out.String())
	}
	if n := f.requests(); n != 2 {
		t.Errorf("requests = %d after begin and one send, want 2", n)
	}
}

func TestHTTPErrorKeepsTheBody(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html><body>upstream went away</body></html>")
	}))
	var page bytes.Buffer
	res, err := s.Send(context.Background(), Request{Body: body(discover), Reply: Sinks{NotSOAP: &page}})
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 502 || he.SOAP {
		t.Fatalf("err = %v; want an HTTPError 502 with a body that is not SOAP", err)
	}
	if res == nil || res.SOAP || !strings.Contains(page.String(), "upstream went away") {
		t.Errorf("the page is lost: %q", page.String())
	}
	if n := f.requests(); n != 1 {
		t.Errorf("a proxy's answer was counted as the session's: requests = %d", n)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }))
	_, err := s.Send(context.Background(), Request{Body: body(discover)})
	var re *RedirectError
	if !errors.As(err, &re) || re.Location != "/elsewhere" {
		t.Errorf("err = %v; want a RedirectError to /elsewhere", err)
	}
}

func TestNotSOAP(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	f.h.set(reply200("text/plain", "everything is fine"))
	_, err := s.Send(context.Background(), Request{Body: body(discover)})
	var re *ReplyError
	var ns *reply.NotSOAPError
	if !errors.As(err, &re) || !errors.As(err, &ns) {
		t.Errorf("err = %v; want a ReplyError that is not SOAP", err)
	}
}

func TestFaultIsCountedAndKept(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	f.h.set(reply200("text/xml", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>no such cube</faultstring></s:Fault></s:Body></s:Envelope>`))
	res, err := s.Send(context.Background(), Request{Body: body(discover)})
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Rejected || !strings.Contains(fe.Error(), "no such cube") {
		t.Fatalf("err = %v; want a FaultError, not rejected", err)
	}
	if len(res.Problems) != 1 || !res.SOAP {
		t.Errorf("problems %v, SOAP %v", res.Problems, res.SOAP)
	}
	if n := f.requests(); n != 2 {
		t.Errorf("a fault is an answer within the session: requests = %d, want 2", n)
	}
}

func TestRejectedSessionIsMarked(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	f.h.set(refserver.New(refserver.Options{})) // a restarted server knows no session
	_, err := s.Send(context.Background(), Request{Body: body(discover)})
	var fe *FaultError
	if !errors.As(err, &fe) || !fe.Rejected || fe.Name != "s" || fe.ID != s.State.ID {
		t.Fatalf("err = %v; want a rejected FaultError naming the session", err)
	}
	st, err := f.m.Store.Get("s")
	if err != nil || st.Ended != state.Rejected || st.Begin == nil || st.URL != s.State.URL {
		t.Errorf("the rejected session's record: %+v, %v; want it marked rejected, with how it began", st, err)
	}
	var ee *EndedError
	if _, err := f.m.Open("s"); !errors.As(err, &ee) || ee.How != state.Rejected {
		t.Errorf("Open of a rejected session: %v; want an EndedError", err)
	}
}

func TestEndNotConfirmedIsRetriedThenKept(t *testing.T) {
	f := newFixture(t)
	var n atomic.Int64
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1) // grants a session, never echoes terminate="true"
		reply200("text/xml", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><o:sqlSession xmlns:o="http://schemas.microsoft.com/sqlserver/2004/SOAP/Options" sessionId="NC1" timeout="60"/></s:Header><s:Body/></s:Envelope>`)(w, r)
	}))
	var retries []Retry
	f.m.Retry = func(r Retry) { retries = append(retries, r) }
	res, err := f.m.Begin(context.Background(), BeginOptions{Name: "s", URL: f.srv.URL + "/sql", Dialect: dialect(t, "sqlsoap")})
	if err != nil {
		t.Fatal(err)
	}
	res, err = res.Session.End(context.Background(), Request{})
	var nc *EndNotConfirmedError
	if !errors.As(err, &nc) || !nc.Final || nc.Attempts != 3 || res.Attempts != 3 {
		t.Fatalf("err = %v (attempts %d); want EndNotConfirmedError after 3", err, res.Attempts)
	}
	if len(retries) != 2 || retries[0].Attempt != 2 || retries[1].Attempt != 3 || !errors.As(retries[0].Err, &nc) {
		t.Errorf("retries = %+v", retries)
	}
	if n.Load() != 4 {
		t.Errorf("the server saw %d requests, want a begin and 3 ends", n.Load())
	}
	if _, err := f.m.Store.Get("s"); err != nil {
		t.Errorf("an unconfirmed end dropped the session: %v", err)
	}
}

func TestUnreachableEndKeepsTheSession(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	s.Close() // no kept connection: the server is gone, not just its connection
	f.srv.Close()
	var retries int
	f.m.Retry = func(r Retry) {
		var te *transport.Error
		if errors.As(r.Err, &te) && !te.Reached {
			retries++
		}
	}
	_, err := s.End(context.Background(), Request{})
	var ne *NotEndedError
	var te *transport.Error
	if !errors.As(err, &ne) || !errors.As(err, &te) || te.Reached {
		t.Fatalf("err = %v; want NotEndedError around a transport error that never reached the server", err)
	}
	if retries != 2 {
		t.Errorf("%d retries, want 2", retries)
	}
	if _, err := f.m.Store.Get("s"); err != nil {
		t.Errorf("an end nobody answered dropped the session: %v", err)
	}
	if _, err := s.Send(context.Background(), Request{Body: body(discover)}); !errors.As(err, &te) {
		t.Errorf("send to a dead server: %v; want a transport.Error", err)
	}
}

func TestInterruptedLeavesTheSession(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	arrived := make(chan struct{})
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // read it all, so that the server notices the client hang up
		close(arrived)
		<-r.Context().Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	_, err := s.Send(ctx, Request{Body: body(discover)})
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.While != "waiting for" {
		t.Fatalf("err = %v; want InterruptedError while waiting", err)
	}
	if n := f.requests(); n != 1 {
		t.Errorf("an interrupted request was counted: %d", n)
	}
}

func TestBeginWithoutSessionID(t *testing.T) {
	f := newFixture(t)
	f.h.set(reply200("text/xml", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><ExecuteResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return/></ExecuteResponse></s:Body></s:Envelope>`))
	_, err := f.m.Begin(context.Background(), BeginOptions{Name: "s", URL: f.srv.URL + "/xmla", Dialect: dialect(t, "xmla")})
	if !errors.Is(err, ErrNoSessionID) {
		t.Fatalf("err = %v; want ErrNoSessionID", err)
	}
	if _, err := f.m.Store.Get("s"); !errors.Is(err, state.ErrNoSession) {
		t.Errorf("a session was kept: %v", err)
	}
}

func TestBeginRefusesAnOpenName(t *testing.T) {
	f := newFixture(t)
	f.begin()
	var hits atomic.Int64
	f.h.set(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	_, err := f.m.Begin(context.Background(), BeginOptions{Name: "s", URL: f.srv.URL + "/xmla", Dialect: dialect(t, "xmla")})
	if !errors.Is(err, state.ErrExists) || hits.Load() != 0 {
		t.Errorf("err = %v after %d requests; want ErrExists before sending", err, hits.Load())
	}
}

// A session the server opened but that cannot be kept (here another begin
// took the name meanwhile) is ended on the server, never left there.
func TestBeginEndsASessionItCannotKeep(t *testing.T) {
	f := newFixture(t)
	ref := refserver.New(refserver.Options{})
	var ends atomic.Int64
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		r.Body.Close()
		if strings.Contains(buf.String(), "BeginSession") {
			// Something outside soapsess (a hand edit) puts a file in the
			// way while the begin is on the wire; the name's lock cannot stop it.
			os.WriteFile(f.m.Store.Path("s"), []byte("not JSON"), 0o600)
		}
		if strings.Contains(buf.String(), "EndSession") {
			ends.Add(1)
		}
		ref.ServeHTTP(w, r2(r, buf.Bytes()))
	}))
	_, err := f.m.Begin(context.Background(), BeginOptions{Name: "s", URL: f.srv.URL + "/xmla", Dialect: dialect(t, "xmla")})
	var nk *NotKeptError
	var ce *state.CorruptError
	if !errors.As(err, &nk) || !nk.Ended || !errors.As(err, &ce) {
		t.Fatalf("err = %v; want NotKeptError, ended, because a corrupt file is in the way", err)
	}
	if ends.Load() != 1 {
		t.Errorf("%d ends reached the server, want 1", ends.Load())
	}
	if raw, _ := os.ReadFile(f.m.Store.Path("s")); string(raw) != "not JSON" {
		t.Errorf("the file in the way was touched: %q", raw)
	}
}

// Errors a dialect declares inside a successful reply are faults too: the
// reference server's XMLA endpoint answers a statement with Messages/Error
// in HTTP 200, as SSAS does.
func TestInBodyErrorFromTheDialect(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	stmt := `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement>SELECT 1</Statement></Command><Properties/></Execute>`
	res, err := s.Send(context.Background(), Request{Body: body(stmt)})
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Problem.Kind != "XMLA error" || res.Reply.Status != 200 {
		t.Fatalf("err = %v; want the XMLA error in the 200 reply as a FaultError", err)
	}
}

// A failed end that may have reached the server is tried again with the
// dialect's own end body: a statement given with the end never runs twice.
func TestEndNeverSendsTheCallersBodyTwice(t *testing.T) {
	f := newFixture(t)
	var bodies []string
	var mu sync.Mutex
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if strings.Contains(string(b), "BeginSession") {
			refserver.New(refserver.Options{}).ServeHTTP(w, r2(r, b))
			return
		}
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close() // read it, then hang up: it may have run
	}))
	s := f.begin()
	stmt := `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement>DROP CUBE important</Statement></Command><Properties/></Execute>`
	_, err := s.End(context.Background(), Request{Body: body(stmt)})
	var ne *NotEndedError
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v; want NotEndedError", err)
	}
	mu.Lock()
	defer mu.Unlock()
	runs := 0
	for _, b := range bodies {
		runs += strings.Count(b, "DROP CUBE")
	}
	if len(bodies) != 4 || runs != 1 {
		t.Errorf("%d requests (want a begin and 3 ends); the statement went %d times, want 1", len(bodies), runs)
	}
}

func r2(r *http.Request, b []byte) *http.Request {
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(b))
	return c
}

// A session reuses its connection from call to call (NTLM authenticates
// connections), and a changed Conn gets a client of its own.
func TestCallsReuseTheConnection(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	for range 5 {
		if _, err := s.Send(context.Background(), Request{Body: body(discover)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.conns.Load(); n != 1 {
		t.Errorf("a begin and 5 sends opened %d connections, want 1", n)
	}
	if s.State.Requests != 6 {
		t.Errorf("Session.State.Requests = %d after a begin and 5 sends, want 6", s.State.Requests)
	}
	s.Conn.Header = http.Header{"X-Trace-Id": {"1"}}
	if _, err := s.Send(context.Background(), Request{Body: body(discover)}); err != nil {
		t.Fatal(err)
	}
	if n := f.conns.Load(); n != 2 {
		t.Errorf("a changed Conn reused the old client: %d connections, want 2", n)
	}
	if _, err := s.End(context.Background(), Request{}); err != nil {
		t.Fatal(err)
	}
}

// An end that fails before anything is sent (a setting that cannot work)
// says so, not that the server could not be reached.
func TestEndWithBadSettingsIsNotANotEndedError(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	s.Conn.CACert = filepath.Join(testdir.New(t), "missing.pem")
	_, err := s.End(context.Background(), Request{})
	var ne *NotEndedError
	var ce *transport.ConfigError
	if errors.As(err, &ne) || !errors.As(err, &ce) {
		t.Errorf("err = %v; want a ConfigError, not a NotEndedError", err)
	}
}

// An end reply cut off mid-tag is a broken connection: the session is
// kept, as no confirmation came.
func TestEndCutInsideATagKeepsTheSession(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("Content-Length", "500")
		io.WriteString(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><EndSessionRes`)
	}))
	_, err := s.End(context.Background(), Request{})
	var te *transport.Error
	if !errors.As(err, &te) {
		t.Fatalf("err = %v; want the transport error of the cut", err)
	}
	if _, err := f.m.Store.Get("s"); err != nil {
		t.Errorf("a cut-off end dropped the session: %v", err)
	}
}

// A dialect's own captures: a value the server hands out is kept as a
// session variable, sent with later requests through the templates, and
// cleared when the reply says so.
func TestDialectCaptures(t *testing.T) {
	f := newFixture(t)
	dir := testdir.New(t)
	xmla, _ := envelope.Builtin("xmla")
	names, files, err := xmla.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b := files[n]
		switch n {
		case "manifest.toml":
			b = append(b, "\n[[captures]]\nname = \"ticket\"\nvalue = \"//*[local-name()='Ticket']\"\nclear = \"//*[local-name()='Done']\"\n"...)
		case "session.xml": // the ticket goes with every request, when there is one
			b = append(b, "{{with index .Var \"ticket\"}}<Ticket xmlns=\"urn:t\">{{.}}</Ticket>{{end}}"...)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d, err := envelope.Load(os.DirFS(dir), "ticketed", dir)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	var mu sync.Mutex
	ref := refserver.New(refserver.Options{})
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, regexp.MustCompile(`<Ticket[^>]*>([^<]*)<`).FindString(string(b)))
		n := len(seen)
		mu.Unlock()
		rec := httptest.NewRecorder()
		ref.ServeHTTP(rec, r2(r, b))
		out := rec.Body.String()
		switch n {
		case 2: // the first send: a ticket comes back
			out = strings.Replace(out, "</soap:Body>", `<Ticket xmlns="urn:t">T-42</Ticket></soap:Body>`, 1)
		case 4: // the third: the server is done with it
			out = strings.Replace(out, "</soap:Body>", `<Done xmlns="urn:t"/></soap:Body>`, 1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		io.WriteString(w, out)
	}))
	res, err := f.m.Begin(context.Background(), BeginOptions{Name: "s", URL: f.srv.URL + "/xmla", Dialect: d})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Session
	for i := range 4 {
		res, err := s.Send(context.Background(), Request{Body: body(discover)})
		if err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
		if i == 0 && res.Captured["ticket"] != "T-42" || i == 2 && !slices.Contains(res.Cleared, "ticket") {
			t.Errorf("send %d: captured %v, cleared %v", i+1, res.Captured, res.Cleared)
		}
	}
	kept, _ := f.m.Store.Get("s")
	if _, ok := kept.Vars["ticket"]; ok {
		t.Errorf("the ticket is still kept: %v", kept.Vars)
	}
	mu.Lock()
	defer mu.Unlock()
	// begin, then sends 1-4: the ticket goes with sends 2 and 3 only.
	want := []bool{false, false, true, true, false}
	for i, w := range want {
		if (seen[i] != "") != w {
			t.Errorf("request %d carried %q", i+1, seen[i])
		}
	}
}

// Ten begins on one name at once, each its own Manager as separate
// processes would be: exactly one reaches the server and keeps a session;
// the others are refused before sending anything.
func TestParallelBeginsOpenOneSession(t *testing.T) {
	f := newFixture(t)
	var begins atomic.Int64
	ref := refserver.New(refserver.Options{})
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte("BeginSession")) {
			begins.Add(1)
		}
		ref.ServeHTTP(w, r2(r, b))
	}))
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store, err := state.Open(f.m.Store.Dir)
			if err != nil {
				errs[i] = err
				return
			}
			m := &Manager{Store: store}
			_, errs[i] = m.Begin(context.Background(), BeginOptions{Name: "s", URL: f.srv.URL + "/xmla", Dialect: dialect(t, "xmla")})
		}()
	}
	wg.Wait()
	ok, exists := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, state.ErrExists):
			exists++
		default:
			t.Errorf("begin: %v", err)
		}
	}
	if ok != 1 || exists != 9 || begins.Load() != 1 {
		t.Errorf("%d begun, %d refused, %d begins reached the server; want 1, 9, 1", ok, exists, begins.Load())
	}
}

// A sqlsoap end answered with a fault that is not "unknown session", and
// without the terminate echo, is tried again and the session kept, as the
// SQL Server docs ask; an end the server answers "unknown session" has
// done its job (Result.Gone).
func TestEndFaultWithoutConfirmation(t *testing.T) {
	f := newFixture(t)
	var ends atomic.Int64
	var gone atomic.Bool
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/xml")
		switch {
		case bytes.Contains(b, []byte(`initiate="true"`)):
			fmt.Fprint(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><o:sqlSession xmlns:o="http://schemas.microsoft.com/sqlserver/2004/SOAP/Options" sessionId="F1" timeout="60"/></s:Header><s:Body/></s:Envelope>`)
		case gone.Load():
			w.WriteHeader(500)
			fmt.Fprint(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>There was an error in the incoming SOAP request packet:  Client, SoapHeader, SessionIdIsInvalid</faultstring></s:Fault></s:Body></s:Envelope>`)
		default:
			ends.Add(1)
			w.WriteHeader(500)
			fmt.Fprint(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>the batch failed</faultstring></s:Fault></s:Body></s:Envelope>`)
		}
	}))
	res, err := f.m.Begin(context.Background(), BeginOptions{Name: "s", URL: f.srv.URL + "/sql", Dialect: dialect(t, "sqlsoap")})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Session
	_, err = s.End(context.Background(), Request{})
	var nc *EndNotConfirmedError
	var fe *FaultError
	if !errors.As(err, &nc) || !nc.Final || !errors.As(err, &fe) || ends.Load() != 3 {
		t.Fatalf("err = %v after %d ends; want EndNotConfirmedError with the fault, after 3", err, ends.Load())
	}
	if _, err := f.m.Store.Get("s"); err != nil {
		t.Fatalf("an unconfirmed end dropped the session: %v", err)
	}
	gone.Store(true)
	res, err = s.End(context.Background(), Request{})
	if err != nil || res.Gone == "" {
		t.Fatalf("ending a session the server no longer knows: %v (gone %q)", err, res.Gone)
	}
	if st, err := f.m.Store.Get("s"); err != nil || st.Ended != state.Ended {
		t.Errorf("the session is still open: %+v, %v", st, err)
	}
}
