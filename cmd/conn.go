package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/session"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
)

// connFlags are how begin, send and end reach a server. begin keeps the
// auth method, user, TLS files, --insecure and --proxy for the session;
// send and end use them unless given again.
func connFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "auth", Usage: "HTTP auth `METHOD`: basic (the default with --user), digest, ntlm, kerberos, negotiate (Kerberos when it can, else NTLM, as Windows does) or none"},
		&cli.StringFlag{Name: "spn", Usage: "Kerberos service `NAME` when the URL's host is not it (HTTP/host.example.com)"},
		&cli.StringFlag{Name: "password-file", Usage: "read the password from `FILE` (only you may read it); else $SOAPSESS_PASSWORD, else a prompt on the terminal"},
		&cli.StringFlag{Name: "cacert", Usage: "also trust the CA certificates in `FILE` (PEM)"},
		&cli.StringFlag{Name: "cert", Usage: "client certificate `FILE` (PEM), with --key"},
		&cli.StringFlag{Name: "key", Usage: "client certificate key `FILE` (PEM)"},
		&cli.BoolFlag{Name: "insecure", Aliases: []string{"k"}, Usage: "do not check the server's certificate (a warning says so)"},
		&cli.StringFlag{Name: "proxy", Usage: "HTTP proxy `URL` (default: $HTTPS_PROXY, $HTTP_PROXY, $NO_PROXY)"},
		&cli.Float64Flag{Name: "connect-timeout", Usage: "give up connecting after `SECONDS`"},
		&cli.Float64Flag{Name: "max-time", Usage: "give up on the whole request after `SECONDS`"},
		&cli.Float64Flag{Name: "lock-timeout", Usage: "give up after waiting `SECONDS` for the session's other request to finish (default: wait)"},
		&cli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "add an HTTP header, `'Name: value'` (repeatable; not kept)"},
		&cli.StringFlag{Name: "action", Usage: "send this SOAPAction instead of the dialect's"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the exact request that would be sent; send nothing, change nothing"},
		&cli.StringFlag{Name: "max-body", Usage: "refuse a request body larger than `SIZE`, in bytes or with a K, M or G suffix (KiB, MiB, GiB); a body is held in memory a few times over (default: " + defaultMaxBody + ")"},
	}
}

// defaultMaxBody is session.DefaultMaxBody as --max-body writes it.
var defaultMaxBody = strconv.FormatInt(session.DefaultMaxBody>>20, 10) + "M"

// maxBody reads --max-body: the most bytes a request body may have, for
// session.Body.Max.
func maxBody(c *cli.Context) (int64, error) {
	if !c.IsSet("max-body") {
		return session.DefaultMaxBody, nil
	}
	v := c.String("max-body")
	n, err := parseSize(v)
	if err != nil {
		return 0, usageError("--max-body %q: %v", v, err)
	}
	return n, nil
}

// parseSize reads a positive number of bytes, with an optional binary
// suffix: 512, 64K, 256M, 1G (also KiB, MiB, GiB; any case).
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	digits := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	shift := map[string]uint{"": 0, "b": 0, "k": 10, "kib": 10, "m": 20, "mib": 20, "g": 30, "gib": 30}
	sh, ok := shift[strings.ToLower(strings.TrimSpace(s[len(digits):]))]
	n, err := strconv.ParseInt(digits, 10, 64)
	switch {
	case !ok || err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, errors.New("want a number of bytes, or one with K, M or G: 64M, 1G")
	case err != nil || n > math.MaxInt64>>sh:
		return 0, errors.New("too large")
	case n <= 0:
		return 0, errors.New("want more than 0 bytes")
	}
	return n << sh, nil
}

