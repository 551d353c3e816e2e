package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
)

// pager sends stdout through $PAGER (else less -FRX where there is a less,
// which quits at once when the output fits on one screen), when stdout is a
// terminal and --no-pager was not given. It starts at the first byte of
// output, so that a password prompt, a progress line and the messages
// before the reply have the terminal to themselves, and it is handed the
// terminal itself as its stdout: given a pipe, less behaves as cat. While
// it runs, messages on stderr are held (they would land in the middle of
// its screen) and written once it is done, after the body.
type pager struct {
	a       *appCtx
	command string
	prev    io.Writer // stdout before the pager
	once    sync.Once
	cmd     *exec.Cmd
	w       io.WriteCloser  // the pager's stdin; nil if it could not start
	gone    bool            // the reader quit the pager before the end
	ctx     context.Context // the command's: once cancelled, no pager starts
}

func (a *appCtx) startPager(c *cli.Context) {
	if a.pager != nil || !a.io.OutTTY || c.Bool("no-pager") {
		return
	}
	command, ok := a.io.lookupEnv("PAGER")
	if !ok {
		if _, err := exec.LookPath("less"); err != nil {
			return // no pager where there is no less (Windows, mostly)
		}
		command = "less -FRX"
	}
	if strings.TrimSpace(command) == "" || command == "cat" {
		return
	}
	a.pager = &pager{a: a, command: command, prev: a.io.Out, ctx: c.Context}
	a.io.Out = a.pager
}

// start runs the pager, stdout and stderr the terminal's own (the files,
// not a copy through a pipe), and holds soapsess's messages until it is
// done. Where it cannot start, output goes out as it would have; and so it
// does once Ctrl-C has been pressed: what a command winding down writes
// needs no pager, and a pager started then would be left holding the
// terminal by the second Ctrl-C, which is not caught (see windDown). It is
// alive (pagerAlive) before the context is looked at, so that a signal
// between the two finds it so.
func (p *pager) start() {
	a := p.a
	a.pagerAlive.Store(true)
	if p.ctx != nil && p.ctx.Err() != nil {
		a.pagerAlive.Store(false)
		return
	}
	started := false
	defer func() {
		if !started {
			a.pagerAlive.Store(false)
		}
	}()
	cmd := exec.Command("sh", "-c", p.command)
	if runtime.GOOS == "windows" {
		cmd = exec.Command("cmd", "/C", p.command)
	}
	cmd.Stdout, cmd.Stderr = a.stdout, a.io.Err
	if a.stdout == nil { // an app not made by run
		cmd.Stdout = p.prev
	}
	if a.stderr != nil {
		cmd.Stderr = a.stderr.w
	}
	cmd.Env = pagerEnv(os.Environ(), a.io.getenv("LESS"))
	w, err := cmd.StdinPipe()
	if err != nil {
		return
	}
	a.stderr.hold()
	if err := cmd.Start(); err != nil {
		a.stderr.release()
		return // no pager: print as usual
	}
	p.cmd, p.w, started = cmd, w, true
}

func (p *pager) Write(b []byte) (int, error) {
	p.once.Do(p.start)
	if p.w == nil {
		return p.prev.Write(b)
	}
	if p.gone {
		return p.drop(b)
	}
	n, err := p.w.Write(b)
	if err != nil && brokenPipe(err) {
		// The reader quit the pager: the rest of the output is dropped and
		// the command goes on to its end, as when a pipe's reader goes
		// (--all-pages stops paging instead).
		p.gone = true
		return p.drop(b)
	}
	return n, err
}

func (p *pager) drop(b []byte) (int, error) {
	if p.a.paging {
		return 0, syscall.EPIPE
	}
	return len(b), nil
}

// secretEnv are the variables soapsess reads a password from.
var secretEnv = []string{"SOAPSESS_PASSWORD", "SOAPSESS_SERVE_PASSWORD"}

// proxyEnv are the variables net/http reads a proxy URL from, in either
// case; one may carry a user and password (http://user:pw@proxy:3128).
var proxyEnv = []string{"HTTP_PROXY", "HTTPS_PROXY"}

// credential reports whether the variable k=v holds a credential soapsess
// could use, which no child process (the pager) is given: a password, or
// a proxy URL with one in it. KRB5CCNAME only names a file, which the
// child could read as the same user anyway.
func credential(k, v string) bool {
	if envNameIn(k, secretEnv...) {
		return true
	}
	for _, p := range proxyEnv {
		if strings.EqualFold(k, p) && strings.Contains(v, "@") {
			return true
		}
	}
	return false
}

