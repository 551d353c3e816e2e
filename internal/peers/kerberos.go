package peers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Realm is a throwaway MIT Kerberos realm whose KDC (krb5kdc) runs on
// loopback: one user with a password, and the service HTTP/localhost with
// its keys in a keytab.
type Realm struct {
	Name     string // SOAPSESS.TEST
	Dir      string
	Config   string // krb5.conf, for KRB5_CONFIG: the realm, its KDC, no DNS
	KDC      string // 127.0.0.1:port, UDP and TCP
	User     string // alice
	Password string // random
	SPN      string // HTTP/localhost
	Keytab   string // the SPN's keys, readable by the web server
	Up       time.Duration
}

// KerberosRealm creates a realm in a temporary directory (kdb5_util,
// kadmin.local) and starts its KDC (krb5kdc -n), stopped when the test
// ends. Debian packages krb5-kdc, krb5-admin-server and krb5-user.
func KerberosRealm(t testing.TB) *Realm {
	t.Helper()
	progs := Require(t, "krb5-kdc krb5-admin-server krb5-user", sbinProgram("krb5kdc"), sbinProgram("kdb5_util"), sbinProgram("kadmin.local"), "kinit")
	krb5kdc, kdb5util, kadmin := progs[0], progs[1], progs[2]
	start := time.Now()
	dir := Dir(t)
	port := Port(t)
	r := &Realm{
		Name: "SOAPSESS.TEST", Dir: dir, Config: filepath.Join(dir, "krb5.conf"),
		KDC: fmt.Sprintf("127.0.0.1:%d", port), User: "alice", Password: "pw-" + secretHex(8),
		SPN: "HTTP/localhost", Keytab: filepath.Join(dir, "http.keytab"),
	}
	// No DNS anywhere: this machine's /etc/hosts gives 127.0.0.1 several
	// names, and canonicalising would pick one.
	Write(t, r.Config, fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
[realms]
	%[1]s = {
		kdc = %[2]s
	}
[domain_realm]
	localhost = %[1]s
`, r.Name, r.KDC))
	// Pre-authentication required, as Active Directory does: a wrong
	// password is then KDC_ERR_PREAUTH_FAILED.
	Write(t, filepath.Join(dir, "kdc.conf"), fmt.Sprintf(`[kdcdefaults]
	kdc_listen = %[2]s
	kdc_tcp_listen = %[2]s
[realms]
	%[1]s = {
		database_name = %[3]s/principal
		key_stash_file = %[3]s/stash
		acl_file = %[3]s/kadm5.acl
		max_life = 1h
		default_principal_flags = +preauth
	}
[logging]
	kdc = STDERR
`, r.Name, r.KDC, dir))
	env := r.Env("KRB5_KDC_PROFILE=" + filepath.Join(dir, "kdc.conf"))
	create := exec.Command(kdb5util, "create", "-s", "-r", r.Name, "-P", secretHex(16))
	create.Env = env
	Run(t, create)
	admin := exec.Command(kadmin, "-r", r.Name)
	admin.Env = env
	admin.Stdin = strings.NewReader(fmt.Sprintf("addprinc -pw %s %s\naddprinc -randkey %s\nktadd -k %s %s\n",
		r.Password, r.User, r.SPN, r.Keytab, r.SPN))
	if out := Run(t, admin); !strings.Contains(out, "added to keytab") {
		t.Fatalf("kadmin.local made no keytab:\n%s", out)
	}
	// The web server reads the keytab as nobody; the realm is thrown away.
	if err := os.Chmod(r.Keytab, 0o644); err != nil {
		t.Fatal(err)
	}
	kdc := exec.Command(krb5kdc, "-n")
	kdc.Env = env
	Start(t, "krb5kdc", kdc).WaitTCP(t, r.KDC, 20*time.Second)
	r.Up = time.Since(start)
	return r
}

// Env is the environment for a Kerberos program of the realm's: this
// process's, with no Kerberos or GSSAPI variable of its own, and
// KRB5_CONFIG and extra on top.
func (r *Realm) Env(extra ...string) []string {
	env := envWithoutKerberos()
	env = append(env, "KRB5_CONFIG="+r.Config)
	return append(env, extra...)
}

// Kinit logs the realm's user in with kinit into a new FILE credential
// cache and returns its name, "FILE:path", as KRB5CCNAME would give it.
func (r *Realm) Kinit(t testing.TB) string {
	t.Helper()
	cache := filepath.Join(r.Dir, "ccache-"+secretHex(4))
	kinit := exec.Command("kinit", "-c", "FILE:"+cache, r.User+"@"+r.Name)
	kinit.Env = r.Env()
	kinit.Stdin = strings.NewReader(r.Password + "\n")
	Run(t, kinit)
	return "FILE:" + cache
}

// KerberosWeb starts Apache with mod_auth_gssapi asking for Kerberos
// (SPNEGO, Negotiate) before anything reaches backend, a URL it proxies
// every path to (mod_proxy_http). It returns the URL of its root, on
// http://localhost:PORT, the name of the realm's SPN. Debian packages
// apache2 and libapache2-mod-auth-gssapi.
func (r *Realm) KerberosWeb(t testing.TB, backend string) string {
	t.Helper()
	dir := filepath.Join(r.Dir, "apache")
	// gss-ntlmssp, when installed, is a system-wide mechanism: pinned out.
	auth := fmt.Sprintf(`	AuthType GSSAPI
	AuthName "soapsess Kerberos"
	GssapiCredStore keytab:%s
	GssapiAllowedMech krb5
	GssapiBasicAuth Off
`, r.Keytab)
	return gssapiApache(t, dir, auth, backend, r.Env("KRB5_KTNAME="+r.Keytab, "KRB5RCACHEDIR="+dir))
}

// gssapiApache starts Apache in dir (created here) with mod_auth_gssapi
// configured by auth in front of backend, the process's environment env,
// as nobody when this process is root; it returns http://localhost:PORT.
func gssapiApache(t testing.TB, dir, auth, backend string, env []string) string {
	t.Helper()
	apache := Require(t, "apache2", sbinProgram("apache2"))[0]
	const modules = "/usr/lib/apache2/modules"
	if _, err := os.Stat(filepath.Join(modules, "mod_auth_gssapi.so")); err != nil {
		Missing(t, "mod_auth_gssapi is not installed (Debian package libapache2-mod-auth-gssapi; .ci/run installs it)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Its log through cat, whose output is Apache's own: as nobody, Apache
	// cannot open /dev/stderr, a pipe of root's.
	cat := Require(t, "coreutils", "cat")[0]
	port := Port(t)
	var loads strings.Builder
	for _, m := range []string{"mpm_event", "authn_core", "authz_core", "authz_user", "auth_gssapi", "proxy", "proxy_http"} {
		fmt.Fprintf(&loads, "LoadModule %s_module %s/mod_%s.so\n", m, modules, m)
	}
	conf := filepath.Join(dir, "httpd.conf")
	Write(t, conf, fmt.Sprintf(`ServerRoot %[1]s
ServerName localhost
Listen 127.0.0.1:%[2]d
PidFile %[1]s/httpd.pid
DefaultRuntimeDir %[1]s
ErrorLog "||%[6]s"
LogLevel warn auth_gssapi:info
StartServers 1
%[3]s
<Location />
%[4]s	Require valid-user
	ProxyPass %[5]s/
</Location>
`, dir, port, loads.String(), auth, strings.TrimSuffix(backend, "/"), cat))
	cmd := exec.Command(apache, "-f", conf, "-DFOREGROUND")
	if os.Geteuid() == 0 {
		// Apache serves nothing as root: all of it runs as nobody, which
		// owns dir for its pid file and mutexes.
		uid, gid := nobodyIDs(t)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		setpriv := Require(t, "util-linux", "setpriv")[0]
		cmd = exec.Command(setpriv, "--reuid="+strconv.Itoa(uid), "--regid="+strconv.Itoa(gid), "--clear-groups", apache, "-f", conf, "-DFOREGROUND")
	}
	cmd.Env = append(env, "GSS_USE_PROXY=no")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	Start(t, "apache2", cmd).WaitTCP(t, addr, 20*time.Second)
	return fmt.Sprintf("http://localhost:%d", port)
}

// nobodyIDs are the user and group IDs of nobody.
func nobodyIDs(t testing.TB) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("no user nobody to run a server as: %v", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

// sbinProgram is name on PATH, else in /usr/sbin (not on a user's PATH).
func sbinProgram(name string) string {
	if _, err := exec.LookPath(name); err == nil {
		return name
	}
	if _, err := os.Stat("/usr/sbin/" + name); err == nil {
		return "/usr/sbin/" + name
	}
	return name
}

// envWithoutKerberos is this process's environment without the variables that
// would point Kerberos, GSSAPI or NTLM at something else.
func envWithoutKerberos() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "KRB5") || strings.HasPrefix(name, "GSS_") || strings.HasPrefix(name, "NTLM_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func secretHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// AddUser adds a user with a password to the realm.
func (r *Realm) AddUser(t testing.TB, name, password string) {
	t.Helper()
	admin := exec.Command(sbinProgram("kadmin.local"), "-r", r.Name, "-q", fmt.Sprintf("addprinc -pw %s %s", password, name))
	admin.Env = r.Env("KRB5_KDC_PROFILE=" + filepath.Join(r.Dir, "kdc.conf"))
	Run(t, admin)
}
