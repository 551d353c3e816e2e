package cmd

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soapsess/soapsess/internal/peers"
	"github.com/soapsess/soapsess/refserver"
)

// On a terminal, output goes through $PAGER; --no-pager and pipes skip it.
func TestPager(t *testing.T) {
	doc := filepath.Join("..", "testdata", "corpus", "dsml", "02-msdsml-beginsession.response.xml")
	t.Setenv("PAGER", "sed 's/^/paged: /'")
	for _, tt := range []struct {
		tty   bool
		args  []string
		paged bool
	}{
		{true, []string{"fmt", doc}, true},
		{true, []string{"--no-pager", "fmt", doc}, false},
		{false, []string{"fmt", doc}, false},
		{true, []string{"fmt", "--xpath", "//*[local-name()='Session']/@*", doc}, false}, // values for scripts: never paged
	} {
		var out, errb bytes.Buffer
		io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, OutTTY: tt.tty, ColorMode: "never"}
		if code := run(context.Background(), append([]string{"soapsess", "--color", "never"}, tt.args...), io); code != 0 {
			t.Fatalf("%v: exit %d %s", tt.args, code, errb.String())
		}
		if got := strings.Contains(out.String(), "paged: <soap:Envelope"); got != tt.paged {
			t.Errorf("%v (tty=%v): paged=%v, want %v:\n%s", tt.args, tt.tty, got, tt.paged, out.String())
		}
	}
}

// While a reply is slow, a terminal's stderr shows it; a pipe never does.
func TestProgress(t *testing.T) {
	release := make(chan struct{})
	var slow atomic.Bool // once begun, the first send waits for release
	ref := refserver.New(refserver.Options{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			<-release
		}
		ref.ServeHTTP(w, r)
	}))
	defer ts.Close()
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	slow.Store(true)

	errb := &peers.Buffer{}
	var out bytes.Buffer
	io := &IO{In: strings.NewReader(xmlaDiscover), Out: &out, Err: errb, ErrTTY: true}
	done := make(chan int)
	go func() { done <- run(context.Background(), []string{"soapsess", "--state-dir", state, "send"}, io) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errb.String(), "waiting for the reply"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no progress shown: %q", errb.String())
		}
	}
	close(release)
	if code := <-done; code != 0 {
		t.Fatalf("send exited %d: %s", code, errb.String())
	}
	if !strings.HasSuffix(errb.String(), "\r\x1b[K") && !strings.Contains(errb.String(), "\r\x1b[K") {
		t.Errorf("the progress line was not cleared: %q", errb.String())
	}
	// On a pipe: nothing but what the command says.
	code, _, errs := soapsess(t, state, xmlaDiscover, "send")
	if code != 0 || strings.Contains(errs, "waiting") {
		t.Errorf("progress on a pipe: %q", errs)
	}
	must(t, 0, state, "", "end")
}

// The pager's environment: no passwords, LESS as set, else FRX.
func TestPagerEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "SOAPSESS_PASSWORD=s1", "LESS=", "SOAPSESS_SERVE_PASSWORD=s2", "A=b=c", "SOAPSESS_PASSWORDS=not-ours"}
	for _, tt := range []struct {
		less string
		want []string
	}{
		{"", []string{"PATH=/bin", "A=b=c", "SOAPSESS_PASSWORDS=not-ours", "LESS=FRX"}},
		{"-R", []string{"PATH=/bin", "A=b=c", "SOAPSESS_PASSWORDS=not-ours", "LESS=-R"}},
	} {
		if got := pagerEnv(environ, tt.less); !slices.Equal(got, tt.want) {
			t.Errorf("pagerEnv(LESS=%q) = %q, want %q", tt.less, got, tt.want)
		}
	}
}

