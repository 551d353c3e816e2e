package peers

import (
	"fmt"
	"path/filepath"
	"testing"
)

// NTLMWeb is Apache with mod_auth_gssapi restricted to gss-ntlmssp's
// NTLMSSP mechanism: a real NTLMv2 acceptor, offering Negotiate and NTLM as
// IIS does, that knows one user from a flat file.
type NTLMWeb struct {
	URL      string // http://localhost:PORT, proxying every path to the backend
	Domain   string // SOAPSESS
	User     string // bob
	Password string // random
}

// Login is the user as Windows writes it, DOMAIN\user.
func (w *NTLMWeb) Login() string { return w.Domain + `\` + w.User }

// NTLMAcceptor starts it in front of backend, stopped when the test ends.
// Debian packages apache2, libapache2-mod-auth-gssapi and gss-ntlmssp.
func NTLMAcceptor(t testing.TB, backend string) *NTLMWeb {
	t.Helper()
	Require(t, "apache2", sbinProgram("apache2"))
	// The mechanism is registered system-wide by its package.
	if m, _ := filepath.Glob("/etc/gss/mech.d/*ntlmssp*"); len(m) == 0 {
		Missing(t, "gss-ntlmssp is not installed (Debian package gss-ntlmssp; .ci/run installs it)")
	}
	dir := Dir(t)
	w := &NTLMWeb{Domain: "SOAPSESS", User: "bob", Password: "pw-" + secretHex(8)}
	users := filepath.Join(dir, "users")
	Write(t, users, fmt.Sprintf("%s:%s:%s\n", w.Domain, w.User, w.Password))
	// NTLM authenticates the connection, not each request: mod_auth_gssapi
	// must keep the handshake's context with it.
	auth := `	AuthType GSSAPI
	AuthName "soapsess NTLM"
	GssapiAllowedMech ntlmssp
	GssapiConnectionBound On
	GssapiBasicAuth Off
`
	w.URL = gssapiApache(t, filepath.Join(dir, "apache"), auth, backend,
		append(envWithoutKerberos(), "NTLM_USER_FILE="+users, "NETBIOS_DOMAIN_NAME="+w.Domain, "NETBIOS_COMPUTER_NAME=SOAPSESSWEB"))
	return w
}
