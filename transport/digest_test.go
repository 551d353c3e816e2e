package transport

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soapsess/soapsess/internal/peers"
)

// digestParams reads the parameters of a Digest header, written here
// rather than taken from icholy/digest so that the test server checks the
// client with code of its own.
func digestParams(header string) map[string]string {
	p := map[string]string{}
	rest, ok := strings.CutPrefix(header, "Digest ")
	if !ok {
		return nil
	}
	for _, m := range regexp.MustCompile(`(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))`).FindAllStringSubmatch(rest, -1) {
		v := m[3]
		if m[2] != "" || strings.HasPrefix(m[0], m[1]+`="`) {
			v = strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(m[2])
		}
		p[m[1]] = v
	}
	return p
}

// digestResponse computes the response parameter for the Authorization
// p (as digestParams reads it), as RFC 7616 3.4 says.
func digestResponse(p map[string]string, method, password string, body []byte) string {
	name, sess := strings.CutSuffix(strings.ToUpper(p["algorithm"]), "-SESS")
	newHash := map[string]func() hash.Hash{"": md5.New, "MD5": md5.New, "SHA-256": sha256.New, "SHA-512-256": sha512.New512_256}[name]
	if newHash == nil {
		return "unknown algorithm"
	}
	h := func(s string) string {
		x := newHash()
		io.WriteString(x, s)
		return hex.EncodeToString(x.Sum(nil))
	}
	ha1 := h(p["username"] + ":" + p["realm"] + ":" + password)
	if sess {
		ha1 = h(ha1 + ":" + p["nonce"] + ":" + p["cnonce"])
	}
	ha2 := h(method + ":" + p["uri"])
	if p["qop"] == "auth-int" {
		ha2 = h(method + ":" + p["uri"] + ":" + h(string(body)))
	}
	if p["qop"] == "" {
		return h(ha1 + ":" + p["nonce"] + ":" + ha2)
	}
	return h(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":" + p["qop"] + ":" + ha2)
}

// The test server's own check agrees with RFC 7616's examples (3.9.1).
func TestDigestResponseAsRFC7616(t *testing.T) {
	p := map[string]string{"username": "Mufasa", "realm": "http-auth@example.org", "uri": "/dir/index.html",
		"nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "nc": "00000001", "qop": "auth",
		"cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"}
	for alg, want := range map[string]string{
		"MD5":     "8ca523f5e9506fed4657c9700eebdbec",
		"SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
	} {
		p["algorithm"] = alg
		if got := digestResponse(p, "GET", "Circle of Life", nil); got != want {
			t.Errorf("%s: %s, want %s", alg, got, want)
		}
	}
}

// digestLeg is one request as the test server received it.
type digestLeg struct {
	auth string // the Authorization header, "" for none
	body string
}

// digestServer asks for Digest with the algorithms it offers (one
// challenge each) and checks the answers, as a web server in front of a
// SOAP endpoint does; what passes is echoed back.
type digestServer struct {
	t        *testing.T
	password string
	offers   []string // algorithms, as written in the challenges; "-" for none
	qop      string   // "auth", "auth-int", "auth,auth-int", or "" for none
	// staleNext answers that many correct requests with stale=true, a
	// new nonce, as a server whose nonce just expired.
	staleNext int
	// unknownIsStale: a nonce it did not give out (or forgot) is
	// answered stale=true, as http-auth does; else a plain 401, as Apache.
	unknownIsStale bool
	basicOnly      bool // offer Basic, not Digest

	mu     sync.Mutex
	nonces map[string]int // nonce → last nc
	seq    int
	legs   []digestLeg
	used   []string // algorithm of each accepted answer
}