// The real pager sees that environment.
func TestPagerEnvironment(t *testing.T) {
	doc := filepath.Join("..", "testdata", "corpus", "dsml", "02-msdsml-beginsession.response.xml")
	t.Setenv("SOAPSESS_PASSWORD", "not-for-the-pager-1")
	t.Setenv("SOAPSESS_SERVE_PASSWORD", "not-for-the-pager-2")
	t.Setenv("PAGER", "cat >/dev/null; env")
	for _, tt := range []struct {
		less string // "unset" unsets it
		want string
	}{{"unset", "LESS=FRX"}, {"", "LESS=FRX"}, {"R", "LESS=R"}} {
		t.Setenv("LESS", tt.less)
		if tt.less == "unset" {
			os.Unsetenv("LESS")
		}
		var out, errb bytes.Buffer
		io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, OutTTY: true, ColorMode: "never"}
		if code := run(context.Background(), []string{"soapsess", "fmt", doc}, io); code != 0 {
			t.Fatalf("LESS %s: exit %d %s", tt.less, code, errb.String())
		}
		var less []string
		for _, kv := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(kv, "LESS=") {
				less = append(less, kv)
			}
			if strings.HasPrefix(kv, "SOAPSESS_PASSWORD=") || strings.HasPrefix(kv, "SOAPSESS_SERVE_PASSWORD=") || strings.Contains(kv, "not-for-the-pager") {
				t.Errorf("LESS %s: the pager was given %s", tt.less, kv)
			}
		}
		if !slices.Equal(less, []string{tt.want}) {
			t.Errorf("LESS %s: the pager's LESS is %q, want %s\n%s", tt.less, less, tt.want, out.String())
		}
	}
}

// The state and dialect directories come from the environment as IO gives
// it, the home directory too.
func TestDirectoriesFromIOEnv(t *testing.T) {
	t.Setenv("SOAPSESS_STATE_DIR", "")
	os.Unsetenv("SOAPSESS_STATE_DIR") // --state-dir's own variable, read by urfave/cli
	tmp := t.TempDir()
	for _, tt := range []struct {
		env             map[string]string
		state, dialects string
	}{
		{map[string]string{"HOME": tmp + "/home"}, tmp + "/home/.local/state/soapsess", tmp + "/home/.config/soapsess/dialects"},
		{map[string]string{"HOME": tmp + "/home", "XDG_STATE_HOME": tmp + "/xs", "XDG_CONFIG_HOME": tmp + "/xc"}, tmp + "/xs/soapsess", tmp + "/xc/soapsess/dialects"},
	} {
		var out, errb bytes.Buffer
		io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string { return tt.env[k] }}
		if code := run(context.Background(), []string{"soapsess", "ls"}, io); code != 0 {
			t.Fatalf("%v: ls: exit %d %s", tt.env, code, errb.String())
		}
		if fi, err := os.Stat(tt.state); err != nil || !fi.IsDir() {
			t.Errorf("%v: no state directory %s: %v", tt.env, tt.state, err)
		}
		if code := run(context.Background(), []string{"soapsess", "dialects", "init", "mine", "--from", "xmla"}, io); code != 0 {
			t.Fatalf("%v: dialects init: exit %d %s", tt.env, code, errb.String())
		}
		if _, err := os.Stat(filepath.Join(tt.dialects, "mine", "manifest.toml")); err != nil {
			t.Errorf("%v: the new dialect is not in %s: %v", tt.env, tt.dialects, err)
		}
		errb.Reset()
		if code := run(context.Background(), []string{"soapsess", "dialects", "show", "mine"}, io); code != 0 {
			t.Errorf("%v: dialects show mine: exit %d %s", tt.env, code, errb.String())
		}
	}
	// Without a home directory, the state directory is an error, not a guess.
	var errb bytes.Buffer
	io := &IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errb, Getenv: func(string) string { return "" }}
	if code := run(context.Background(), []string{"soapsess", "ls"}, io); code == 0 || !strings.Contains(errb.String(), "soapsess: error: find the state directory: no home directory") {
		t.Errorf("ls without a home: exit %d %s", code, errb.String())
	}
}

// Without $PAGER, less pages where there is one; where there is none (a
// stock Windows), output goes straight out, with no error.
func TestDefaultPagerOnlyWhereLessIs(t *testing.T) {
	doc := filepath.Join("..", "testdata", "corpus", "dsml", "02-msdsml-beginsession.response.xml")
	withLess, without := t.TempDir(), t.TempDir()
	fake := "#!/bin/sh\n/bin/sed 's/^/paged: /'\n"
	if err := os.WriteFile(filepath.Join(withLess, "less"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/sh", filepath.Join(withLess, "sh")); err != nil { // the pager runs through sh
		t.Fatal(err)
	}
	noPager := func(k string) string { // PAGER unset; the rest as it is
		if k == "PAGER" {
			return ""
		}
		return os.Getenv(k)
	}
	for _, tt := range []struct {
		path  string
		paged bool
	}{{withLess, true}, {without, false}} {
		t.Setenv("PATH", tt.path) // exec.LookPath reads it
		var out, errb bytes.Buffer
		io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, OutTTY: true, ColorMode: "never", Getenv: noPager}
		if code := run(context.Background(), []string{"soapsess", "--color", "never", "fmt", doc}, io); code != 0 {
			t.Fatalf("PATH=%s: exit %d %s", tt.path, code, errb.String())
		}
		if got := strings.Contains(out.String(), "paged: <soap:Envelope"); got != tt.paged || !strings.Contains(out.String(), "<soap:Envelope") {
			t.Errorf("PATH=%s: paged=%v, want %v:\n%s", tt.path, got, tt.paged, out.String())
		}
	}
}

