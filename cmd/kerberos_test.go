package cmd

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/soapsess/soapsess/internal/peers"
	"github.com/soapsess/soapsess/refserver"
)

// soapsessEnv runs one command in-process with env as its whole
// environment (KRB5_CONFIG, KRB5CCNAME, SOAPSESS_PASSWORD), set on
// nothing but its IO; it returns exit code, stdout, stderr.
func soapsessEnv(t *testing.T, env map[string]string, state, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	io := &IO{In: strings.NewReader(stdin), Out: &out, Err: &errb, Getenv: func(k string) string { return env[k] }}
	code := run(context.Background(), append([]string{"soapsess", "--state-dir", state}, args...), io)
	return code, out.String(), errb.String()
}

// mustEnv is soapsessEnv for a command that must exit with want.
func mustEnv(t *testing.T, want int, env map[string]string, state, stdin string, args ...string) (string, string) {
	t.Helper()
	code, out, errs := soapsessEnv(t, env, state, stdin, args...)
	if code != want {
		t.Fatalf("soapsess %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errs)
	}
	return out, errs
}

// refBackend is the reference server, for a real auth server to proxy to.
func refBackend(t *testing.T) string {
	srv := httptest.NewServer(refserver.New(refserver.Options{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

const discoverBody = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions/><Properties><PropertyList/></Properties></Discover>`

// authLines are the Authorization headers a -v trace shows, in order, "-"
// for a request without one.
func authLines(trace string) []string {
	var legs []string
	for _, req := range strings.Split(trace, "> POST ")[1:] {
		head, _, _ := strings.Cut(req, "\n>\n")
		m := regexp.MustCompile(`(?m)^> Authorization: (.*)$`).FindStringSubmatch(head)
		if m == nil {
			legs = append(legs, "-")
			continue
		}
		legs = append(legs, m[1])
	}
	return legs
}

// A session through Apache mod_auth_gssapi with MIT Kerberos: from the
// ticket cache kinit filled, and with --user and a password; each request
// goes once without credentials, then with the Negotiate token, and -v shows
// both legs as sent.
func TestKerberosSessions(t *testing.T) {
	realm := peers.KerberosRealm(t)
	web := realm.KerberosWeb(t, refBackend(t))
	ccache := realm.Kinit(t)

	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"ticket cache", map[string]string{"KRB5_CONFIG": realm.Config, "KRB5CCNAME": ccache}, nil},
		{"password", map[string]string{"KRB5_CONFIG": realm.Config, "SOAPSESS_PASSWORD": realm.Password}, []string{"--user", realm.User}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			begin := append([]string{"begin", "--url", web + "/xmla", "--dialect", "xmla", "--auth", "kerberos"}, tt.args...)
			mustEnv(t, 0, tt.env, state, "", begin...)
			// send and end use the auth method begin kept.
			out, errs := mustEnv(t, 0, tt.env, state, discoverBody, "-v", "send")
			if !strings.Contains(out, "<DataSourceName>soapsess</DataSourceName>") {
				t.Errorf("send through Kerberos: %s", out)
			}
			if legs := authLines(errs); strings.Join(legs, "|") != "-|Negotiate [redacted]" {
				t.Errorf("Authorization per leg in the trace: %q; want none, then Negotiate [redacted]\n%s", legs, errs)
			}
			if strings.Contains(errs, "Basic") || (realm.Password != "" && strings.Contains(errs, realm.Password)) {
				t.Errorf("the trace shows Basic or the password:\n%s", errs)
			}
			mustEnv(t, 0, tt.env, state, "", "end")
			if raw, _ := os.ReadFile(filepath.Join(state, "default.json")); bytes.Contains(raw, []byte(realm.Password)) {
				t.Error("the password reached the state file")
			}
		})
	}

	// An IP URL asks for HTTP/127.0.0.1, which the KDC does not know;
	// --spn names the service, and the session keeps it.
	t.Run("IP URL", func(t *testing.T) {
		env := map[string]string{"KRB5_CONFIG": realm.Config, "KRB5CCNAME": ccache}
		state := filepath.Join(t.TempDir(), "state")
		ip := strings.Replace(web, "localhost", "127.0.0.1", 1) + "/xmla"
		_, errs := mustEnv(t, ExitTransport, env, state, "", "begin", "--url", ip, "--dialect", "xmla", "--auth", "kerberos")
		if !strings.Contains(errs, "HTTP/127.0.0.1") || !strings.Contains(errs, "does not know the service") ||
			!strings.Contains(errs, "soapsess: hint: the KDC knows the server by another name: give it with --spn") {
			t.Errorf("no SPN for an IP URL: the error does not say which service the KDC does not know:\n%s", errs)
		}
		mustEnv(t, 0, env, state, "", "begin", "--url", ip, "--dialect", "xmla", "--auth", "kerberos", "--spn", realm.SPN)
		out, _ := mustEnv(t, 0, env, state, discoverBody, "send")
		if !strings.Contains(out, "<DataSourceName>soapsess</DataSourceName>") {
			t.Errorf("send with the kept --spn: %s", out)
		}
		mustEnv(t, 0, env, state, "", "end")
	})

	// A wrong password: the KDC refuses it, nothing is sent with
	// credentials, exit 4, and the error says what the KDC said.
	t.Run("wrong password", func(t *testing.T) {
		env := map[string]string{"KRB5_CONFIG": realm.Config, "SOAPSESS_PASSWORD": "wrong-" + realm.Password}
		state := filepath.Join(t.TempDir(), "state")
		_, errs := mustEnv(t, ExitTransport, env, state, "", "-v", "begin", "--url", web+"/xmla", "--dialect", "xmla", "--auth", "kerberos", "--user", realm.User)
		if !strings.Contains(errs, "soapsess: error: ") || !strings.Contains(errs, "the KDC refused the password (KDC_ERR_PREAUTH_FAILED)") ||
			!strings.Contains(errs, "soapsess: hint: check the password of "+realm.User) {
			t.Errorf("a wrong password is not said so:\n%s", errs)
		}
		if legs := authLines(errs); strings.Join(legs, "|") != "-" {
			t.Errorf("Authorization per request in the trace: %q; want one request, without", legs)
		}
		mustEnv(t, ExitSession, env, state, "", "status")
	})
}

// A server that answers every Negotiate token with a bare "Negotiate", as
// IIS answers a rejected one, gets the token once: exit 4 with its 401,
// after two requests (gokrb5's own client would loop for ever).
func TestKerberosNegotiateForever(t *testing.T) {
	realm := peers.KerberosRealm(t)
	ccache := realm.Kinit(t)
	var requests, tokens atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		requests.Add(1)
		if strings.HasPrefix(r.Header.Get("Authorization"), "Negotiate ") {
			tokens.Add(1)
		}
		w.Header().Set("WWW-Authenticate", "Negotiate")
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/xmla"
	env := map[string]string{"KRB5_CONFIG": realm.Config, "KRB5CCNAME": ccache}
	state := filepath.Join(t.TempDir(), "state")
	_, errs := mustEnv(t, ExitTransport, env, state, "", "begin", "--url", url, "--dialect", "xmla", "--auth", "kerberos")
	if !strings.Contains(errs, "HTTP 401") || requests.Load() != 2 || tokens.Load() != 1 {
		t.Errorf("%d requests, %d with a token; want 2 and 1, and the 401:\n%s", requests.Load(), tokens.Load(), errs)
	}
}
