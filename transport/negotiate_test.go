package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/soapsess/soapsess/internal/testdir"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/soapsess/soapsess/internal/peers"
)

// echoBackend is a backend that answers a POST with its body, as a SOAP server
// behind the auth proxies.
func echoBackend(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		io.Copy(w, r.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// wireTap is a TCP proxy in front of addr that reads the requests going
// through it: what was really on the wire.
type wireTap struct {
	URL string // http://localhost:PORT
	mu  sync.Mutex
	got []*http.Request
}

func newWireTap(t *testing.T, target string) *wireTap {
	t.Helper()
	u, _ := strings.CutPrefix(target, "http://")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tp := &wireTap{URL: fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)}
	if host, port, err := net.SplitHostPort(u); err == nil && host == "localhost" {
		u = net.JoinHostPort("127.0.0.1", port)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", u)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(c, s); c.Close() }()
			go func() {
				defer s.Close()
				// A request is kept before it is passed on, so it is there
				// once its reply is. Clients send the next one only then, so
				// raw holds one request at a time.
				var raw bytes.Buffer
				br := bufio.NewReader(io.TeeReader(c, &raw))
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					tp.mu.Lock()
					tp.got = append(tp.got, req)
					tp.mu.Unlock()
					if _, err := s.Write(raw.Next(raw.Len() - br.Buffered())); err != nil {
						return
					}
				}
			}()
		}
	}()
	return tp
}

// schemes are the Authorization schemes of the requests seen, "-" for none.
func (tp *wireTap) schemes() []string {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var s []string
	for _, r := range tp.got {
		s = append(s, authScheme(r.Header.Get("Authorization")))
	}
	return s
}

func authScheme(authz string) string {
	if authz == "" {
		return "-"
	}
	s, _, _ := strings.Cut(authz, " ")
	return s
}

// traced records the Authorization schemes a trace shows on each request,
// "-" for none, and fails on a header shown with its credentials.
type traced struct {
	mu    sync.Mutex
	heads []string
}

func (tr *traced) trace() *Trace {
	return &Trace{Request: func(head string, body []byte) {
		tr.mu.Lock()
		tr.heads = append(tr.heads, head)
		tr.mu.Unlock()
	}}
}

var traceAuthz = regexp.MustCompile(`(?m)^Authorization: (.*)$`)

func (tr *traced) schemes(t *testing.T) []string {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var s []string
	for _, h := range tr.heads {
		m := traceAuthz.FindStringSubmatch(h)
		if m == nil {
			s = append(s, "-")
			continue
		}
		sch, rest, _ := strings.Cut(m[1], " ")
		if rest != "[redacted]" {
			t.Errorf("the trace shows credentials: %q", m[0])
		}
		s = append(s, sch)
	}
	return s
}

func (tr *traced) all() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.heads, "\n")
}

// postStatus posts body to url and returns the reply's status and body.
func postStatus(t *testing.T, c *Client, url, body string) (int, string, error) {
	t.Helper()
	resp, err := c.Do(post(t, url, body))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status, string(b), nil
}

func legs(s []string) string { return strings.Join(s, " ") }

