package cmd

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	//lint:ignore SA1019 NTLMv2 keys its proof with MD4(UNICODE(password)) by definition ([MS-NLMP] 3.3.2 NTOWFv2); the test server must compute it
	"golang.org/x/crypto/md4"

	"github.com/soapsess/soapsess/refserver"
)

// quiet drops the TLS handshake errors the tests cause on purpose.
var quiet = log.New(io.Discard, "", 0)

const xmlaDiscover = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions/><Properties><PropertyList/></Properties></Discover>`

// ntlmServer puts an NTLM challenge/response in front of the reference
// server, as IIS does, and checks the client's NTLMv2 proof with the
// password it expects.
type ntlmServer struct {
	t         *testing.T
	password  string
	challenge [8]byte
	users     []string // DOMAIN\user of each authenticated request
	next      http.Handler
}

func (s *ntlmServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	if scheme != "NTLM" && scheme != "Negotiate" {
		w.Header().Add("WWW-Authenticate", "Negotiate")
		w.Header().Add("WWW-Authenticate", "NTLM")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	msg, err := base64.StdEncoding.DecodeString(token)
	if err != nil || !bytes.HasPrefix(msg, []byte("NTLMSSP\x00")) {
		http.Error(w, "bad NTLM token", http.StatusBadRequest)
		return
	}
	switch binary.LittleEndian.Uint32(msg[8:]) {
	case 1: // NEGOTIATE: answer with a CHALLENGE
		w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(s.challengeMessage()))
		w.WriteHeader(http.StatusUnauthorized)
	case 3: // AUTHENTICATE: check the NTLMv2 response
		user, domain, ok := s.verify(msg)
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.users = append(s.users, domain+`\`+user)
		s.next.ServeHTTP(w, r)
	default:
		http.Error(w, "unexpected NTLM message", http.StatusBadRequest)
	}
}

func (s *ntlmServer) challengeMessage() []byte {
	targetInfo := []byte{2, 0, 8, 0, 'C', 0, 'O', 0, 'R', 0, 'P', 0, 0, 0, 0, 0} // MsvAvNbDomainName "CORP", MsvAvEOL
	m := make([]byte, 48)
	copy(m, "NTLMSSP\x00")
	binary.LittleEndian.PutUint32(m[8:], 2)
	const flags = 0x00000001 | 0x00000200 | 0x00800000 | 0x00080000 // unicode, NTLM, target info, extended session security
	binary.LittleEndian.PutUint32(m[20:], flags)
	copy(m[24:32], s.challenge[:])
	binary.LittleEndian.PutUint16(m[40:], uint16(len(targetInfo)))
	binary.LittleEndian.PutUint16(m[42:], uint16(len(targetInfo)))
	binary.LittleEndian.PutUint32(m[44:], 48)
	return append(m, targetInfo...)
}

func field(msg []byte, at int) []byte {
	n := int(binary.LittleEndian.Uint16(msg[at:]))
	off := int(binary.LittleEndian.Uint32(msg[at+4:]))
	if off+n > len(msg) {
		return nil
	}
	return msg[off : off+n]
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

func fromUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// verify checks an AUTHENTICATE message: NTProofStr = HMAC-MD5(NTOWFv2,
// server challenge + blob), NTOWFv2 = HMAC-MD5(MD4(password), USER+domain).
func (s *ntlmServer) verify(msg []byte) (user, domain string, ok bool) {
	nt := field(msg, 20)
	domain, user = fromUTF16(field(msg, 28)), fromUTF16(field(msg, 36))
	if len(nt) <= 24 {
		s.t.Errorf("NT response of %d bytes: not NTLMv2", len(nt))
		return user, domain, false
	}
	h := md4.New()
	h.Write(utf16le(s.password))
	mac := hmac.New(md5.New, h.Sum(nil))
	mac.Write(utf16le(strings.ToUpper(user) + domain))
	ntowf := mac.Sum(nil)
	mac = hmac.New(md5.New, ntowf)
	mac.Write(s.challenge[:])
	mac.Write(nt[16:])
	return user, domain, hmac.Equal(mac.Sum(nil), nt[:16])
}

func TestNTLM(t *testing.T) {
	srv := &ntlmServer{t: t, password: "Winter2026!", next: refserver.New(refserver.Options{})}
	rand.Read(srv.challenge[:])
	ts := httptest.NewServer(srv)
	defer ts.Close()
	state := filepath.Join(t.TempDir(), "state")

	t.Setenv("SOAPSESS_PASSWORD", "Winter2026!")
	for _, method := range []string{"ntlm", "negotiate"} {
		must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--auth", method, "--user", `CORP\ann`)
		must(t, 0, state, xmlaDiscover, "send") // the session remembers the method and the user
		st := must(t, 0, state, "", "status", "--json")
		if !strings.Contains(st, `"user": "CORP\\ann"`) {
			t.Errorf("status: %s", st)
		}
		raw, _ := os.ReadFile(filepath.Join(state, "default.json"))
		if !bytes.Contains(raw, []byte(`"auth": "`+method+`"`)) || bytes.Contains(raw, []byte("Winter2026")) {
			t.Errorf("state file: %s", raw)
		}
		must(t, 0, state, "", "end")
	}
	if len(srv.users) != 6 || srv.users[0] != `CORP\ann` {
		t.Errorf("authenticated as %v, want CORP\\ann six times", srv.users)
	}
	// user@domain works too: it goes as the user name, with no domain, as
	// Windows clients send a UPN.
	must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--auth", "ntlm", "--user", "bob@CORP")
	must(t, 0, state, "", "end")
	if got := srv.users[len(srv.users)-1]; got != `\bob@CORP` {
		t.Errorf("user@domain authenticated as %q", got)
	}
	// A wrong password: IIS answers 401, exit status 4, and no session.
	t.Setenv("SOAPSESS_PASSWORD", "wrong")
	code, _, errs := soapsess(t, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--auth", "ntlm", "--user", `CORP\ann`)
	if code != ExitTransport || !strings.Contains(errs, "401") {
		t.Errorf("wrong NTLM password: exit %d %s", code, errs)
	}
}

// testPKI makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, and writes their PEM files.
func testPKI(t *testing.T) (dir string, serverCert tls.Certificate, pool *x509.CertPool) {
	dir = t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caKey := key()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "soapsess test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	issue := func(serial int64, tmpl *x509.Certificate) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	srvDER, srvKey := issue(2, &x509.Certificate{Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	cliDER, cliKey := issue(3, &x509.Certificate{Subject: pkix.Name{CommonName: "ann"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	write("client.pem", "CERTIFICATE", cliDER)
	kb, _ := x509.MarshalECPrivateKey(cliKey)
	write("client-key.pem", "EC PRIVATE KEY", kb)
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return dir, tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}, pool
}

func TestTLS(t *testing.T) {
	pki, cert, pool := testPKI(t)
	ref := refserver.New(refserver.Options{})
	ts := httptest.NewUnstartedServer(ref)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ts.Config.ErrorLog = quiet
	ts.StartTLS()
	defer ts.Close()
	state := filepath.Join(t.TempDir(), "state")

	// Verification is on: an unknown CA is a transport failure.
	code, _, errs := soapsess(t, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	if code != ExitTransport || !strings.Contains(errs, "certificate") {
		t.Fatalf("unknown CA: exit %d %s", code, errs)
	}
	// --cacert trusts it, and the session remembers it for send and end.
	must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--cacert", filepath.Join(pki, "ca.pem"))
	must(t, 0, state, xmlaDiscover, "send")
	must(t, 0, state, "", "end")
	// --insecure works, and says so.
	code, _, errs = soapsess(t, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--insecure")
	if code != 0 || !strings.Contains(errs, "warning: --insecure") {
		t.Errorf("--insecure: exit %d %s", code, errs)
	}
	must(t, 0, state, "", "end")

	// A server that wants a client certificate.
	mtls := httptest.NewUnstartedServer(ref)
	mtls.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	mtls.Config.ErrorLog = quiet
	mtls.StartTLS()
	defer mtls.Close()
	ca := filepath.Join(pki, "ca.pem")
	if code, _, _ := soapsess(t, state, "", "begin", "--url", mtls.URL+"/xmla", "--dialect", "xmla", "--cacert", ca); code != ExitTransport {
		t.Errorf("no client certificate: exit %d, want %d", code, ExitTransport)
	}
	must(t, 0, state, "", "begin", "--url", mtls.URL+"/xmla", "--dialect", "xmla", "--cacert", ca,
		"--cert", filepath.Join(pki, "client.pem"), "--key", filepath.Join(pki, "client-key.pem"))
	must(t, 0, state, xmlaDiscover, "send")
	must(t, 0, state, "", "end")
}

func TestProxy(t *testing.T) {
	ref := refserver.New(refserver.Options{})
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		proxied.Add(1)
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "") // served here, as the origin would
		ref.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	state := filepath.Join(t.TempDir(), "state")
	origin := "http://soap.example.invalid/xmla" // resolvable only by going through the proxy
	must(t, 0, state, "", "begin", "--url", origin, "--dialect", "xmla", "--proxy", proxy.URL)
	must(t, 0, state, xmlaDiscover, "send") // the session remembers the proxy
	must(t, 0, state, "", "end")
	if n := proxied.Load(); n != 3 {
		t.Errorf("%d requests went through the proxy, want 3", n)
	}
}

// Nothing secret reaches the trace, the state file or an error.
func TestSecretsRedacted(t *testing.T) {
	var seen atomic.Value
	ref := refserver.New(refserver.Options{Password: "Sup3r-Secret"})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Clone())
		http.SetCookie(w, &http.Cookie{Name: "ASP.NET_SessionId", Value: "cookie-secret"})
		ref.ServeHTTP(w, r)
	}))
	defer ts.Close()
	state := filepath.Join(t.TempDir(), "state")
	t.Setenv("SOAPSESS_PASSWORD", "Sup3r-Secret")
	secrets := []string{"Sup3r-Secret", base64.StdEncoding.EncodeToString([]byte("ann:Sup3r-Secret")), "cookie-secret", "tok-123", "body-pw"}
	check := func(what, s string) {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("%s shows %q:\n%s", what, secret, s)
			}
		}
	}
	code, out, errs := soapsess(t, state, "", "-v", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--user", "ann", "-H", "X-Api-Token: tok-123")
	if code != 0 || !strings.Contains(errs, "> Authorization: Basic [redacted]") || !strings.Contains(errs, "< Set-Cookie: [redacted]") ||
		!strings.Contains(errs, "> X-Api-Token: [redacted]") || !strings.Contains(errs, "> POST /xmla HTTP/1.1\n> Host: "+strings.TrimPrefix(ts.URL, "http://")+"\n") || !strings.Contains(errs, "< HTTP/1.1 200 OK\n") {
		t.Errorf("verbose begin: exit %d\n%s", code, errs)
	}
	if h, _ := seen.Load().(http.Header); h.Get("X-Api-Token") != "tok-123" {
		t.Errorf("--header did not reach the server: %v", h)
	}
	check("the trace", errs+out)
	// A password in the body (a login operation) is hidden in traces and dry runs too.
	body := `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement/></Command><Properties><PropertyList><Password>body-pw</Password></PropertyList></Properties></Execute>`
	code, out, errs = soapsess(t, state, body, "-v", "send", "--print", "Eb")
	if code != ExitOK {
		t.Errorf("send -v --print Eb: exit %d, want %d\n%s", code, ExitOK, errs)
	}
	check("send -v --print E", out+errs)
	if !strings.Contains(errs, "<Password>[redacted]</Password>") {
		t.Errorf("the envelope's password was not hidden in the trace:\n%s", errs)
	}
	code, out, errs = soapsess(t, state, body, "send", "--dry-run")
	if code != ExitOK {
		t.Errorf("send --dry-run: exit %d, want %d\n%s", code, ExitOK, errs)
	}
	check("send --dry-run", out+errs)
	raw, _ := os.ReadFile(filepath.Join(state, "default.json"))
	// The cookie's value is kept, as the server set it, there and only there.
	if !strings.Contains(string(raw), `"value": "cookie-secret"`) {
		t.Errorf("the state file lacks the cookie:\n%s", raw)
	}
	check("the state file", strings.ReplaceAll(string(raw), `"value": "cookie-secret"`, ""))
	// Wrong password: the error does not show it.
	t.Setenv("SOAPSESS_PASSWORD", "Sup3r-Secret-wrong")
	code, out, errs = soapsess(t, state, xmlaDiscover, "send")
	if code != ExitTransport { // a 401 with an HTML body
		t.Errorf("send with a wrong password: exit %d, want %d\n%s", code, ExitTransport, errs)
	}
	check("an auth failure", out+errs)
	t.Setenv("SOAPSESS_PASSWORD", "Sup3r-Secret")
	must(t, 0, state, "", "end")
}

func TestDryRunSendsNothing(t *testing.T) {
	var hits atomic.Int64
	ref := refserver.New(refserver.Options{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); ref.ServeHTTP(w, r) }))
	defer ts.Close()
	state := filepath.Join(t.TempDir(), "state")

	out := must(t, 0, state, "", "begin", "--url", ts.URL+"/sql", "--dialect", "sqlsoap", "--timeout", "60", "--dry-run")
	for _, want := range []string{"POST /sql HTTP/1.1\nHost: " + strings.TrimPrefix(ts.URL, "http://") + "\n", "Content-Type: text/xml; charset=utf-8", `Soapaction: ""`, `initiate="true" timeout="60"`} {
		if !strings.Contains(out, want) {
			t.Errorf("begin --dry-run lacks %q:\n%s", want, out)
		}
	}
	if hits.Load() != 0 {
		t.Fatal("begin --dry-run sent a request")
	}
	must(t, ExitSession, state, "", "status") // and kept no session

	must(t, 0, state, "", "begin", "--url", ts.URL+"/sql", "--dialect", "sqlsoap")
	before, _ := os.ReadFile(filepath.Join(state, "default.json"))
	batch := `<sql:sqlbatch xmlns:sql="http://schemas.microsoft.com/sqlserver/2004/SOAP"><sql:BatchCommands>SELECT 1</sql:BatchCommands></sql:sqlbatch>`
	out = must(t, 0, state, batch, "send", "--dry-run", "--action", `"urn:custom"`)
	if !strings.Contains(out, `Soapaction: "urn:custom"`) || !strings.Contains(out, "<sql:BatchCommands>SELECT 1</sql:BatchCommands>") {
		t.Errorf("send --dry-run:\n%s", out)
	}
	must(t, 0, state, "", "end", "--dry-run")
	after, _ := os.ReadFile(filepath.Join(state, "default.json"))
	if hits.Load() != 1 || !bytes.Equal(before, after) {
		t.Errorf("dry runs sent %d requests or changed the state", hits.Load()-1)
	}
	must(t, 0, state, "", "end")
}

func TestPasswordSources(t *testing.T) {
	ts := httptest.NewServer(refserver.New(refserver.Options{Password: "from-file"}))
	defer ts.Close()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("from-file\n"), 0o644)
	code, _, errs := soapsess(t, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--user", "ann", "--password-file", pw)
	if code != ExitUsage || !strings.Contains(errs, "others can read it") {
		t.Errorf("a world-readable password file: exit %d %s", code, errs)
	}
	os.Chmod(pw, 0o600)
	must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--user", "ann", "--password-file", pw)
	must(t, 0, state, xmlaDiscover, "send", "--password-file", pw)
	must(t, 0, state, "", "end", "--password-file", pw)

	// Asked on the terminal when nothing else gives it.
	var asked string
	testOnlyPrompt = func(q string) (string, error) { asked = q; return "from-file", nil }
	must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--user", "ann")
	testOnlyPrompt = nil
	if asked != "Password for ann: " {
		t.Errorf("prompted %q", asked)
	}
	must(t, 0, state, "", "end", "--password-file", pw)

	// Nothing else: no terminal here, so the error says where a password can come from.
	code, _, errs = soapsess(t, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--user", "ann")
	if code != ExitUsage || !strings.Contains(errs, "set SOAPSESS_PASSWORD, give --password-file, or run on a terminal") {
		t.Errorf("no password: exit %d %s", code, errs)
	}
}

func TestEndRetriesAnUnreachableServer(t *testing.T) {
	ts := httptest.NewServer(refserver.New(refserver.Options{}))
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	ts.Close() // the server goes away
	endBackoff = time.Millisecond
	code, _, errs := soapsess(t, state, "", "end")
	if code != ExitTransport || strings.Count(errs, "trying again") != 2 {
		t.Errorf("end against a dead server: exit %d\n%s", code, errs)
	}
	must(t, 0, state, "", "status") // never reached: the session is kept
}

func TestMaxTime(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)
	code, _, errs := soapsess(t, filepath.Join(t.TempDir(), "s"), "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--max-time", "0.2")
	if code != ExitTransport || !strings.Contains(errs, "no reply within --max-time") {
		t.Errorf("--max-time: exit %d %s", code, errs)
	}
}
