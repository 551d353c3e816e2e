package cmd

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soapsess/soapsess/refserver"
)

// screen is what a terminal shows of out: \r goes back to the start of the
// line, \n to the start of the next (as a terminal's output processing
// makes it), ESC [ ... K erases from the cursor to the end of the line;
// other escape sequences are dropped.
func screen(out string) string {
	var lines [][]rune
	row, col := 0, 0
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		for len(lines) <= row {
			lines = append(lines, nil)
		}
		switch c := rs[i]; {
		case c == '\r':
			col = 0
		case c == '\n':
			row, col = row+1, 0
			lines = append(lines, nil)
		case c == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] < 0x40 || rs[j] > 0x7e) {
				j++
			}
			if j < len(rs) && rs[j] == 'K' && col < len(lines[row]) {
				lines[row] = lines[row][:col]
			}
			i = j
		default:
			for len(lines[row]) < col {
				lines[row] = append(lines[row], ' ')
			}
			if col < len(lines[row]) {
				lines[row][col] = c
			} else {
				lines[row] = append(lines[row], c)
			}
			col++
		}
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(string(l))
	}
	return b.String()
}

func TestScreen(t *testing.T) { // the helper the tests below read terminals with
	for in, want := range map[string]string{
		"abc\rx":               "xbc",
		"abc\rx\x1b[K":         "x",
		"ab\ncd\r\x1b[Ke":      "ab\ne",
		"\x1b[1;31mred\x1b[0m": "red",
	} {
		if got := screen(in); got != want {
			t.Errorf("screen(%q) = %q, want %q", in, got, want)
		}
	}
}

// Each update of the progress line replaces the one before it whole: a
// shorter line leaves none of the longer one's characters behind.
func TestProgressLineIsClean(t *testing.T) {
	var term bytes.Buffer
	g := &stderrGate{w: &term}
	for _, tt := range []struct {
		i      int
		waited time.Duration
		n      int64
		want   string // the line on the screen after the update
	}{
		{0, 1940 * time.Millisecond, 0, `| waiting for the reply… 1.9s`},
		{1, 2 * time.Second, 0, `/ waiting for the reply… 2.0s`},
		{2, 10 * time.Second, 0, `- waiting for the reply… 10.0s`},
		{3, 0, 1023 << 10, `\ 1023.0 kB received`},
		{4, 0, 1 << 20, `| 1.0 MB received`},
		{5, 0, 1 << 20, `/ 1.0 MB received`},
	} {
		g.status(progressLine(tt.i, tt.waited, tt.n, false))
		if got := screen(term.String()); got != tt.want {
			t.Errorf("after %q: the screen shows %q, want %q", progressLine(tt.i, tt.waited, tt.n, false), got, tt.want)
		}
	}
	// A message while the line shows takes its place; the line is gone.
	g.Write([]byte("soapsess: warning: slow\n"))
	g.status("")
	if got := screen(term.String()); got != "soapsess: warning: slow\n" {
		t.Errorf("a message over the progress line: the screen shows %q", got)
	}
	// Once the reply streams to the terminal, no line.
	if s := progressLine(6, time.Second, 10, true); s != "" {
		t.Errorf("progress while the reply streams to the terminal: %q", s)
	}
}

// While a pager has the terminal, messages wait and no progress shows; they
// come after it, in their order.
func TestStderrHeldWhilePaging(t *testing.T) {
	var term bytes.Buffer
	g := &stderrGate{w: &term}
	g.status("| waiting")
	g.hold()
	if got := screen(term.String()); got != "" {
		t.Errorf("the progress line is left for the pager: %q", got)
	}
	g.Write([]byte("soapsess: error: one\n"))
	g.status("/ waiting")
	g.Write([]byte("soapsess: hint: two\n"))
	if term.String() != "\r| waiting\x1b[K\r\x1b[K" {
		t.Errorf("written while held: %q", term.String())
	}
	g.release()
	if got := screen(term.String()); got != "soapsess: error: one\nsoapsess: hint: two\n" {
		t.Errorf("after the pager: %q", got)
	}
}