// connect reads the connection flags over what the session kept (for
// begin: only the user), and the password when the request needs one.
func (a *appCtx) connect(c *cli.Context, kept session.Conn, d *envelope.Dialect) (session.Conn, error) {
	str := func(flag, keptVal string) string {
		if c.IsSet(flag) {
			return c.String(flag)
		}
		return keptVal
	}
	cn := kept
	cn.Action = c.String("action")
	auth, err := transport.ParseAuth(str("auth", string(kept.Auth)))
	if err != nil {
		return cn, err
	}
	cn.Auth = auth
	cn.CACert, cn.Cert, cn.Key = abs(str("cacert", kept.CACert)), abs(str("cert", kept.Cert)), abs(str("key", kept.Key))
	cn.Insecure = kept.Insecure || c.Bool("insecure")
	cn.Proxy = str("proxy", kept.Proxy)
	cn.ConnectTimeout, cn.MaxTime = seconds(c.Float64("connect-timeout")), seconds(c.Float64("max-time"))
	if (auth == transport.AuthNTLM || auth == transport.AuthDigest) && cn.User == "" {
		return cn, usageError("--auth %s needs --user (DOMAIN\\user or user@domain)", auth)
	}
	cn.SPN = str("spn", kept.SPN)
	if cn.SPN != "" && auth != transport.AuthKerberos && auth != transport.AuthNegotiate {
		return cn, usageError("--spn names a Kerberos service: it goes with --auth kerberos or negotiate")
	}
	cn.Kerberos = transport.Kerberos{Config: a.io.getenv("KRB5_CONFIG"), CCache: a.io.getenv("KRB5CCNAME")}
	if c.Float64("connect-timeout") < 0 || c.Float64("max-time") < 0 {
		return cn, usageError("--connect-timeout and --max-time are positive numbers of seconds")
	}
	if _, err := maxBody(c); err != nil { // a bad one is refused before a password is asked for
		return cn, err
	}
	cn.Header = nil
	for _, h := range c.StringSlice("header") {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return cn, usageError("--header %q: want 'Name: value'", h)
		}
		if cn.Header == nil {
			cn.Header = http.Header{}
		}
		cn.Header.Add(name, strings.TrimSpace(value))
	}
	if cn.Insecure {
		warnf(a.io, "--insecure: the server's certificate is not checked; anyone on the way can read and change the session")
	}
	// A dry run asks for no password, but still checks a password file.
	needed := cn.Auth != transport.AuthNone || d.UsesPassword() // HTTP auth, or a login body
	if cn.User != "" && needed && (!c.Bool("dry-run") || c.String("password-file") != "") {
		p, err := a.password(c, cn.User)
		if err != nil {
			return cn, err
		}
		cn.Password = p
	}
	return cn, nil
}

func abs(p string) string {
	if p == "" {
		return ""
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// password finds the password for user: --password-file, else
// $SOAPSESS_PASSWORD, else a prompt on the terminal. It is never written
// anywhere.
func (a *appCtx) password(c *cli.Context, user string) (string, error) {
	if f := c.String("password-file"); f != "" {
		var np *state.NotPrivateError
		switch err := state.CheckPrivate(f); {
		case errors.As(err, &np):
			return "", withCode(ExitUsage, fmt.Errorf("--password-file: %w: others can read it", err), privateHint(np))
		case err != nil:
			return "", withCode(ExitUsage, fmt.Errorf("--password-file: %w", err))
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return "", withCode(ExitUsage, fmt.Errorf("--password-file: %w", err))
		}
		return strings.TrimRight(string(raw), "\r\n"), nil
	}
	if p := a.io.getenv("SOAPSESS_PASSWORD"); p != "" {
		return p, nil
	}
	p, err := a.prompt(c.Context, fmt.Sprintf("Password for %s: ", user))
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, errPromptAborted), errors.Is(err, context.Canceled):
		return "", withCode(ExitInterrupt, errors.New("interrupted at the password prompt: nothing was sent"))
	case errors.Is(err, errEmptyPassword):
		return "", withCode(ExitUsage, fmt.Errorf("no password typed for user \"%s\"", user),
			"for a user whose password is empty, give --password-file with an empty file")
	}
	return "", withCode(ExitUsage, fmt.Errorf("user \"%s\" needs a password: set SOAPSESS_PASSWORD, give --password-file, or run on a terminal to be asked", user),
		passwordHint())
}

// passwordHint says how to set SOAPSESS_PASSWORD without it showing, in the
// shell people use on this OS.
func passwordHint() string {
	if runtime.GOOS == "windows" {
		return "$env:SOAPSESS_PASSWORD = Read-Host -MaskInput  (PowerShell; never put it on the command line)"
	}
	return "read -rs SOAPSESS_PASSWORD && export SOAPSESS_PASSWORD  (never put it on the command line)"
}

// testOnlyPrompt answers prompts in tests, which have no terminal.
var testOnlyPrompt func(question string) (string, error)