// Kerberos against MIT krb5kdc and Apache mod_auth_gssapi: from a ticket
// cache and with a password, the SPN from the URL or given; each leg's
// Authorization in the trace is the one on the wire.
func TestKerberosAgainstMITAndApache(t *testing.T) {
	realm := peers.KerberosRealm(t)
	web := realm.KerberosWeb(t, echoBackend(t))
	tp := newWireTap(t, web)
	ip := strings.Replace(tp.URL, "localhost", "127.0.0.1", 1)
	ccache := realm.Kinit(t)
	t.Logf("realm and Apache up in %s", realm.Up)

	for _, tt := range []struct {
		name string
		url  string
		opt  Options
	}{
		{"ccache", tp.URL, Options{Kerberos: Kerberos{Config: realm.Config, CCache: ccache}}},
		{"ccache path without FILE:", tp.URL, Options{Kerberos: Kerberos{Config: realm.Config, CCache: strings.TrimPrefix(ccache, "FILE:")}}},
		{"password", tp.URL, Options{User: realm.User, Password: realm.Password, Kerberos: Kerberos{Config: realm.Config}}},
		{"user@realm", tp.URL, Options{User: realm.User + "@soapsess.test", Password: realm.Password, Kerberos: Kerberos{Config: realm.Config}}},
		{`DOMAIN\user`, tp.URL, Options{User: `SOAPSESS\` + realm.User, Password: realm.Password, Kerberos: Kerberos{Config: realm.Config}}},
		{"IP URL with SPN", ip, Options{SPN: realm.SPN, Kerberos: Kerberos{Config: realm.Config, CCache: ccache}}},
	} {
		for _, auth := range []Auth{AuthKerberos, AuthNegotiate} {
			t.Run(tt.name+"/"+string(auth), func(t *testing.T) {
				tp.mu.Lock()
				tp.got = nil
				tp.mu.Unlock()
				opt := tt.opt
				opt.Auth = auth
				c := client(t, opt)
				var tr traced
				c.Trace = tr.trace()
				body := "<Execute>" + tt.name + "</Execute>"
				status, got, err := postStatus(t, c, tt.url+"/xmla", body)
				if err != nil || status != 200 || got != body {
					t.Fatalf("status %d, body %q, error %v; want 200 and the body echoed\n%s", status, got, err, tr.all())
				}
				if want, wire, shown := "- Negotiate", legs(tp.schemes()), legs(tr.schemes(t)); wire != want || shown != want {
					t.Errorf("Authorization per leg: on the wire %q, in the trace %q; want %q", wire, shown, want)
				}
				if realm.Password != "" && strings.Contains(tr.all(), realm.Password) {
					t.Error("the trace shows the password")
				}
			})
		}
	}

	t.Run("IP URL without SPN", func(t *testing.T) {
		c := client(t, Options{Auth: AuthKerberos, Kerberos: Kerberos{Config: realm.Config, CCache: ccache}})
		_, _, err := postStatus(t, c, ip+"/xmla", "<e/>")
		var ke *KerberosError
		if !errors.As(err, &ke) || !errors.Is(err, ErrKerberosUnknownService) || ke.SPN != "HTTP/127.0.0.1" {
			t.Fatalf("got %v; want the KDC not knowing HTTP/127.0.0.1", err)
		}
		if !strings.Contains(err.Error(), "KDC_ERR_S_PRINCIPAL_UNKNOWN") {
			t.Errorf("the KDC's error name is not in %q", err)
		}
	})

	for _, tt := range []struct {
		name, user, password string
		want                 error
		code                 string
	}{
		{"wrong password", realm.User, "wrong-" + realm.Password, ErrKerberosPassword, "KDC_ERR_PREAUTH_FAILED"},
		{"unknown user", "mallory", "whatever", ErrKerberosUnknownUser, "KDC_ERR_C_PRINCIPAL_UNKNOWN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp.mu.Lock()
			tp.got = nil
			tp.mu.Unlock()
			c := client(t, Options{Auth: AuthKerberos, User: tt.user, Password: tt.password, Kerberos: Kerberos{Config: realm.Config}})
			var tr traced
			c.Trace = tr.trace()
			for range 2 { // a refused login is not tried again
				_, _, err := postStatus(t, c, tp.URL+"/xmla", "<e/>")
				var te *Error
				if !errors.Is(err, tt.want) || !errors.As(err, &te) || !strings.Contains(err.Error(), tt.code) {
					t.Fatalf("got %v; want a transport error for %v (%s)", err, tt.want, tt.code)
				}
			}
			if wire, shown := legs(tp.schemes()), legs(tr.schemes(t)); wire != "- -" || shown != "- -" {
				t.Errorf("Authorization per request: on the wire %q, in the trace %q; want none", wire, shown)
			}
		})
	}
}

// A server that answers every token with a bare "Negotiate", as IIS answers
// a rejected one, is asked once with Kerberos (and once with NTLM, for
// negotiate with a password), and its 401 is the answer.
func TestNegotiateForeverIsAskedOnce(t *testing.T) {
	realm := peers.KerberosRealm(t)
	ccache := realm.Kinit(t)
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, authScheme(r.Header.Get("Authorization")))
		mu.Unlock()
		w.Header().Set("WWW-Authenticate", "Negotiate")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, tt := range []struct {
		name string
		opt  Options
		want string
	}{
		{"kerberos from the cache", Options{Auth: AuthKerberos, Kerberos: Kerberos{Config: realm.Config, CCache: ccache}}, "- Negotiate"},
		{"negotiate from the cache", Options{Auth: AuthNegotiate, Kerberos: Kerberos{Config: realm.Config, CCache: ccache}}, "- Negotiate"},
		{"negotiate with a password", Options{Auth: AuthNegotiate, User: realm.User, Password: realm.Password, Kerberos: Kerberos{Config: realm.Config}}, "- Negotiate Negotiate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			c := client(t, tt.opt)
			var tr traced
			c.Trace = tr.trace()
			status, _, err := postStatus(t, c, url+"/x", "<e/>")
			if err != nil || status != 401 {
				t.Fatalf("status %d, error %v; want the 401", status, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if legs(got) != tt.want || legs(tr.schemes(t)) != tt.want {
				t.Errorf("Authorization per request: at the server %q, in the trace %q; want %q", got, tr.schemes(t), tt.want)
			}
		})
	}
}

// ntlmRun is a request to a gss-ntlmssp acceptor and what must happen.
type ntlmRun struct {
	name   string
	opt    Options
	status int
	wire   string // the Authorization schemes per leg
}

func (tt ntlmRun) run(t *testing.T, tp *wireTap) {
	t.Helper()
	tp.mu.Lock()
	tp.got = nil
	tp.mu.Unlock()
	c := client(t, tt.opt)
	defer c.CloseIdleConnections()
	var tr traced
	c.Trace = tr.trace()
	body := "<Discover>" + tt.name + "</Discover>"
	status, got, err := postStatus(t, c, tp.URL+"/xmla", body)
	if err != nil || status != tt.status || (status == 200 && got != body) {
		t.Fatalf("status %d, body %q, error %v; want %d\n%s", status, got, err, tt.status, tr.all())
	}
	if wire, shown := legs(tp.schemes()), legs(tr.schemes(t)); wire != tt.wire || shown != tt.wire {
		t.Errorf("Authorization per leg: on the wire %q, in the trace %q; want %q", wire, shown, tt.wire)
	}
	if strings.Contains(tr.all(), tt.opt.Password) {
		t.Error("the trace shows the password")
	}
}

// NTLMv2 against a real acceptor, gss-ntlmssp behind Apache: --auth ntlm,
// and negotiate with no Kerberos to try (no krb5.conf, no KDC); a wrong
// password is its 401.
func TestNTLMAgainstGSSNTLMSSP(t *testing.T) {
	ntlm := peers.NTLMAcceptor(t, echoBackend(t))
	tp := newWireTap(t, ntlm.URL)
	noKDC := writeKrb5Conf(t, "[libdefaults]\n\tdefault_realm = SOAPSESS.TEST\n\tudp_preference_limit = 1\n[realms]\n\tSOAPSESS.TEST = {\n\t\tkdc = 127.0.0.1:1\n\t}\n")
	for _, tt := range []ntlmRun{
		{"ntlm", Options{Auth: AuthNTLM, User: ntlm.Login(), Password: ntlm.Password}, 200, "- NTLM NTLM"},
		{"ntlm, wrong password", Options{Auth: AuthNTLM, User: ntlm.Login(), Password: "wrong-pw"}, 401, "- NTLM NTLM"},
		{"negotiate without krb5.conf", Options{Auth: AuthNegotiate, User: ntlm.Login(), Password: ntlm.Password, Kerberos: Kerberos{Config: filepath.Join(testdir.New(t), "none")}}, 200, "- NTLM NTLM"},
		{"negotiate, no KDC", Options{Auth: AuthNegotiate, User: ntlm.Login(), Password: ntlm.Password, Kerberos: Kerberos{Config: noKDC}}, 200, "- NTLM NTLM"},
		{"negotiate, wrong password", Options{Auth: AuthNegotiate, User: ntlm.Login(), Password: "wrong-pw", Kerberos: Kerberos{Config: noKDC}}, 401, "- NTLM NTLM"},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, tp) })
	}
}

// negotiate falls back to NTLM against gss-ntlmssp (which takes no
// Kerberos) when the KDC does not know the user, and when the server
// rejects the Kerberos token.
func TestNegotiateFallsBackToNTLM(t *testing.T) {
	realm := peers.KerberosRealm(t)
	ntlm := peers.NTLMAcceptor(t, echoBackend(t))
	tp := newWireTap(t, ntlm.URL)
	opt := Options{Auth: AuthNegotiate, User: ntlm.Login(), Password: ntlm.Password, Kerberos: Kerberos{Config: realm.Config}}
	// SOAPSESS\bob is bob@SOAPSESS.TEST, the realm's NetBIOS-style name.
	t.Run("unknown to the KDC", func(t *testing.T) { ntlmRun{"unknown", opt, 200, "- NTLM NTLM"}.run(t, tp) })
	realm.AddUser(t, ntlm.User, ntlm.Password)
	t.Run("token rejected", func(t *testing.T) { ntlmRun{"rejected", opt, 200, "- Negotiate NTLM NTLM"}.run(t, tp) })
	// A password the KDC refuses is not tried with NTLM.
	opt.Password = "wrong-pw"
	_, _, err := postStatus(t, client(t, opt), tp.URL+"/xmla", "<e/>")
	if !errors.Is(err, ErrKerberosPassword) {
		t.Errorf("a refused password: %v; want ErrKerberosPassword", err)
	}
}

// fakeKDC answers every request with a KRB-ERROR of code, over TCP.
func fakeKDC(t *testing.T, code int32) (config string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var n uint32
				if binary.Read(c, binary.BigEndian, &n) != nil {
					return
				}
				io.CopyN(io.Discard, c, int64(n))
				e := messages.NewKRBError(types.PrincipalName{NameType: 2, NameString: []string{"krbtgt", "FAKE.TEST"}}, "FAKE.TEST", code, "")
				b, _ := e.Marshal()
				binary.Write(c, binary.BigEndian, uint32(len(b)))
				c.Write(b)
			}()
		}
	}()
	path := filepath.Join(testdir.New(t), "krb5.conf")
	conf := fmt.Sprintf("[libdefaults]\n\tdefault_realm = FAKE.TEST\n\tudp_preference_limit = 1\n[realms]\n\tFAKE.TEST = {\n\t\tkdc = %s\n\t}\n", ln.Addr())
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Why Kerberos failed is an error value a caller can tell apart, and no
// request with credentials goes out.
func TestKerberosFailuresAreTyped(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Add("WWW-Authenticate", "Negotiate")
		w.Header().Add("WWW-Authenticate", "NTLM")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	dir := testdir.New(t)
	noRealm := filepath.Join(dir, "norealm.conf")
	os.WriteFile(noRealm, []byte("[libdefaults]\n\tdns_lookup_kdc = false\n"), 0o644)
	noKDC := writeKrb5Conf(t, "[libdefaults]\n\tudp_preference_limit = 1\n[realms]\n\tFAKE.TEST = {\n\t\tkdc = 127.0.0.1:1\n\t}\n")
	for _, tt := range []struct {
		name string
		opt  Options
		want error
		text string
	}{
		{"clock skew", Options{User: "ann", Password: "pw", Kerberos: Kerberos{Config: fakeKDC(t, errorcode.KRB_AP_ERR_SKEW)}}, ErrKerberosSkew, "KRB_AP_ERR_SKEW"},
		{"unknown user", Options{User: "ann", Password: "pw", Kerberos: Kerberos{Config: fakeKDC(t, errorcode.KDC_ERR_C_PRINCIPAL_UNKNOWN)}}, ErrKerberosUnknownUser, "ann@FAKE.TEST"},
		{"no KDC", Options{User: "ann@FAKE.TEST", Password: "pw", Kerberos: Kerberos{Config: noKDC}}, ErrKerberosKDC, "ann@FAKE.TEST"},
		{"no realm", Options{User: "ann", Password: "pw", Kerberos: Kerberos{Config: noRealm}}, ErrKerberosNoRealm, "user@REALM"},
		{"no krb5.conf", Options{User: "ann", Password: "pw", Kerberos: Kerberos{Config: filepath.Join(dir, "missing.conf")}}, ErrKerberosNoConfig, "missing.conf"},
		{"no cache", Options{Kerberos: Kerberos{Config: noRealm, CCache: "FILE:" + filepath.Join(dir, "krb5cc_none")}}, ErrKerberosNoTicket, "krb5cc_none"},
		{"keyring cache", Options{Kerberos: Kerberos{Config: noRealm, CCache: "KEYRING:persistent:1000"}}, ErrKerberosCCacheType, "KEYRING"},
		{"not a cache", Options{Kerberos: Kerberos{Config: noRealm, CCache: noRealm}}, nil, "credential cache"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			tt.opt.Auth = AuthKerberos
			_, _, err := postStatus(t, client(t, tt.opt), srv.URL+"/x", "<e/>")
			var ke *KerberosError
			if !errors.As(err, &ke) || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("got %v; want a KerberosError for %v saying %q", err, tt.want, tt.text)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || got[0] != "" {
				t.Errorf("Authorization per request: %q; want one request, without", got)
			}
		})
	}
}

// Who a user is in Kerberos.
func TestKerberosPrincipal(t *testing.T) {
	cfg, _, err := loadKrb5Conf(writeKrb5Conf(t, "[libdefaults]\n\tdefault_realm = CORP.EXAMPLE.COM\n\tdns_canonicalize_hostname = fallback\n\tspake_preauth_groups = edwards25519\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LibDefaults.DNSCanonicalizeHostname {
		t.Error("dns_canonicalize_hostname = fallback read as true; want the name as given")
	}
	for _, tt := range []struct{ user, name, realm string }{
		{"ann", "ann", "CORP.EXAMPLE.COM"},
		{"ann@corp.example.com", "ann", "CORP.EXAMPLE.COM"},
		{"ann@OTHER.ORG", "ann", "OTHER.ORG"},
		{`CORP\ann`, "ann", "CORP.EXAMPLE.COM"},
		{`corp.example.com\ann`, "ann", "CORP.EXAMPLE.COM"},
		{`OTHER\ann`, "ann", "OTHER"},
	} {
		name, realm, err := principal(tt.user, cfg)
		if err != nil || name != tt.name || realm != tt.realm {
			t.Errorf("%s: %s@%s, %v; want %s@%s", tt.user, name, realm, err, tt.name, tt.realm)
		}
	}
}

func writeKrb5Conf(t *testing.T, s string) string {
	path := filepath.Join(testdir.New(t), "krb5.conf")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The SPN is the URL's host unless given, whatever the port.
func TestServicePrincipal(t *testing.T) {
	cfg, _, _ := loadKrb5Conf(writeKrb5Conf(t, "[libdefaults]\n\tdns_canonicalize_hostname = false\n"))
	for _, tt := range []struct{ url, spn, want string }{
		{"http://Web.Example.COM:8080/x", "", "HTTP/web.example.com"},
		{"http://127.0.0.1:8080/x", "", "HTTP/127.0.0.1"},
		{"http://[::1]/x", "", "HTTP/::1"},
		{"http://127.0.0.1:8080/x", "HTTP/web.example.com", "HTTP/web.example.com"},
	} {
		req := post(t, tt.url, "")
		if got := servicePrincipal(req.Context(), Options{SPN: tt.spn}, cfg, req.URL.Hostname()); got != tt.want {
			t.Errorf("%s with SPN %q: %s; want %s", tt.url, tt.spn, got, tt.want)
		}
	}
}
