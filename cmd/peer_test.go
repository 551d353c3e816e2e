package cmd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// phpPeer is the URL of PHP's SoapServer running examples/peer/session.php:
// the one .ci/run started ($SOAPSESS_PHP_PEER), or one started here. Without
// PHP the test is skipped, except where SOAPSESS_REQUIRE_PEERS is set (CI),
// where it fails.
func phpPeer(t *testing.T) string {
	if u := os.Getenv("SOAPSESS_PHP_PEER"); u != "" {
		return strings.TrimSuffix(u, "/") + "/"
	}
	missing := func(why string) {
		if os.Getenv("SOAPSESS_REQUIRE_PEERS") != "" {
			t.Fatalf("SOAPSESS_REQUIRE_PEERS is set but %s", why)
		}
		t.Skipf("%s (CI installs php-cli and php-soap)", why)
	}
	php, err := exec.LookPath("php")
	if err != nil {
		missing("php is not installed")
	}
	if out, _ := exec.Command(php, "-m").Output(); !regexp.MustCompile(`(?m)^soap$`).Match(out) {
		missing("php has no soap extension")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	script, _ := filepath.Abs("../examples/peer/session.php")
	cmd := exec.Command(php, "-S", addr, script)
	cmd.Env = append(os.Environ(), "SOAPSESS_PEER_STORE="+filepath.Join(t.TempDir(), "sessions.json"))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("php -S did not listen on %s: %s", addr, log.String())
		}
	}
	return "http://" + addr + "/"
}

// soapsess runs one command in-process and returns exit code, stdout, stderr.
func soapsess(t *testing.T, state string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	io := &IO{In: strings.NewReader(stdin), Out: &out, Err: &errb}
	code := run(context.Background(), append([]string{"soapsess", "--state-dir", state}, args...), io)
	return code, out.String(), errb.String()
}

// must runs a command that must exit with want, and returns its stdout.
func must(t *testing.T, want int, state, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := soapsess(t, state, stdin, args...)
	if code != want {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, want, out, errs)
	}
	return out
}

// The session ID as the text of a header element, against PHP SoapServer
// (SOAP 1.1).
func TestSessionIDHeaderDialectAgainstPHP(t *testing.T) {
	url := phpPeer(t)
	state := filepath.Join(t.TempDir(), "state")
	dialect := "../examples/dialects/sessionid-header"

	must(t, 0, state, "", "begin", "--url", url, "--dialect", dialect, "--var", "user=ann")
	st := must(t, 0, state, "", "status", "--json")
	id := regexp.MustCompile(`"session_id": "([0-9a-f]{16})"`).FindStringSubmatch(st)
	if id == nil {
		t.Fatalf("no session ID from PHP: %s", st)
	}
	out := must(t, 0, state, `<d:Whoami xmlns:d="urn:Demo"/>`, "send")
	if !strings.Contains(out, `<return xsi:type="xsd:string">ann</return>`) {
		t.Errorf("Whoami inside the session: %s", out)
	}
	// A captured whole envelope with a stale SessionID: the header is replaced.
	env := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><SessionID xmlns="urn:demo-session">stale</SessionID></soap:Header><soap:Body><d:Whoami xmlns:d="urn:Demo"/></soap:Body></soap:Envelope>`
	out = must(t, 0, state, env, "send", "--print", "Eb")
	if strings.Contains(out, "stale") || !strings.Contains(out, ">"+id[1]+"</s:SessionID>") {
		t.Errorf("the captured envelope's header was not replaced: %s", out)
	}
	must(t, 0, state, "", "end")

	// The ended session, forged back: PHP's fault says so, the session is dropped.
	must(t, 0, state, "", "begin", "--url", url, "--dialect", dialect)
	raw, _ := os.ReadFile(filepath.Join(state, "default.json"))
	must(t, 0, state, "", "end")
	os.WriteFile(filepath.Join(state, "default.json"), raw, 0o600)
	code, out, errs := soapsess(t, state, `<d:Whoami xmlns:d="urn:Demo"/>`, "send")
	if code != ExitSession || !strings.Contains(errs, "no longer knows") || !strings.Contains(out, "INVALID_SESSION_ID") {
		t.Errorf("a session PHP ended: exit %d\n%s\n%s", code, out, errs)
	}
}

// Login in the body, the session in a SessionHeader, over SOAP 1.2, against
// PHP SoapServer.
func TestLoginDialectAgainstPHP(t *testing.T) {
	url := phpPeer(t) + "?v=12"
	state := filepath.Join(t.TempDir(), "state")
	dialect := "../examples/dialects/login"

	t.Setenv("SOAPSESS_PASSWORD", "wrong")
	code, _, errs := soapsess(t, state, "", "begin", "--url", url, "--dialect", dialect, "--user", "ann")
	if code != ExitFault || !strings.Contains(errs, "SOAP 1.2 fault env:Sender") || !strings.Contains(errs, "INVALID_LOGIN") {
		t.Fatalf("a wrong password: exit %d, %s", code, errs)
	}
	t.Setenv("SOAPSESS_PASSWORD", "peer-secret")
	out := must(t, 0, state, "", "begin", "--url", url, "--dialect", dialect, "--user", "ann", "--print", "Hb")
	if !strings.Contains(out, `Content-Type: application/soap+xml; charset=utf-8; action="urn:Demo#login"`) {
		t.Errorf("SOAP 1.2 request headers: %s", out)
	}
	raw, _ := os.ReadFile(filepath.Join(state, "default.json"))
	if bytes.Contains(raw, []byte("peer-secret")) {
		t.Error("the password reached the state file")
	}
	for i := 1; i <= 2; i++ {
		out = must(t, 0, state, `<d:getUserInfo xmlns:d="urn:Demo"/>`, "send")
		if !strings.Contains(out, "<userName xsi:type=\"xsd:string\">ann</userName>") || !strings.Contains(out, fmt.Sprintf(">%d</calls>", i)) {
			t.Errorf("getUserInfo %d: %s", i, out)
		}
	}
	out = must(t, 0, state, "", "end", "--print", "E")
	if !strings.Contains(out, `SOAP-ENV:mustUnderstand="true"`) || !strings.Contains(out, "http://www.w3.org/2003/05/soap-envelope") {
		t.Errorf("the SOAP 1.2 end request: %s", out)
	}
	must(t, ExitSession, state, "", "status")
}
