package cmd

// soapsess on a real pseudo-terminal, as a person at a terminal runs it:
// the test binary, installed as soapsess by testscript.Main, started with
// a pty as its controlling terminal, stdin, stdout and stderr. The pty
// comes from /dev/ptmx through golang.org/x/sys/unix, which go.mod already
// has (creack/pty does the same in more lines).

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/soapsess/soapsess/internal/peers"
	"github.com/soapsess/soapsess/refserver"
)

// ptySession is one soapsess on a pseudo-terminal.
type ptySession struct {
	t      *testing.T
	master *os.File
	slave  *os.File // kept open, to read the terminal's modes after the exit
	cmd    *exec.Cmd
	out    *peers.Buffer // everything the terminal was sent
	exited chan struct{}
	code   int
}

// startPTY runs soapsess ARGS on a new terminal of cols×rows, with env
// (KEY=VALUE) over a clean environment.
func startPTY(t *testing.T, cols, rows uint16, env []string, args ...string) *ptySession {
	t.Helper()
	bin, err := exec.LookPath("soapsess") // the test binary, by testscript.Main
	if err != nil {
		t.Fatal(err)
	}
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	home := t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TERM=xterm",
		"SOAPSESS_STATE_DIR=" + filepath.Join(home, "state")}, env...)
	p := &ptySession{t: t, master: master, slave: slave, cmd: cmd, out: &peers.Buffer{}, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			p.out.Write(buf[:n])
			if err != nil {
				return // EIO: every end of the terminal closed
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		slave.Close()
		master.Close()
	})
	return p
}

// waitFor waits until the terminal has been sent something re matches.
func (p *ptySession) waitFor(re string) {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(10 * time.Second); !rx.MatchString(p.out.String()); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatalf("the terminal never showed %s:\n%q", re, p.out.String())
		}
	}
}

func (p *ptySession) typeKeys(s string) {
	p.t.Helper()
	if _, err := p.master.WriteString(s); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for soapsess to exit and returns its status.
func (p *ptySession) wait() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		p.t.Fatalf("soapsess did not exit; the terminal shows:\n%q", p.out.String())
	}
	time.Sleep(50 * time.Millisecond) // the last bytes through the master
	return p.code
}

// echoOn reports whether the terminal echoes again (soapsess gave it back
// as it found it).
func (p *ptySession) echoOn() bool {
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		p.t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0 && tio.Lflag&unix.ICANON != 0
}

// authServer is the reference server wanting password hunter2, and how
// many requests reached it.
func authServer(t *testing.T) (string, *atomic.Int32) {
	var n atomic.Int32
	ref := refserver.New(refserver.Options{Password: "hunter2"})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		ref.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, &n
}

