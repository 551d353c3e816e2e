package peers

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// DigestUser is the one user a Digest peer knows.
type DigestUser struct {
	Name, Password, Realm string
}

// htdigest is the user's line of an htdigest file: user:realm:MD5(user:realm:password).
func (u DigestUser) htdigest() string {
	sum := md5.Sum([]byte(u.Name + ":" + u.Realm + ":" + u.Password))
	return u.Name + ":" + u.Realm + ":" + hex.EncodeToString(sum[:]) + "\n"
}

// DigestPeer is a web server that asks for HTTP Digest auth on every path
// and passes what it lets through to a backend as a reverse proxy, so
// that a real SOAP session runs through real auth.
type DigestPeer struct {
	*Process
	URL     string        // http://127.0.0.1:PORT
	Version string        // the software, as it names itself: "Apache/2.4.67 (Debian)"
	Startup time.Duration // from start to accepting connections
	addr    string
	start   func() *Process
}

// startDigest starts a peer with start and waits for it on addr.
func startDigest(t testing.TB, addr, version string, start func() *Process) *DigestPeer {
	t.Helper()
	p := &DigestPeer{URL: "http://" + addr, Version: version, addr: addr, start: start}
	begun := time.Now()
	p.Process = start()
	p.WaitTCP(t, addr, 20*time.Second)
	p.Startup = time.Since(begun)
	return p
}

// Restart stops the peer (by PID) and starts it again on the same
// address: it forgets the nonces it gave out.
func (p *DigestPeer) Restart(t testing.TB) {
	t.Helper()
	kill(p.Cmd)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s (pid %d) did not exit within 10 s of SIGKILL", p.Name, p.Cmd.Process.Pid)
	}
	p.Process = p.start()
	p.WaitTCP(t, p.addr, 20*time.Second)
}

// linuxOnly skips a test of a Digest peer elsewhere than on Linux (the
// Windows tests under Wine), where its software never runs, even under
// SOAPSESS_REQUIRE_PEERS.
func linuxOnly(t testing.TB, name string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("%s runs on Linux only; this is %s", name, runtime.GOOS)
	}
}

// logOnFailure prints a peer's log file when the test fails.
func logOnFailure(t testing.TB, name, path string) {
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(path)
			t.Logf("%s's %s:\n%s", name, filepath.Base(path), b)
		}
	})
}

// ApacheDigest is Apache httpd with mod_auth_digest (MD5, qop=auth: what
// Debian's build offers) in front of backend (http://host:port) through
// mod_proxy_http. Started as root, it serves as nobody.
func ApacheDigest(t testing.TB, backend string, u DigestUser) *DigestPeer {
	t.Helper()
	linuxOnly(t, "Apache")
	bin := Require(t, "apache2", "apache2")[0]
	const modules = "/usr/lib/apache2/modules"
	var load strings.Builder
	for _, m := range []string{"mpm_event", "authn_core", "authn_file", "authz_core", "authz_user", "auth_digest", "proxy", "proxy_http"} {
		so := filepath.Join(modules, "mod_"+m+".so")
		if _, err := os.Stat(so); err != nil {
			Missing(t, fmt.Sprintf("Apache module %s is not installed (Debian package apache2)", so))
		}
		fmt.Fprintf(&load, "LoadModule %s_module %s\n", m, so)
	}
	dir := Dir(t)
	addr := fmt.Sprintf("127.0.0.1:%d", Port(t))
	Write(t, filepath.Join(dir, "htdigest"), u.htdigest())
	conf := filepath.Join(dir, "httpd.conf")
	Write(t, conf, fmt.Sprintf(`ServerRoot %[1]s
ServerName 127.0.0.1
Listen %[2]s
PidFile %[1]s/httpd.pid
DefaultRuntimeDir %[1]s
ErrorLog %[1]s/error.log
LogLevel warn auth_digest:info
User nobody
Group nogroup
%[3]s
<Location "/">
  AuthType Digest
  AuthName "%[4]s"
  AuthDigestProvider file
  AuthUserFile %[1]s/htdigest
  Require valid-user
  ProxyPass "%[5]s/"
</Location>
`, dir, addr, load.String(), u.Realm, strings.TrimSuffix(backend, "/")))
	logOnFailure(t, "apache2", filepath.Join(dir, "error.log"))
	version := firstLine(t, bin, "-v")
	version = strings.TrimSpace(strings.TrimPrefix(version, "Server version:"))
	return startDigest(t, addr, version, func() *Process {
		return Start(t, "apache2", exec.Command(bin, "-f", conf, "-DFOREGROUND"))
	})
}

