package cmd

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/soapsess/soapsess/internal/peers"
)

// A session through a real NTLMv2 acceptor (Apache mod_auth_gssapi with
// gss-ntlmssp): --auth ntlm, and negotiate, which falls back to NTLM when
// the KDC does not know the user or the server takes no Kerberos; a wrong
// password is the server's 401, exit 4.
func TestNTLMSessions(t *testing.T) {
	ntlm := peers.NTLMAcceptor(t, refBackend(t))
	url := ntlm.URL + "/xmla"
	env := map[string]string{"SOAPSESS_PASSWORD": ntlm.Password}

	session := func(t *testing.T, env map[string]string, auth string, legs string) {
		t.Helper()
		state := filepath.Join(t.TempDir(), "state")
		mustEnv(t, 0, env, state, "", "begin", "--url", url, "--dialect", "xmla", "--auth", auth, "--user", ntlm.Login())
		out, errs := mustEnv(t, 0, env, state, discoverBody, "-v", "send")
		if !strings.Contains(out, "<DataSourceName>soapsess</DataSourceName>") {
			t.Errorf("send through NTLM: %s", out)
		}
		if got := strings.Join(authLines(errs), "|"); got != legs {
			t.Errorf("Authorization per leg in the trace: %q; want %q\n%s", got, legs, errs)
		}
		if strings.Contains(errs, ntlm.Password) {
			t.Error("the trace shows the password")
		}
		mustEnv(t, 0, env, state, "", "end")
	}

	t.Run("ntlm", func(t *testing.T) {
		session(t, env, "ntlm", "-|NTLM [redacted]|NTLM [redacted]")
	})
	t.Run("negotiate without Kerberos", func(t *testing.T) {
		noConf := map[string]string{"SOAPSESS_PASSWORD": ntlm.Password, "KRB5_CONFIG": filepath.Join(t.TempDir(), "none")}
		session(t, noConf, "negotiate", "-|NTLM [redacted]|NTLM [redacted]")
	})
	t.Run("wrong password", func(t *testing.T) {
		state := filepath.Join(t.TempDir(), "state")
		wrong := map[string]string{"SOAPSESS_PASSWORD": "wrong-" + ntlm.Password}
		_, errs := mustEnv(t, ExitTransport, wrong, state, "", "begin", "--url", url, "--dialect", "xmla", "--auth", "ntlm", "--user", ntlm.Login())
		if !strings.Contains(errs, "HTTP 401") {
			t.Errorf("a wrong NTLM password: %s", errs)
		}
		mustEnv(t, ExitSession, wrong, state, "", "status")
	})

	t.Run("negotiate with a realm", func(t *testing.T) {
		realm := peers.KerberosRealm(t)
		withRealm := map[string]string{"SOAPSESS_PASSWORD": ntlm.Password, "KRB5_CONFIG": realm.Config}
		// SOAPSESS\bob is bob@SOAPSESS.TEST, whom the KDC does not know.
		session(t, withRealm, "negotiate", "-|NTLM [redacted]|NTLM [redacted]")
		// Now it does: the server rejects the Kerberos token, NTLM follows.
		realm.AddUser(t, ntlm.User, ntlm.Password)
		session(t, withRealm, "negotiate", "-|Negotiate [redacted]|NTLM [redacted]|NTLM [redacted]")
	})
}