// errNoTerminal is returned when there is no terminal to ask on.
var errNoTerminal = errors.New("no terminal")

var (
	// errPromptAborted is Ctrl-C or Ctrl-D at the prompt.
	errPromptAborted = errors.New("prompt aborted")
	// errEmptyPassword is the prompt answered with nothing, every time.
	errEmptyPassword = errors.New("no password typed")
)

// prompt asks on the terminal (/dev/tty; the console on Windows) without
// echo, so that pipes on stdin and stdout stay clean. The terminal is in
// raw mode meanwhile, so that Ctrl-C and Ctrl-D reach askSecret as keys
// and abort the prompt, rather than a signal the read would not see.
func (a *appCtx) prompt(ctx context.Context, question string) (string, error) {
	if testOnlyPrompt != nil {
		return testOnlyPrompt(question)
	}
	in, out, err := openTerminal()
	if err != nil {
		return "", errNoTerminal
	}
	defer in.Close()
	if out != in {
		defer out.Close()
	}
	fd := int(in.Fd())
	if !term.IsTerminal(fd) {
		return "", errNoTerminal
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return "", fmt.Errorf("password prompt: %w", err)
	}
	defer term.Restore(fd, old)
	return askSecret(ctx, in, out, question)
}

// askSecret asks question on out and reads the answer from in, a terminal
// in raw mode (no echo, no line editing, no signals from keys). An empty
// answer is never sent: the question is asked again, up to three times in
// all, then errEmptyPassword.
func askSecret(ctx context.Context, in io.Reader, out io.Writer, question string) (string, error) {
	for try := 1; ; try++ {
		fmt.Fprint(out, question)
		p, err := readSecret(ctx, in)
		fmt.Fprint(out, "\r\n") // raw mode: no newline translation
		switch {
		case err != nil:
			return "", err
		case len(p) > 0:
			return string(p), nil
		case try == 3:
			return "", errEmptyPassword
		}
		fmt.Fprint(out, "soapsess: an empty password is not sent; type it, or Ctrl-C to give up\r\n")
	}
}

// readSecret reads one line typed on a terminal in raw mode: Enter ends
// it; Ctrl-C, Ctrl-D (and Ctrl-Z on Windows, its end of input) or the end
// of input abort it with errPromptAborted; Backspace takes back the last
// character, Ctrl-U the whole line; other control characters and the
// escape sequences of cursor keys are ignored. It also returns when ctx
// ends (SIGTERM), with ctx's error; the read left behind ends when the
// terminal is closed.
func readSecret(ctx context.Context, in io.Reader) ([]byte, error) {
	type result struct {
		line []byte
		err  error
	}
	if ctx == nil {
		ctx = context.Background()
	}
	done := make(chan result, 1)
	go func() {
		line, err := readSecretLine(in)
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		return r.line, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func readSecretLine(in io.Reader) ([]byte, error) {
	const (
		ctrlC, ctrlD, ctrlU, ctrlZ = 0x03, 0x04, 0x15, 0x1a
		backspace, del, esc        = 0x08, 0x7f, 0x1b
	)
	var (
		line []byte
		b    [1]byte
		seq  int // 1: after ESC; 2: inside a CSI or SS3 sequence
	)
	for {
		n, err := in.Read(b[:])
		if n == 0 {
			if err == nil {
				continue
			}
			if errors.Is(err, io.EOF) {
				return nil, errPromptAborted
			}
			return nil, err
		}
		c := b[0]
		switch {
		case seq == 1 && (c == '[' || c == 'O'):
			seq = 2
		case seq == 1:
			seq = 0 // ESC and one character (Alt-key): both ignored
		case seq == 2:
			if c >= 0x40 && c <= 0x7e { // the final byte
				seq = 0
			}
		case c == '\r' || c == '\n':
			return line, nil
		case c == ctrlC || c == ctrlD || c == ctrlZ && runtime.GOOS == "windows":
			return nil, errPromptAborted
		case c == backspace || c == del:
			for len(line) > 0 {
				last := line[len(line)-1]
				line = line[:len(line)-1]
				if last < 0x80 || last >= 0xc0 { // not a continuation byte: the rune's first
					break
				}
			}
		case c == ctrlU:
			line = line[:0]
		case c == esc:
			seq = 1
		case c >= 0x20 || c == '\t':
			line = append(line, c)
		}
	}
}