// LighttpdDigest is lighttpd with mod_auth asking for Digest with the
// algorithms given, strongest first (MD5, SHA-256, SHA-512-256: one
// challenge each), in front of backend through mod_proxy.
func LighttpdDigest(t testing.TB, backend string, u DigestUser, algorithms ...string) *DigestPeer {
	t.Helper()
	linuxOnly(t, "lighttpd")
	bin := Require(t, "lighttpd", "lighttpd")[0]
	dir := Dir(t)
	port := Port(t)
	back := strings.TrimPrefix(strings.TrimSuffix(backend, "/"), "http://")
	host, backPort, ok := strings.Cut(back, ":")
	if !ok {
		t.Fatalf("lighttpd: backend %s: want http://host:port", backend)
	}
	Write(t, filepath.Join(dir, "users"), u.Name+":"+u.Password+"\n") // the plain backend: every algorithm
	conf := filepath.Join(dir, "lighttpd.conf")
	// No server.errorlog: it would be opened as nobody, who cannot write
	// in dir; errors go to stderr, the peer's log.
	Write(t, conf, fmt.Sprintf(`server.document-root = %[1]q
server.bind = "127.0.0.1"
server.port = %[2]d
server.username = "nobody"
server.groupname = "nogroup"
server.modules = ("mod_auth", "mod_authn_file", "mod_proxy")
auth.backend = "plain"
auth.backend.plain.userfile = %[3]q
auth.require = ( "/" => ( "method" => "digest", "algorithm" => %[4]q, "realm" => %[5]q, "require" => "valid-user" ) )
proxy.server = ( "" => (( "host" => %[6]q, "port" => %[7]s )) )
`, dir, port, filepath.Join(dir, "users"), strings.Join(algorithms, "|"), u.Realm, host, backPort))
	version, _, _ := strings.Cut(firstLine(t, bin, "-v"), " ")
	return startDigest(t, fmt.Sprintf("127.0.0.1:%d", port), version, func() *Process {
		return Start(t, "lighttpd", exec.Command(bin, "-D", "-f", conf))
	})
}

// NodeDigest is the npm package http-auth on node asking for Digest with
// algorithm MD5 or MD5-sess, in front of backend through the small proxy
// in node/digest-proxy.js. It takes http-auth from node/node_modules
// (npm ci --prefix internal/peers/node), else installs it for the test
// into a temporary directory with npm ci.
func NodeDigest(t testing.TB, backend string, u DigestUser, algorithm string) *DigestPeer {
	t.Helper()
	linuxOnly(t, "The node peer")
	paths := Require(t, "nodejs and npm", "node", "npm")
	node, npm := paths[0], paths[1]
	_, self, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "node")
	modules := filepath.Join(src, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "http-auth", "package.json")); err != nil {
		tmp := Dir(t)
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err != nil {
				t.Fatal(err)
			}
			Write(t, filepath.Join(tmp, f), string(b))
		}
		cmd := exec.Command(npm, "ci", "--prefix", tmp, "--no-audit", "--no-fund", "--prefer-offline")
		if out, err := cmd.CombinedOutput(); err != nil {
			Missing(t, fmt.Sprintf("http-auth is not installed (npm ci --prefix internal/peers/node) and npm ci could not install it: %v\n%s", err, out))
		}
		modules = filepath.Join(tmp, "node_modules")
	}
	var pkg struct{ Version string }
	if b, err := os.ReadFile(filepath.Join(modules, "http-auth", "package.json")); err == nil {
		json.Unmarshal(b, &pkg)
	}
	dir := Dir(t)
	users := filepath.Join(dir, "htdigest")
	Write(t, users, u.htdigest())
	addr := fmt.Sprintf("127.0.0.1:%d", Port(t))
	version := fmt.Sprintf("http-auth %s on node %s", pkg.Version, firstLine(t, node, "--version"))
	script := filepath.Join(src, "digest-proxy.js")
	return startDigest(t, addr, version, func() *Process {
		cmd := exec.Command(node, script, strings.TrimPrefix(addr, "127.0.0.1:"), users, u.Realm, algorithm, backend)
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		return Start(t, "node http-auth", cmd)
	})
}

// firstLine is the first line a program prints.
func firstLine(t testing.TB, bin string, args ...string) string {
	t.Helper()
	out := Run(t, exec.Command(bin, args...))
	line, _, _ := strings.Cut(out, "\n")
	return strings.TrimSpace(line)
}