// faultDoc writes a SOAP fault whose detail is lines long when indented.
func faultDoc(t *testing.T, lines int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>`)
	b.WriteString(`<faultcode>soap:Server</faultcode><faultstring>the cube is offline</faultstring><detail>`)
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&b, `<line n="%d"/>`, i)
	}
	b.WriteString(`</detail></soap:Fault></soap:Body></soap:Envelope>`)
	doc := filepath.Join(t.TempDir(), "fault.xml")
	if err := os.WriteFile(doc, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return doc
}

// faultSummary is how the summary on stderr of faultDoc's fault begins.
const faultSummary = "SOAP 1.1 fault soap:Server ({http"

// The summary on stderr comes after the pager is done with the body, not
// in the middle of its screen.
func TestPagerThenMessages(t *testing.T) {
	doc := faultDoc(t, 50)
	t.Setenv("PAGER", "cat; echo pager-end")
	both := &peers.Buffer{} // stdout and stderr on one terminal
	io := &IO{In: strings.NewReader(""), Out: both, Err: both, OutTTY: true, ErrTTY: true, ColorMode: "never"}
	if code := run(context.Background(), []string{"soapsess", "--color", "never", "fmt", doc}, io); code != ExitFault {
		t.Fatalf("exit %d, want %d:\n%s", code, ExitFault, both.String())
	}
	s := both.String()
	body, end, summary := strings.Index(s, `<line n="50"/>`), strings.Index(s, "pager-end"), strings.Index(s, faultSummary)
	if body < 0 || end < body || summary < end {
		t.Errorf("want the body, then the pager's end, then the summary:\n%s", s)
	}
}

// A reader who quits the pager before the end (q in less) loses the rest
// of the body, not the command's outcome: it runs to its end and exits
// with its own status, the summary shown.
func TestPagerQuitEarly(t *testing.T) {
	doc := faultDoc(t, 20000) // more than a pipe holds
	t.Setenv("PAGER", "head -n 3")
	var out, errb bytes.Buffer
	io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, OutTTY: true, ColorMode: "never"}
	code := run(context.Background(), []string{"soapsess", "--color", "never", "fmt", doc}, io)
	if code != ExitFault || !strings.Contains(errb.String(), faultSummary) {
		t.Errorf("exit %d, want %d with the summary: %s", code, ExitFault, errb.String())
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Errorf("the pager showed %d lines, want 3", n)
	}
}

// The pager starts with the first byte of output: a command that prints
// nothing on stdout never starts it.
func TestPagerOnlyForOutput(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.xml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAGER", "echo pager-ran; cat")
	var out, errb bytes.Buffer
	io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, OutTTY: true, ColorMode: "never"}
	code := run(context.Background(), []string{"soapsess", "fmt", empty}, io)
	if code == 0 || strings.Contains(out.String(), "pager-ran") || errb.Len() == 0 {
		t.Errorf("fmt of an empty file: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// Once Ctrl-C has been pressed (the context cancelled), what the command
// still writes goes to the terminal as it is: no pager starts, which the
// second Ctrl-C, not caught, would leave holding the terminal.
func TestNoPagerAfterCtrlC(t *testing.T) {
	doc := filepath.Join("..", "testdata", "corpus", "dsml", "02-msdsml-beginsession.response.xml")
	t.Setenv("PAGER", "sed 's/^/paged: /'")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, OutTTY: true, ColorMode: "never"}
	code := run(ctx, []string{"soapsess", "--color", "never", "fmt", doc}, io)
	if strings.Contains(out.String(), "paged: ") || !strings.Contains(out.String(), "<soap:Envelope") {
		t.Errorf("exit %d; want the document, not paged:\n%s\n%s", code, out.String(), errb.String())
	}
}