func (s *digestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	s.legs = append(s.legs, digestLeg{auth: auth, body: string(body)})
	if auth == "" {
		s.challenge(w, false)
		return
	}
	p := digestParams(auth)
	if p == nil {
		s.t.Errorf("Authorization %q: not Digest", auth)
		s.challenge(w, false)
		return
	}
	last, known := s.nonces[p["nonce"]]
	nc, _ := strconv.ParseInt(p["nc"], 16, 64)
	ok := p["username"] == `CORP\ann` && p["realm"] == "SOAP" && p["uri"] == r.URL.RequestURI() &&
		p["response"] == digestResponse(p, r.Method, s.password, body)
	switch {
	case !known || (p["qop"] != "" && int(nc) <= last):
		s.challenge(w, s.unknownIsStale)
	case ok && s.staleNext > 0:
		s.staleNext--
		delete(s.nonces, p["nonce"])
		s.challenge(w, true)
	case !ok:
		s.challenge(w, false)
	default:
		s.nonces[p["nonce"]] = int(nc)
		s.used = append(s.used, p["algorithm"])
		w.Header().Set("Content-Type", "text/xml")
		w.Write(body)
	}
}

func (s *digestServer) challenge(w http.ResponseWriter, stale bool) {
	if s.basicOnly {
		w.Header().Set("WWW-Authenticate", `Basic realm="SOAP"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if s.nonces == nil {
		s.nonces = map[string]int{}
	}
	for _, alg := range s.offers {
		s.seq++
		nonce := fmt.Sprintf("n%04d", s.seq)
		s.nonces[nonce] = 0
		c := `Digest realm="SOAP", nonce="` + nonce + `"`
		if alg != "-" {
			c += ", algorithm=" + alg
		}
		if s.qop != "" {
			c += `, qop="` + s.qop + `"`
		}
		if stale {
			c += ", stale=true"
		}
		w.Header().Add("WWW-Authenticate", c)
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, "<html><body>401 Unauthorized</body></html>")
}

func (s *digestServer) sent() []digestLeg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]digestLeg(nil), s.legs...)
}

// digestTrace collects what a client's Trace sees.
type digestTrace struct {
	mu        sync.Mutex
	requests  []string
	responses []string
}

func (d *digestTrace) trace() *Trace {
	return &Trace{
		Request:  func(head string, _ []byte) { d.mu.Lock(); d.requests = append(d.requests, head); d.mu.Unlock() },
		Response: func(head string) { d.mu.Lock(); d.responses = append(d.responses, head); d.mu.Unlock() },
	}
}

const digestPassword = "Winter2026!"

func digestClient(t *testing.T, password string) (*Client, *digestTrace) {
	t.Helper()
	c := client(t, Options{Auth: AuthDigest, User: `CORP\ann`, Password: password})
	tr := &digestTrace{}
	c.Trace = tr.trace()
	return c, tr
}

// digestDo posts body and returns the status and the reply's body.
func digestDo(t *testing.T, c *Client, url, body string) (int, string) {
	t.Helper()
	resp, err := c.Do(post(t, url, body))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status, string(b)
}

// noSecretsSent fails the test if a request went with the password or a
// Basic header.
func noSecretsSent(t *testing.T, legs []digestLeg) {
	t.Helper()
	for i, l := range legs {
		if strings.HasPrefix(l.auth, "Basic") || strings.Contains(l.auth, digestPassword) {
			t.Errorf("leg %d sent Authorization %q", i+1, l.auth)
		}
	}
}

func TestDigestAnswersEachAlgorithm(t *testing.T) {
	const env = `<Envelope><Body><Discover/></Body></Envelope>`
	for _, tt := range []struct {
		offers []string
		qop    string
		want   string // the algorithm answered, as the challenge wrote it
	}{
		{[]string{"MD5"}, "auth", "MD5"},
		{[]string{"-"}, "auth", ""}, // no algorithm: MD5
		{[]string{"MD5"}, "", "MD5"},
		{[]string{"MD5"}, "auth-int", "MD5"},
		{[]string{"MD5"}, "auth,auth-int", "MD5"},
		{[]string{"SHA-256"}, "auth", "SHA-256"},
		{[]string{"SHA-512-256"}, "auth", "SHA-512-256"},
		{[]string{"MD5-sess"}, "auth", "MD5-sess"},
		{[]string{`"MD5-sess"`}, "auth", "MD5-sess"}, // http-auth quotes it
		{[]string{"SHA-256-sess"}, "auth", "SHA-256-sess"},
		{[]string{"md5-sess"}, "auth", "md5-sess"},
		// Of several, the strongest (RFC 7616 3.7).
		{[]string{"MD5", "SHA-256"}, "auth", "SHA-256"},
		{[]string{"SHA-512-256", "SHA-256", "MD5"}, "auth", "SHA-512-256"},
	} {
		t.Run(strings.Join(tt.offers, ",")+" qop="+tt.qop, func(t *testing.T) {
			s := &digestServer{t: t, password: digestPassword, offers: tt.offers, qop: tt.qop}
			srv := httptest.NewServer(s)
			defer srv.Close()
			c, _ := digestClient(t, digestPassword)
			if status, body := digestDo(t, c, srv.URL+"/xmla?x=1", env); status != 200 || body != env {
				t.Fatalf("%d %q; want 200 and the envelope echoed", status, body)
			}
			// The next request answers the kept challenge at once, nonce count 2.
			if status, _ := digestDo(t, c, srv.URL+"/xmla?x=1", env); status != 200 {
				t.Fatalf("second request: %d", status)
			}
			legs := s.sent()
			noSecretsSent(t, legs)
			if len(legs) != 3 || legs[0].auth != "" || !strings.HasPrefix(legs[1].auth, "Digest ") {
				t.Fatalf("sent %q; want no credentials, then Digest twice", legs)
			}
			for i, l := range legs {
				if l.body != env {
					t.Errorf("leg %d body %q: want the envelope every time", i+1, l.body)
				}
			}
			if p := digestParams(legs[2].auth); tt.qop != "" && p["nc"] != "00000002" {
				t.Errorf("second request: nc=%s, want 00000002", p["nc"])
			}
			if len(s.used) != 2 || s.used[0] != tt.want {
				t.Errorf("answered with algorithm %q, want %q", s.used, tt.want)
			}
		})
	}
}

// The trace shows every leg as it was sent: the first without
// credentials, the answer with "Authorization: Digest [redacted]", never
// the password nor a Basic header that was not sent.
func TestDigestTraceShowsEachLeg(t *testing.T) {
	s := &digestServer{t: t, password: digestPassword, offers: []string{"MD5"}, qop: "auth"}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, tr := digestClient(t, digestPassword)
	if status, _ := digestDo(t, c, srv.URL+"/xmla", "<e/>"); status != 200 {
		t.Fatalf("status %d", status)
	}
	legs := s.sent()
	if len(tr.requests) != len(legs) || len(tr.responses) != len(legs) || len(legs) != 2 {
		t.Fatalf("the trace shows %d requests and %d replies; the server got %d, want 2",
			len(tr.requests), len(tr.responses), len(legs))
	}
	for i, head := range tr.requests {
		hasAuth := strings.Contains(head, "\nAuthorization:")
		if hasAuth != (legs[i].auth != "") {
			t.Errorf("leg %d: the trace shows Authorization %v, the server got %q:\n%s", i+1, hasAuth, legs[i].auth, head)
		}
		if strings.Contains(head, digestPassword) || strings.Contains(head, "Basic") {
			t.Errorf("leg %d: the trace shows the password or Basic:\n%s", i+1, head)
		}
	}
	if !strings.Contains(tr.requests[1], "\nAuthorization: Digest [redacted]\n") {
		t.Errorf("the answer's trace:\n%s", tr.requests[1])
	}
	if !strings.Contains(tr.responses[0], `Www-Authenticate: Digest realm="SOAP"`) {
		t.Errorf("the challenge's trace:\n%s", tr.responses[0])
	}
	// A dry run shows the first leg: no credentials.
	head, _, err := c.Preview(post(t, srv.URL+"/xmla", "<e/>"))
	if err != nil || strings.Contains(head, "Authorization") {
		t.Errorf("preview %q, %v; want no Authorization", head, err)
	}
}

// A wrong password: the server's 401 comes back as the reply, after one
// answer.
func TestDigestWrongPassword(t *testing.T) {
	s := &digestServer{t: t, password: digestPassword, offers: []string{"MD5"}, qop: "auth"}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, _ := digestClient(t, "wrong")
	status, body := digestDo(t, c, srv.URL+"/xmla", "<e/>")
	if status != 401 || !strings.Contains(body, "401 Unauthorized") {
		t.Errorf("%d %q; want the server's 401 page", status, body)
	}
	if legs := s.sent(); len(legs) != 2 {
		t.Errorf("sent %d requests, want 2: the challenge, one answer", len(legs))
	}
	// Nothing wrong is kept: the next request starts afresh.
	digestDo(t, c, srv.URL+"/xmla", "<e/>")
	if legs := s.sent(); len(legs) != 4 || legs[2].auth != "" {
		t.Errorf("after a refusal: %q; want a request without credentials first", legs)
	}
}

// A nonce the server calls stale is answered again, once, with the new
// one: whether it was kept from an earlier request or just given.
func TestDigestStaleNonce(t *testing.T) {
	s := &digestServer{t: t, password: digestPassword, offers: []string{"SHA-256"}, qop: "auth"}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, tr := digestClient(t, digestPassword)
	digestDo(t, c, srv.URL+"/xmla", "<e/>") // 2 legs
	s.mu.Lock()
	s.staleNext = 1
	s.mu.Unlock()
	if status, body := digestDo(t, c, srv.URL+"/xmla", "<e/>"); status != 200 || body != "<e/>" {
		t.Fatalf("kept nonce gone stale: %d %q", status, body)
	}
	legs := s.sent()
	if len(legs) != 4 || legs[2].auth == "" || legs[3].auth == "" {
		t.Fatalf("kept nonce gone stale: sent %q; want Digest with the kept nonce, then with the new one", legs[2:])
	}
	if !strings.Contains(tr.responses[2], "stale=true") {
		t.Errorf("the stale reply's trace:\n%s", tr.responses[2])
	}

	// A fresh client whose first answer is called stale.
	s2 := &digestServer{t: t, password: digestPassword, offers: []string{"MD5"}, qop: "auth", staleNext: 1}
	srv2 := httptest.NewServer(s2)
	defer srv2.Close()
	c2, _ := digestClient(t, digestPassword)
	if status, _ := digestDo(t, c2, srv2.URL+"/xmla", "<e/>"); status != 200 || len(s2.sent()) != 3 {
		t.Errorf("first answer stale: %d after %d requests; want 200 after 3", status, len(s2.sent()))
	}
}

// A kept challenge the server no longer knows, without stale (Apache
// after a restart): answered afresh.
func TestDigestForgottenNonce(t *testing.T) {
	s := &digestServer{t: t, password: digestPassword, offers: []string{"MD5"}, qop: "auth"}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, _ := digestClient(t, digestPassword)
	digestDo(t, c, srv.URL+"/xmla", "<e/>")
	s.mu.Lock()
	s.nonces = nil // a restart
	s.mu.Unlock()
	if status, _ := digestDo(t, c, srv.URL+"/xmla", "<e/>"); status != 200 || len(s.sent()) != 4 {
		t.Errorf("forgotten nonce: %d after %d requests; want 200 after 4", status, len(s.sent()))
	}
}

// A server that calls every answer stale gets three requests, then its
// 401 comes back.
func TestDigestBounded(t *testing.T) {
	s := &digestServer{t: t, password: digestPassword, offers: []string{"MD5"}, qop: "auth", staleNext: 1000}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, _ := digestClient(t, digestPassword)
	if status, _ := digestDo(t, c, srv.URL+"/xmla", "<e/>"); status != 401 {
		t.Errorf("status %d, want 401", status)
	}
	if n := len(s.sent()); n != digestLegs {
		t.Errorf("sent %d requests, want %d", n, digestLegs)
	}
}

// A challenge that cannot be answered is an error naming what the server
// asked for, not a 401 that looks like a wrong password; a server that
// does not offer Digest gets nothing but the first request.
func TestDigestCannotAnswer(t *testing.T) {
	for _, tt := range []struct {
		offers []string
		qop    string
		want   string
	}{
		{[]string{"SHA3-256"}, "auth", "algorithm=SHA3-256"},
		{[]string{"MD5"}, "auth-conf", "algorithm=MD5 with qop=auth-conf"},
		{[]string{"MD5-sess"}, "", "algorithm=MD5-sess"}, // -sess without a cnonce
	} {
		s := &digestServer{t: t, password: digestPassword, offers: tt.offers, qop: tt.qop}
		srv := httptest.NewServer(s)
		c, _ := digestClient(t, digestPassword)
		_, err := c.Do(post(t, srv.URL+"/xmla", "<e/>"))
		var de *DigestError
		var te *Error
		if !errors.As(err, &de) || !errors.As(err, &te) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v qop=%s: error %v; want a *DigestError in an *Error saying %q", tt.offers, tt.qop, err, tt.want)
		}
		if n := len(s.sent()); n != 1 {
			t.Errorf("%v: sent %d requests, want 1", tt.offers, n)
		}
		srv.Close()
	}

	s := &digestServer{t: t, password: digestPassword, basicOnly: true}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, _ := digestClient(t, digestPassword)
	if status, _ := digestDo(t, c, srv.URL+"/xmla", "<e/>"); status != 401 {
		t.Errorf("Basic offered: status %d, want the 401", status)
	}
	if legs := s.sent(); len(legs) != 1 || legs[0].auth != "" {
		t.Errorf("Basic offered: sent %q; want one request without credentials", legs)
	}
}

// Digest against real servers: Apache mod_auth_digest (MD5), lighttpd
// mod_auth (SHA-256, SHA-512-256, MD5) and http-auth on node (MD5-sess),
// each in front of a backend that echoes what reached it.

// digestEcho is what the real servers proxy to: it echoes the body.
func digestEcho(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, "<echo path=%q>%s</echo>", r.URL.Path, b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// digestSpy records the Authorization header of each request as it goes to
// the wire, below the Digest round tripper.
type digestSpy struct {
	next http.RoundTripper
	mu   sync.Mutex
	auth []string
}

func (s *digestSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	return s.next.RoundTrip(r)
}

func spyDigest(t *testing.T, c *Client) *digestSpy {
	d, ok := c.http.Transport.(*digestTransport)
	if !ok {
		t.Fatalf("the client's transport is %T", c.http.Transport)
	}
	s := &digestSpy{next: d.next}
	d.next = s
	return s
}

var digestPeerUser = peers.DigestUser{Name: "ann", Password: digestPassword, Realm: "soapsess"}

// realDigest checks a client against a real server: a request goes
// through with its body, the trace shows each leg's Authorization as
// sent, the next request answers the kept challenge at once, and a wrong
// password gets the server's 401 after one answer. It returns the
// algorithm the client answered.
func realDigest(t *testing.T, p *peers.DigestPeer) string {
	t.Helper()
	t.Logf("%s listening after %s", p.Version, p.Startup.Round(time.Millisecond))
	c := client(t, Options{Auth: AuthDigest, User: digestPeerUser.Name, Password: digestPeerUser.Password})
	tr := &digestTrace{}
	c.Trace = tr.trace()
	legs := spyDigest(t, c)
	const env = `<Envelope><Body><Discover/></Body></Envelope>`
	want := `<echo path="/xmla">` + env + `</echo>`
	for i := range 2 {
		if status, body := digestDo(t, c, p.URL+"/xmla", env); status != 200 || body != want {
			t.Fatalf("request %d: %d %q; want 200 and %q", i+1, status, body, want)
		}
	}
	if len(legs.auth) != 3 || legs.auth[0] != "" || !strings.HasPrefix(legs.auth[1], "Digest ") || !strings.HasPrefix(legs.auth[2], "Digest ") {
		t.Fatalf("sent Authorization %q; want none, then Digest, then Digest at once", legs.auth)
	}
	if len(tr.requests) != 3 {
		t.Fatalf("the trace shows %d requests, want 3", len(tr.requests))
	}
	for i, head := range tr.requests {
		shown := strings.Contains(head, "\nAuthorization: Digest [redacted]\n")
		if shown != (legs.auth[i] != "") || strings.Contains(head, digestPassword) || strings.Contains(head, "Basic") {
			t.Errorf("leg %d sent Authorization %q; the trace shows:\n%s", i+1, legs.auth[i], head)
		}
	}
	alg := digestParams(legs.auth[1])["algorithm"]

	bad := client(t, Options{Auth: AuthDigest, User: digestPeerUser.Name, Password: "wrong"})
	badLegs := spyDigest(t, bad)
	if status, _ := digestDo(t, bad, p.URL+"/xmla", env); status != 401 || len(badLegs.auth) != 2 {
		t.Errorf("wrong password: %d after %d requests; want 401 after 2", status, len(badLegs.auth))
	}
	return alg
}

func TestDigestAgainstApache(t *testing.T) {
	p := peers.ApacheDigest(t, digestEcho(t).URL, digestPeerUser)
	if alg := realDigest(t, p); alg != "MD5" {
		t.Errorf("answered %s, want MD5", alg)
	}
}

func TestDigestAgainstLighttpd(t *testing.T) {
	backend := digestEcho(t).URL
	for _, tt := range []struct {
		offered []string
		want    string
	}{
		{[]string{"SHA-256"}, "SHA-256"},
		{[]string{"MD5"}, "MD5"},
		{[]string{"SHA-512-256", "SHA-256", "MD5"}, "SHA-512-256"},
	} {
		t.Run(strings.Join(tt.offered, ","), func(t *testing.T) {
			p := peers.LighttpdDigest(t, backend, digestPeerUser, tt.offered...)
			if alg := realDigest(t, p); alg != tt.want {
				t.Errorf("answered %s, want %s", alg, tt.want)
			}
		})
	}
}

// http-auth does MD5-sess, and calls a nonce it does not know stale: so
// a restart turns the client's kept nonce stale, which it answers again.
func TestDigestAgainstNodeMD5Sess(t *testing.T) {
	p := peers.NodeDigest(t, digestEcho(t).URL, digestPeerUser, "MD5-sess")
	if alg := realDigest(t, p); alg != "MD5-sess" {
		t.Errorf("answered %s, want MD5-sess", alg)
	}

	c := client(t, Options{Auth: AuthDigest, User: digestPeerUser.Name, Password: digestPeerUser.Password})
	tr := &digestTrace{}
	c.Trace = tr.trace()
	legs := spyDigest(t, c)
	if status, _ := digestDo(t, c, p.URL+"/xmla", "<e/>"); status != 200 {
		t.Fatalf("status %d", status)
	}
	p.Restart(t)
	c.CloseIdleConnections()
	if status, body := digestDo(t, c, p.URL+"/xmla", "<e/>"); status != 200 || body != `<echo path="/xmla"><e/></echo>` {
		t.Fatalf("after a restart: %d %q", status, body)
	}
	if len(legs.auth) != 4 || legs.auth[2] == "" || legs.auth[3] == "" ||
		digestParams(legs.auth[2])["nonce"] == digestParams(legs.auth[3])["nonce"] {
		t.Errorf("after a restart sent %q; want the kept nonce, then the new one", legs.auth[2:])
	}
	if len(tr.responses) != 4 || !strings.Contains(tr.responses[2], `stale="true"`) {
		t.Errorf("the replies after a restart: %q; want a stale 401, then 200", tr.responses[2:])
	}
}
