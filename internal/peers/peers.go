// Package peers starts real server software for tests, on loopback: each
// peer runs as a plain foreground process from a private temporary
// directory, is stopped by PID when the test ends, and logs to a file the
// test prints when the peer fails to start. A peer whose software is not
// installed skips the test, except where SOAPSESS_REQUIRE_PEERS is set
// (CI), where it fails it.
package peers

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Require finds each program (a name on PATH or an absolute path) or
// skips the test (fails it under SOAPSESS_REQUIRE_PEERS); pkg names the
// Debian package that has them, for the message. It returns their paths in
// order.
func Require(t testing.TB, pkg string, programs ...string) []string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("%s runs here on Linux only; this is %s", pkg, runtime.GOOS)
	}
	var paths []string
	for _, p := range programs {
		path, err := exec.LookPath(p)
		if err != nil {
			Missing(t, fmt.Sprintf("%s is not installed (Debian package %s; .ci/run installs it)", p, pkg))
		}
		paths = append(paths, path)
	}
	return paths
}

// Missing skips the test for why, or fails it under SOAPSESS_REQUIRE_PEERS.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("SOAPSESS_REQUIRE_PEERS") != "" {
		t.Fatalf("SOAPSESS_REQUIRE_PEERS is set but %s", why)
	}
	t.Skip(why)
}

// Port returns a loopback port free a moment ago.
func Port(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Dir is a private temporary directory for a peer's files, readable by
// others (a server that drops root to nobody must read its own config).
func Dir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "soapsess-peer-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Write writes a file of a peer's (its config), creating directories.
func Write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Process is a running peer.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	log  *Buffer
	done chan struct{} // closed when it has exited
}

// Exited reports whether the peer has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Log is what the peer wrote on stdout and stderr so far.
func (p *Process) Log() string { return p.log.String() }

// Start runs cmd as the peer name, and stops it when the test ends: by
// PID, SIGKILL to its process group (a server's workers go with it), then
// wait. Its output is kept for Log.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Name: name, Cmd: cmd, log: &Buffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.log
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.log
	}
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		kill(cmd)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Logf("%s (pid %d) did not exit within 10 s of SIGKILL", name, cmd.Process.Pid)
		}
	})
	return p
}

// WaitTCP waits up to limit for addr to accept connections; it fails the
// test, with the peer's log, if it does not.
func (p *Process) WaitTCP(t testing.TB, addr string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within %s:\n%s", p.Name, addr, limit, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Run runs a setup command of a peer's (kdb5_util, kadmin.local) and fails
// the test with its output if it fails.
func Run(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// Buffer is a bytes.Buffer that goroutines may write while a test reads it:
// a process's output, a server's log.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