// pagerEnv is the pager's environment: environ without credentials, and
// LESS as soapsess sees it, else FRX: quit at once when the output fits on
// one screen, pass colours through, leave the screen as it was.
func pagerEnv(environ []string, less string) []string {
	if less == "" {
		less = "FRX"
	}
	env := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if !envNameIn(k, "LESS") && !credential(k, v) {
			env = append(env, kv)
		}
	}
	return append(env, "LESS="+less)
}

// envNameIn tells whether k is one of names: exactly, or in any case on
// Windows, whose variable names ignore it.
func envNameIn(k string, names ...string) bool {
	for _, n := range names {
		if k == n || runtime.GOOS == "windows" && strings.EqualFold(k, n) {
			return true
		}
	}
	return false
}

// stopPager waits for the reader to finish with the pager, then writes the
// messages held meanwhile. It reports whether a pager ran.
func (a *appCtx) stopPager() bool {
	p := a.pager
	if p == nil {
		return false
	}
	a.pager = nil
	a.io.Out = p.prev
	p.once.Do(func() {}) // no output: it never starts
	if p.w == nil {
		return false
	}
	p.w.Close()
	p.cmd.Wait()
	a.pagerAlive.Store(false)
	a.stderr.release()
	return true
}

// stderrGate is stderr for one run. It keeps the progress line apart from
// the messages: one written while the line shows clears it first, and
// while a pager has the terminal messages are held, to be written after
// it, and the line is not shown.
type stderrGate struct {
	w       io.Writer
	mu      sync.Mutex
	line    bool // a progress line is on the screen
	holding bool
	held    []byte
}

func (g *stderrGate) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holding {
		g.held = append(g.held, b...)
		return len(b), nil
	}
	if g.line {
		g.line = false
		if _, err := io.WriteString(g.w, "\r"+clearLine); err != nil {
			return 0, err
		}
	}
	return g.w.Write(b)
}

// clearLine erases from the cursor to the end of the line.
const clearLine = "\x1b[K"

// status shows s as the progress line, in place of the one shown, every
// character of that one gone; "" takes the line away.
func (g *stderrGate) status(s string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holding || s == "" && !g.line {
		return
	}
	io.WriteString(g.w, "\r"+s+clearLine)
	g.line = s != ""
}

// hold keeps what is written from now on, the progress line taken away.
func (g *stderrGate) hold() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.line {
		g.line = false
		io.WriteString(g.w, "\r"+clearLine)
	}
	g.holding = true
}

// release writes what was held, and lets writes through again.
func (g *stderrGate) release() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holding = false
	if len(g.held) > 0 {
		g.w.Write(g.held)
		g.held = nil
	}
}

// progress shows, on a terminal's stderr, that a reply is slow to come (a
// spinner with the time waited) or large (the bytes received, when stdout
// is not that terminal). It never shows on a pipe.
type progress struct {
	bytes atomic.Int64
	done  chan struct{}
	ended chan struct{}
}

const progressDelay = 400 * time.Millisecond

func (a *appCtx) startProgress(streamingToTerminal bool) *progress {
	if !a.io.ErrTTY || a.verbose || a.io.Trace != nil || a.stderr == nil {
		return nil
	}
	p := &progress{done: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		defer a.stderr.status("")
		start := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
			if time.Since(start) < progressDelay {
				continue
			}
			a.stderr.status(progressLine(i, time.Since(start), p.bytes.Load(), streamingToTerminal))
		}
	}()
	return p
}

// progressLine is the progress line at tick i: a spinner and the time
// waited, or the bytes received, or nothing once the reply itself shows on
// the terminal.
func progressLine(i int, waited time.Duration, n int64, streamingToTerminal bool) string {
	const spin = `|/-\`
	switch {
	case n > 0 && streamingToTerminal:
		return "" // the reply itself shows progress
	case n > 0:
		return fmt.Sprintf("%c %s received", spin[i%len(spin)], sizeOf(n))
	}
	return fmt.Sprintf("%c waiting for the reply… %.1fs", spin[i%len(spin)], waited.Seconds())
}

func (p *progress) stop() {
	if p != nil {
		close(p.done)
		<-p.ended
	}
}

// counting counts the bytes read through it for the progress line.
type counting struct {
	r io.Reader
	p *progress
}

func (c *counting) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.bytes.Add(int64(n))
	return n, err
}

func sizeOf(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
