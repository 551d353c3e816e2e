package cmd

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/soapsess/soapsess/internal/peers"
	"github.com/soapsess/soapsess/refserver"
)

// Real SOAP sessions through real Digest auth: Apache mod_auth_digest
// (MD5), lighttpd mod_auth (SHA-256) and http-auth on node (MD5-sess),
// each a reverse proxy in front of the reference server.

var digestUser = peers.DigestUser{Name: "ann", Password: "Winter2026!", Realm: "soapsess"}

// digestBackend is the reference server on 127.0.0.1, for a Digest peer to
// proxy to.
func digestBackend(t *testing.T) string {
	ts := httptest.NewServer(refserver.New(refserver.Options{}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// digestSession runs begin, send (traced) and end through p with --auth
// digest, the password given by pass (flags, or none for
// SOAPSESS_PASSWORD), then begin with a wrong password.
func digestSession(t *testing.T, p *peers.DigestPeer, pass ...string) {
	t.Helper()
	t.Logf("%s listening after %s", p.Version, p.Startup.Round(time.Millisecond))
	state := filepath.Join(t.TempDir(), "state")
	url := p.URL + "/xmla"
	begin := append([]string{"begin", "--url", url, "--dialect", "xmla", "--auth", "digest", "--user", digestUser.Name}, pass...)
	must(t, 0, state, "", begin...)
	raw, _ := os.ReadFile(filepath.Join(state, "default.json"))
	if !strings.Contains(string(raw), `"auth": "digest"`) || strings.Contains(string(raw), digestUser.Password) {
		t.Errorf("the state file keeps --auth digest, never the password: %s", raw)
	}
	code, out, errs := soapsess(t, state, xmlaDiscover, append([]string{"-v", "send"}, pass...)...)
	if code != 0 || !strings.Contains(out, "DataSourceName") {
		t.Fatalf("send: exit %d\n%s\n%s", code, out, errs)
	}
	// -v shows both legs: the first without credentials and its 401, the
	// answer as "Digest [redacted]", never the password.
	if n := strings.Count(errs, "> POST /xmla HTTP/1.1\n"); n != 2 {
		t.Errorf("-v shows %d requests, want 2:\n%s", n, errs)
	}
	if n := strings.Count(errs, "> Authorization: Digest [redacted]\n"); n != 1 || !strings.Contains(errs, "< HTTP/1.1 401 ") {
		t.Errorf("-v shows %d Digest answers, want 1 after a 401:\n%s", n, errs)
	}
	if strings.Contains(errs, digestUser.Password) || strings.Contains(errs, "Basic") {
		t.Errorf("-v shows the password or Basic:\n%s", errs)
	}
	must(t, 0, state, "", append([]string{"end"}, pass...)...)

	// A wrong password: the server's 401, exit status 4, no session.
	t.Setenv("SOAPSESS_PASSWORD", "wrong")
	code, _, errs = soapsess(t, state, "", begin[:len(begin)-len(pass)]...)
	if code != ExitTransport || !strings.Contains(errs, "HTTP 401") {
		t.Errorf("wrong password: exit %d\n%s", code, errs)
	}
	if _, st, _ := soapsess(t, state, "", "status", "--json"); !strings.Contains(st, `"state": "ended"`) {
		t.Errorf("wrong password: a session is open: %s", st)
	}
}

func TestDigestSessionThroughApache(t *testing.T) {
	p := peers.ApacheDigest(t, digestBackend(t), digestUser)
	t.Setenv("SOAPSESS_PASSWORD", digestUser.Password)
	digestSession(t, p)
}

func TestDigestSessionThroughLighttpdSHA256(t *testing.T) {
	p := peers.LighttpdDigest(t, digestBackend(t), digestUser, "SHA-256")
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte(digestUser.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOAPSESS_PASSWORD", "")
	digestSession(t, p, "--password-file", file)
}

func TestDigestSessionThroughNodeMD5Sess(t *testing.T) {
	p := peers.NodeDigest(t, digestBackend(t), digestUser, "MD5-sess")
	t.Setenv("SOAPSESS_PASSWORD", digestUser.Password)
	digestSession(t, p)
}

// A Digest challenge soapsess cannot answer says so, naming the algorithm,
// instead of passing for a wrong password; nothing but the first request
// is sent.
func TestDigestAlgorithmNotAnswered(t *testing.T) {
	var requests int
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		w.Header().Set("WWW-Authenticate", `Digest realm="SOAP", nonce="abc", algorithm=SHA3-256, qop="auth"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer ts.Close()
	t.Setenv("SOAPSESS_PASSWORD", digestUser.Password)
	state := filepath.Join(t.TempDir(), "state")
	code, _, errs := soapsess(t, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--auth", "digest", "--user", "ann")
	if code != ExitTransport || !strings.Contains(errs, "algorithm=SHA3-256") || requests != 1 {
		t.Errorf("exit %d after %d requests:\n%s", code, requests, errs)
	}
}
