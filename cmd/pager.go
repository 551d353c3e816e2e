package cmd

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
)

// pager sends stdout through $PAGER (else less -FRX where there is a less,
// which quits at once when the output fits on one screen), when stdout is a
// terminal and --no-pager was not given. Messages on stderr still go straight to the terminal.
type pager struct {
	cmd  *exec.Cmd
	w    io.WriteCloser
	prev io.Writer
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
	cmd := exec.Command("sh", "-c", command)
	if runtime.GOOS == "windows" {
		cmd = exec.Command("cmd", "/C", command)
	}
	cmd.Stdout, cmd.Stderr = a.io.Out, a.io.Err
	cmd.Env = pagerEnv(os.Environ(), a.io.getenv("LESS"))
	w, err := cmd.StdinPipe()
	if err != nil {
		return
	}
	if err := cmd.Start(); err != nil {
		return // no pager: print as usual
	}
	a.pager = &pager{cmd: cmd, w: w, prev: a.io.Out}
	a.io.Out = w
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

// stopPager waits for the reader to finish with the pager.
func (a *appCtx) stopPager() {
	if a.pager == nil {
		return
	}
	a.pager.w.Close()
	a.pager.cmd.Wait()
	a.io.Out = a.pager.prev
	a.pager = nil
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
	if !a.io.ErrTTY || a.verbose || a.io.Trace != nil {
		return nil
	}
	p := &progress{done: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		start := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		spin := `|/-\`
		shown := false
		for i := 0; ; i++ {
			select {
			case <-p.done:
				if shown {
					fmt.Fprint(a.io.Err, "\r\x1b[K")
				}
				return
			case <-tick.C:
			}
			if time.Since(start) < progressDelay {
				continue
			}
			n := p.bytes.Load()
			if n > 0 && streamingToTerminal {
				if shown {
					fmt.Fprint(a.io.Err, "\r\x1b[K")
					shown = false
				}
				continue // the reply itself shows progress
			}
			if n == 0 {
				fmt.Fprintf(a.io.Err, "\r%c waiting for the reply… %s", spin[i%len(spin)], time.Since(start).Round(100*time.Millisecond))
			} else {
				fmt.Fprintf(a.io.Err, "\r%c %s received", spin[i%len(spin)], sizeOf(n))
			}
			shown = true
		}
	}()
	return p
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