// The password prompt: on the terminal, input hidden; Ctrl-C and Ctrl-D
// abort it with exit 130 and nothing sent; an empty answer is asked again;
// Backspace edits; the terminal echoes again afterwards.
func TestPTYPasswordPrompt(t *testing.T) {
	url, requests := authServer(t)
	begin := []string{"begin", "--url", url + "/xmla", "--dialect", "xmla", "--user", "ann"}
	for _, key := range []string{"\x03", "\x04"} {
		p := startPTY(t, 100, 24, nil, begin...)
		p.waitFor(`Password for ann: $`)
		p.typeKeys("hun" + key)
		if code := p.wait(); code != ExitInterrupt {
			t.Errorf("%q at the prompt: exit %d, want %d:\n%q", key, code, ExitInterrupt, p.out.String())
		}
		if !strings.Contains(p.out.String(), "interrupted at the password prompt: nothing was sent") {
			t.Errorf("%q at the prompt: %q", key, p.out.String())
		}
		if !p.echoOn() {
			t.Errorf("%q at the prompt: the terminal is left without echo", key)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent after the prompt was aborted", n)
	}

	p := startPTY(t, 100, 24, nil, begin...)
	p.waitFor(`Password for ann: $`)
	p.typeKeys("\r")
	p.waitFor(`an empty password is not sent; type it, or Ctrl-C to give up\r\nPassword for ann: $`)
	if n := requests.Load(); n != 0 {
		t.Errorf("an empty password: %d requests sent", n)
	}
	p.typeKeys("hunter3\x7f2\r")
	if code := p.wait(); code != 0 {
		t.Fatalf("hunter2 typed: exit %d:\n%q", code, p.out.String())
	}
	if strings.Contains(p.out.String(), "hunter") {
		t.Errorf("the password was echoed:\n%q", p.out.String())
	}
	if !p.echoOn() {
		t.Errorf("the terminal is left without echo")
	}
}

// The pager is handed the terminal itself as its stdout, and the fault
// summary on stderr comes after it is done.
func TestPTYPagerGetsTheTerminal(t *testing.T) {
	doc := faultDoc(t, 10)
	pager := `if [ -t 1 ]; then echo "pager: stdout is a terminal"; else echo "pager: stdout is not a terminal"; fi; cat; echo "pager: done"`
	p := startPTY(t, 100, 24, []string{"PAGER=" + pager}, "fmt", doc)
	if code := p.wait(); code != ExitFault {
		t.Fatalf("exit %d, want %d:\n%q", code, ExitFault, p.out.String())
	}
	s := p.out.String()
	if !strings.Contains(s, "pager: stdout is a terminal") {
		t.Errorf("the pager's stdout is not the terminal:\n%q", s)
	}
	if done, summary := strings.Index(s, "pager: done"), strings.Index(s, faultSummary); done < 0 || summary < done {
		t.Errorf("the fault summary is not after the pager:\n%q", s)
	}
	// Colour: the terminal gets it, the pager passes it on.
	if !strings.Contains(s, "\x1b[") {
		t.Errorf("no colour on a terminal:\n%q", s)
	}
}

// less itself pages: it shows a screen and waits for the reader; the
// summary waits for less to quit.
func TestPTYLessPages(t *testing.T) {
	if _, err := exec.LookPath("less"); err != nil {
		t.Skip("no less installed") // .ci/run's machine has it
	}
	doc := faultDoc(t, 200)
	p := startPTY(t, 100, 24, nil, "--color", "never", "fmt", doc)
	p.waitFor(`<line n="15"/>`)
	time.Sleep(300 * time.Millisecond)
	select {
	case <-p.exited:
		t.Fatalf("less did not wait for the reader:\n%q", p.out.String())
	default:
	}
	if s := p.out.String(); strings.Contains(s, `<line n="100"/>`) || strings.Contains(s, faultSummary) {
		t.Errorf("more than a screen, or the summary, while less waits:\n%q", s)
	}
	p.typeKeys("q")
	if code := p.wait(); code != ExitFault {
		t.Fatalf("exit %d, want %d:\n%q", code, ExitFault, p.out.String())
	}
	if !strings.Contains(p.out.String(), faultSummary) {
		t.Errorf("no summary after less:\n%q", p.out.String())
	}
}

// Help is laid out to the terminal's width.
func TestPTYHelpWidth(t *testing.T) {
	for _, cols := range []uint16{100, 64} {
		p := startPTY(t, cols, 24, nil, "send", "--help")
		if code := p.wait(); code != 0 {
			t.Fatalf("exit %d:\n%q", code, p.out.String())
		}
		widest := 0
		for _, l := range strings.Split(strings.ReplaceAll(p.out.String(), "\r\n", "\n"), "\n") {
			n := len([]rune(l))
			if n > int(cols) && strings.Contains(strings.TrimSpace(l), " ") {
				t.Errorf("%d columns: a line of %d:\n%s", cols, n, l)
			}
			widest = max(widest, n)
		}
		if widest < int(cols)-10 {
			t.Errorf("%d columns: the widest line is %d: not laid out to the terminal", cols, widest)
		}
	}
}

// The progress line, on the terminal: each update erases what the one
// before left, and it is gone when the reply comes.
func TestPTYProgress(t *testing.T) {
	release := make(chan struct{})
	var slow atomic.Bool
	ref := refserver.New(refserver.Options{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slow.Load() {
			<-release
		}
		ref.ServeHTTP(w, r)
	}))
	defer ts.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	slow.Store(true)
	body := filepath.Join(t.TempDir(), "discover.xml")
	if err := os.WriteFile(body, []byte(xmlaDiscover), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPTY(t, 100, 24, []string{"SOAPSESS_STATE_DIR=" + state}, "--no-pager", "send", body)
	p.waitFor(`waiting for the reply… 1\.[0-9]s`)
	close(release)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d:\n%q", code, p.out.String())
	}
	s := p.out.String()
	for _, update := range strings.Split(s, "\r")[1:] {
		if strings.Contains(update, "waiting for the reply") && !strings.HasSuffix(update, "\x1b[K") {
			t.Errorf("an update that does not erase the rest of the line: %q", update)
		}
	}
	if strings.Contains(screen(s), "waiting") {
		t.Errorf("the progress line is left on the screen:\n%s", screen(s))
	}
}