// The prompt's reader, over a pipe: Enter ends the answer, Ctrl-C and
// Ctrl-D abort, Backspace and Ctrl-U edit, cursor keys are ignored, and an
// empty answer is asked again, then refused.
func TestAskSecret(t *testing.T) {
	for _, tt := range []struct {
		typed   string
		close   bool // the writer closes after typing (end of input)
		want    string
		err     error
		retries int // times the question was asked again
	}{
		{typed: "hunter2\r", want: "hunter2"},
		{typed: "hunter2\n", want: "hunter2"},
		{typed: "hunter3\x7f2\r", want: "hunter2"},
		{typed: "hunter3\b2\r", want: "hunter2"},
		{typed: "pä\x7fa\r", want: "pa"},
		{typed: "wrong\x15hunter2\r", want: "hunter2"},
		{typed: "\x1b[Ahunter\x1bOB2\r", want: "hunter2"},
		{typed: "\x03", err: errPromptAborted},
		{typed: "hunt\x03er2\r", err: errPromptAborted},
		{typed: "\x04", err: errPromptAborted},
		{typed: "hunt", close: true, err: errPromptAborted},
		{typed: "\r\rhunter2\r", want: "hunter2", retries: 2},
		{typed: "\r\n\r", err: errEmptyPassword, retries: 2},
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			w.Write([]byte(tt.typed))
			if tt.close {
				w.Close()
			}
		}()
		var out bytes.Buffer
		got, err := askSecret(context.Background(), r, &out, "Password for ann: ")
		r.Close()
		w.Close()
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("typed %q: %q, %v; want %q, %v", tt.typed, got, err, tt.want, tt.err)
		}
		if n := strings.Count(out.String(), "Password for ann: "); n != tt.retries+1 {
			t.Errorf("typed %q: asked %d times, want %d: %q", tt.typed, n, tt.retries+1, out.String())
		}
		if n := strings.Count(out.String(), "an empty password is not sent"); n != tt.retries {
			t.Errorf("typed %q: %d empty-password notes, want %d: %q", tt.typed, n, tt.retries, out.String())
		}
		if strings.Contains(out.String(), "hunter") {
			t.Errorf("typed %q: the answer was written out: %q", tt.typed, out.String())
		}
	}
}

// SIGTERM (the run's context ending) while the prompt waits ends it too.
func TestAskSecretContext(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := askSecret(ctx, r, &bytes.Buffer{}, "Password: "); !errors.Is(err, context.Canceled) {
		t.Errorf("the context ended: %v", err)
	}
}

// What the command does with the prompt's outcome: aborted is exit 130
// with nothing sent; nothing typed is exit 2.
func TestPromptOutcome(t *testing.T) {
	var requests atomic.Int32
	ref := refserver.New(refserver.Options{Password: "hunter2"})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		ref.ServeHTTP(w, r)
	}))
	defer ts.Close()
	state := filepath.Join(t.TempDir(), "state")
	defer func() { testOnlyPrompt = nil }()
	for _, tt := range []struct {
		answer error
		code   int
		msg    string
	}{
		{errPromptAborted, ExitInterrupt, "soapsess: error: interrupted at the password prompt: nothing was sent"},
		{context.Canceled, ExitInterrupt, "soapsess: error: interrupted at the password prompt: nothing was sent"},
		{errEmptyPassword, ExitUsage, `soapsess: error: no password typed for user "ann"`},
	} {
		testOnlyPrompt = func(string) (string, error) { return "", tt.answer }
		code, _, errs := soapsess(t, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--user", "ann")
		if code != tt.code || !strings.Contains(errs, tt.msg) {
			t.Errorf("prompt %v: exit %d, want %d with %q:\n%s", tt.answer, code, tt.code, tt.msg, errs)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent after the prompt failed", n)
	}
	// The prompt's answer is the password.
	testOnlyPrompt = func(string) (string, error) { return "hunter2", nil }
	must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla", "--user", "ann")
	must(t, 0, state, "", "end")
}
