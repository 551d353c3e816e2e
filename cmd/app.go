// Package cmd is soapsess's command line: the urfave/cli application, one
// file per command, and the exit-code table. It is the only package that
// knows about flags, terminals and exit codes.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/soapsess/soapsess/state"
)

// Main runs soapsess with args (args[0] is the program name) and returns the
// exit code.
func Main(args []string, io *IO) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A reader that goes away (soapsess status | head) must not kill the
	// process: with SIGPIPE ignored, a write to a closed stdout fails with
	// EPIPE, and run exits 141, for every command, help and usage errors
	// included. Ignoring a signal starts no signal thread; catchSignals,
	// for the commands that need more, notifies it instead.
	signal.Ignore(syscall.SIGPIPE)
	sys := *io
	var once sync.Once
	sys.signals = func(pagerAlive func() bool) { once.Do(func() { catchSignals(cancel, pagerAlive) }) }
	return run(ctx, args, &sys)
}

// catchSignals makes the first Ctrl-C or SIGTERM cancel the command's
// context, which asks it to wind down (end a paged search on the server,
// keep the state whole); a second one is not caught, unless the pager
// runs (see windDown). SIGPIPE is notified rather than ignored, so that the
// pager, a child, starts with the default (an ignored signal stays ignored
// across exec); a write to a closed stdout still fails with EPIPE, and run
// decides, after the answered request is recorded.
//
// Only the commands that talk to a server or write something call it (see
// catchFor): signal.Notify starts a signal thread, which costs a command
// such as status a tenth of its run. Ctrl-C ends the quiet ones at once.
func catchSignals(cancel context.CancelFunc, pagerAlive func() bool) {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		windDown(stop, cancel, pagerAlive)
		signal.Stop(stop)
	}()
}

// windDown cancels at the first signal, then returns, so that the next one
// ends the process; but while the pager runs it takes the signals that
// follow and drops them. Ctrl-C in less reaches soapsess too (one process
// group), and less stays to be quit with q: soapsess, killed, would leave
// it holding the terminal under the shell's prompt. Winding down, soapsess
// waits for it (stopPager), as git does.
func windDown(stop <-chan os.Signal, cancel func(), pagerAlive func() bool) {
	<-stop
	cancel()
	for pagerAlive() {
		<-stop
	}
}

// catchFor makes every command under parent, but the quiet ones, catch
// signals when its action starts (see catchSignals). A run without Main
// (the tests) catches none.
func (a *appCtx) catchFor(cmds []*cli.Command, parent string) {
	for _, c := range cmds {
		name := strings.TrimSpace(parent + " " + c.Name)
		if action := c.Action; action != nil && !quietCommands[name] {
			c.Action = func(c *cli.Context) error {
				if a.io.signals != nil {
					a.io.signals(a.pagerAlive.Load)
				}
				return action(c)
			}
		}
		a.catchFor(c.Subcommands, name)
	}
}

// quietCommands are the commands that read and print: no server, no
// session or file written (status and ls may make the state directory, as
// any command does). They start no signal thread (see catchSignals).
var quietCommands = map[string]bool{"status": true, "ls": true, "dialects": true, "dialects show": true, "completion": true}

func run(ctx context.Context, args []string, sys *IO) int {
	io := *sys
	gate := &stderrGate{w: sys.Err}
	io.Err = gate
	a := &appCtx{io: &io, stdout: sys.Out, stderr: gate, args: args}
	pipe := &stdoutPipe{w: sys.Out, drain: func() bool { return !a.paging }}
	out := &watchedWriter{w: pipe}
	io.Out = out
	app := a.newApp()
	if n := len(args); n > 0 && args[n-1] == completeFlag {
		a.complete(app, args[1:n-1])
		if pipe.gone {
			return ExitPipe
		}
		return ExitOK
	}
	err := app.RunContext(ctx, reorder(app, args))
	paged := a.stopPager()
	if paged && errors.Is(err, syscall.EPIPE) {
		err = nil // the reader quit the pager before the end: not an error
	}
	if pipe.gone && (err == nil || out.err != nil) {
		return ExitPipe // the reader of stdout went away; nothing else failed
	}
	err = out.check(err)
	if err == nil && a.notFound != "" {
		err = usageError("%q is not a soapsess command", a.notFound)
	}
	if err == nil {
		return ExitOK
	}
	return report(&io, err)
}

// ExitPipe is the exit status when the reader of stdout went away before
// the output ended (soapsess send | head -c 100), as a shell reports git
// and other programs that SIGPIPE ends: 128+13. soapsess is not ended by
// it: the command runs to its end (the reply read, the request recorded,
// captures and journal kept) with its output dropped, and then exits
// quietly with this status, unless it failed for a reason of its own,
// whose message and status win. --all-pages stops paging instead (the
// search is abandoned on the server).
const ExitPipe = 141

// stdoutPipe drops the output once the reader of a pipe on stdout has
// gone (EPIPE; on Windows, a pipe broken or being closed), so that the
// command goes on as it would have, when drain says so; otherwise every
// write fails as the first did.
type stdoutPipe struct {
	w     io.Writer
	drain func() bool
	gone  bool
	err   error
}

func (p *stdoutPipe) Write(b []byte) (int, error) {
	if p.gone {
		if p.drain() {
			return len(b), nil
		}
		return 0, p.err
	}
	n, err := p.w.Write(b)
	if err != nil && brokenPipe(err) {
		p.gone, p.err = true, err
		if p.drain() {
			return len(b), nil
		}
	}
	return n, err
}

// brokenPipe reports a write to a pipe whose reader has gone.
func brokenPipe(err error) bool {
	if runtime.GOOS == "windows" {
		const errorBrokenPipe, errorNoData = syscall.Errno(109), syscall.Errno(232)
		return errors.Is(err, errorBrokenPipe) || errors.Is(err, errorNoData)
	}
	return errors.Is(err, syscall.EPIPE)
}

// appCtx is what every command shares during one run.
type appCtx struct {
	io       *IO
	stdout   io.Writer   // stdout itself (the terminal's file), for the pager and the help's width
	stderr   *stderrGate // io.Err: holds messages while the pager runs, keeps the progress line apart
	notFound string
	args     []string // the command line as given, to quote flags as typed
	verbose  bool
	pager    *pager
	// pagerAlive is whether the pager's process runs, for the signal
	// handler's goroutine (see windDown).
	pagerAlive atomic.Bool
	paging     bool // send --all-pages: one progress line instead of one per request
}

func init() {
	// urfave/cli's --version flag is a global; -v is --verbose here. Set
	// once at start rather than by every app: a write while another app
	// (serve, in the tests) reads it would be a race.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	cli.HelpPrinter = printHelp
}

func (a *appCtx) newApp() *cli.App {
	app := &cli.App{
		Name:      "soapsess",
		Usage:     "open, use and close SOAP sessions (DSML, XML for Analysis, SQL Server) from the shell",
		UsageText: "soapsess [--session NAME] begin --url URL --dialect dsml|xmla|sqlsoap [BODY]\nsoapsess send [BODY]     (BODY: a file, or - / nothing for stdin)\nsoapsess end [BODY]",
		Version:   version(),
		Writer:    &helpWriter{Writer: a.io.Out, width: func() int { return a.width(a.stdout, a.io.OutTTY) }},
		ErrWriter: a.io.Err,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "session", Aliases: []string{"s"}, Value: "default", EnvVars: []string{"SOAPSESS_SESSION"},
				Usage: "name of the session to use; several can be open at once"},
			&cli.StringFlag{Name: "state-dir", EnvVars: []string{"SOAPSESS_STATE_DIR"},
				Usage: "where sessions are kept (default $XDG_STATE_HOME/soapsess or ~/.local/state/soapsess)"},
			&cli.StringFlag{Name: "color", Value: "auto", EnvVars: []string{"SOAPSESS_COLOR"},
				Usage: "colour: auto (on a terminal, unless NO_COLOR), always or never"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show the HTTP exchange on stderr (secrets redacted)"},
			&cli.BoolFlag{Name: "no-pager", Usage: "never send output through $PAGER (else less -FRX, where installed), even on a terminal"},
		},
		Before: func(c *cli.Context) error {
			switch m := c.String("color"); m {
			case "auto", "always", "never", "":
			default:
				return usageError("--color %s (or SOAPSESS_COLOR): want auto, always or never", m)
			}
			a.io.ColorMode = c.String("color")
			a.verbose = c.Bool("verbose")
			return nil
		},
		Commands: []*cli.Command{
			a.beginCommand(), a.sendCommand(), a.endCommand(), a.keepaliveCommand(), a.statusCommand(), a.lsCommand(),
			a.fmtCommand(), a.dialectsCommand(), a.serveCommand(), a.demoCommand(), a.completionCommand(),
		},
		Suggest: true,
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 0 {
				name := c.Args().First()
				if s := suggest(name, commandNames(c.App.Commands)); s != "" {
					return withCode(ExitUsage, fmt.Errorf("%q is not a soapsess command", name), "did you mean soapsess "+s+"?")
				}
				return usageError("%q is not a soapsess command", name)
			}
			// No command: usage goes to stderr, never to stdout.
			w := c.App.Writer
			c.App.Writer = &helpWriter{Writer: a.io.Err, width: func() int { return a.width(a.stderrFile(), a.io.ErrTTY) }}
			cli.ShowAppHelp(c)
			c.App.Writer = w
			return withCode(ExitUsage, errors.New("no command given"))
		},

		OnUsageError:   a.onUsageError,
		ExitErrHandler: func(*cli.Context, error) {}, // Main reports and maps every error
		CommandNotFound: func(_ *cli.Context, name string) {
			a.notFound = name
		},
		Metadata: map[string]any{},
	}
	for _, c := range app.Commands {
		c.OnUsageError = a.onUsageError
	}
	a.catchFor(app.Commands, "")
	return app
}

func (a *appCtx) onUsageError(c *cli.Context, err error, isSub bool) error {
	if name := unknownFlag(err); name != "" {
		// urfave/cli names it with one dash whatever was typed
		err = fmt.Errorf("unknown flag %s", typedFlag(a.args, name))
		flags := c.App.Flags
		if c.Command != nil && isSub {
			flags = append(append([]cli.Flag{}, c.Command.Flags...), flags...)
		}
		if s := suggest(name, flagNames(flags)); s != "" {
			return withCode(ExitUsage, err, "did you mean --"+s+"?")
		}
	}
	return withCode(ExitUsage, err, "soapsess --help lists the commands; soapsess COMMAND --help their flags")
}

// version is this build's version, read from its build info once.
var version = sync.OnceValue(func() string {
	info, _ := debug.ReadBuildInfo()
	return versionOf(info)
})

// versionOf is the version a build says it is: the module's, for go install
// of a published version (and go build of a clone since Go 1.24, which
// stamps a pseudo-version naming the commit); else the commit go build
// recorded (-buildvcs), with +dirty when the tree had changes; else
// "(devel)", as go run builds.
func versionOf(info *debug.BuildInfo) string {
	if info == nil {
		return "(devel)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "(devel)"
	}
	v := "devel-" + rev[:min(12, len(rev))]
	if dirty {
		v += "+dirty"
	}
	if at != "" {
		v += " (" + at + ")"
	}
	return v
}

// store opens the state directory chosen by --state-dir or the default.
func (a *appCtx) store(c *cli.Context) (*state.Store, error) {
	dir, err := a.stateDir(c.String("state-dir"))
	if err != nil {
		return nil, err
	}
	return state.Open(dir)
}

// stateDir is dir, else the default state directory for this user.
func (a *appCtx) stateDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return state.DefaultDir(state.Places{GOOS: runtime.GOOS,
		XDGStateHome: a.io.getenv("XDG_STATE_HOME"), LocalAppData: a.io.getenv("LocalAppData"), Home: a.io.homeDir()})
}

func (a *appCtx) sessionName(c *cli.Context) (string, error) {
	name := c.String("session")
	if name == "" { // SOAPSESS_SESSION set but empty
		name = "default"
	}
	if err := state.CheckName(name); err != nil {
		return "", withCode(ExitUsage, fmt.Errorf("--session: %w", err))
	}
	return name, nil
}

// noMoreArgs refuses extra arguments, and says so kindly when they look like
// flags written after the body (urfave/cli stops at the first argument).
func noMoreArgs(c *cli.Context, max int) error {
	args := c.Args().Slice()
	if len(args) <= max {
		return nil
	}
	extra := args[max:]
	for _, x := range extra {
		if strings.HasPrefix(x, "-") && x != "-" {
			return usageError("flag %s comes after the body; put flags before it: soapsess %s %s ... %s", x, c.Command.Name, x, args[0])
		}
	}
	return usageError("too many arguments: %s", strings.Join(extra, " "))
}

// stderrFile is stderr itself, under the gate.
func (a *appCtx) stderrFile() io.Writer {
	if a.stderr == nil {
		return nil
	}
	return a.stderr.w
}

// Help is laid out to the width of the terminal it is printed on, else
// $COLUMNS, else 80 columns; never wider than 120, for lines that can be
// read, nor narrower than 40.
const (
	defaultHelpWidth = 80
	maxHelpWidth     = 120
	minHelpWidth     = 40
)

// width is the width to lay help out to on w (tty: w is a terminal).
func (a *appCtx) width(w io.Writer, tty bool) int {
	n := 0
	if f, ok := w.(*os.File); ok && tty {
		n, _, _ = term.GetSize(int(f.Fd()))
	}
	if n <= 0 {
		n, _ = strconv.Atoi(strings.TrimSpace(a.io.getenv("COLUMNS")))
	}
	switch {
	case n <= 0:
		return defaultHelpWidth
	case n > maxHelpWidth:
		return maxHelpWidth
	case n < minHelpWidth:
		return minHelpWidth
	}
	return n
}

// helpWriter is where urfave/cli prints help, with the width to lay it out
// to.
type helpWriter struct {
	io.Writer
	width func() int
}

// printHelp is urfave/cli's help printer (cli.HelpPrinter), with the text
// wrapped to the width of the terminal and the flags listed by flagHelp,
// not in urfave/cli's one tab-aligned column, which its longest label
// pushes past the middle of the screen.
func printHelp(w io.Writer, templ string, data any) {
	width := defaultHelpWidth
	if hw, ok := w.(*helpWriter); ok {
		width = hw.width()
	}
	for _, t := range []string{`{{template "visibleFlagCategoryTemplate" .}}`, `{{template "visibleFlagTemplate" .}}`} {
		templ = strings.ReplaceAll(templ, t, `{{flagHelp .VisibleFlags}}`)
	}
	cli.HelpPrinterCustom(w, templ, data, map[string]any{
		"wrap":     func(text string, offset int) string { return wrapText(text, offset, width) },
		"flagHelp": func(flags []cli.Flag) string { return flagHelp(flags, width) },
	})
}

// wrapText is the templates' wrap: text that starts in column offset,
// each line after the first indented to it, fitted to width. What fits is
// left as it was written. A paragraph (lines not indented) with a line
// too wide is filled anew; an indented line too wide (a table's row, an
// example) is broken at spaces, its continuations indented further.
func wrapText(text string, offset, width int) string {
	avail := width - offset
	var out []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		lead := line[:len(line)-len(strings.TrimLeft(line, " "))]
		switch {
		case runeLen(line) <= avail:
			// Each line of a paragraph that fits is left as written; a
			// paragraph with one too wide is filled anew.
			if lead != "" || line == "" || !tooWide(lines[i:], avail) {
				out = append(out, line)
				continue
			}
			fallthrough
		case lead == "":
			j := i
			for j < len(lines) && lines[j] != "" && !strings.HasPrefix(lines[j], " ") {
				j++
			}
			out = append(out, wrapWords(strings.Join(lines[i:j], " "), avail)...)
			i = j - 1
		default:
			out = append(out, breakLine(line, lead, avail)...)
		}
	}
	pad := strings.Repeat(" ", offset)
	for i := 1; i < len(out); i++ {
		if out[i] != "" {
			out[i] = pad + out[i]
		}
	}
	return strings.Join(out, "\n")
}

// tooWide reports whether the paragraph that starts lines (up to a blank
// or indented line) has a line wider than avail.
func tooWide(lines []string, avail int) bool {
	for _, l := range lines {
		if l == "" || strings.HasPrefix(l, " ") {
			return false
		}
		if runeLen(l) > avail {
			return true
		}
	}
	return false
}

// breakLine breaks a line indented by lead into lines of at most avail
// columns, at spaces, keeping the spacing of each piece (a table's
// columns), the continuations indented two more than lead.
func breakLine(line, lead string, avail int) []string {
	var out []string
	for runeLen(line) > avail {
		r := []rune(line)
		cut := -1
		for j := len(lead) + 3; j < len(r); j++ { // past the lead of a continuation
			if r[j] == ' ' && r[j-1] != ' ' {
				if j > avail && cut >= 0 {
					break
				}
				cut = j
			}
		}
		if cut < 0 { // one long word: it stays whole
			break
		}
		out = append(out, string(r[:cut]))
		line = lead + "  " + strings.TrimLeft(string(r[cut:]), " ")
	}
	return append(out, line)
}

// flagHelp lists flags for help, width columns wide: each flag's short
// name first (-H, --header 'Name: value'; long names lined up under long
// names), its text wrapped in a column of its own beside the names, or
// under them when the names are long or the screen narrow. Defaults that
// say nothing (false, 0, none) are left out; a flag that can be given
// more than once says so.
func flagHelp(flags []cli.Flag, width int) string {
	const indent, gap = 3, 2
	type row struct{ label, text string }
	rows := make([]row, 0, len(flags))
	anyShort := false
	for _, f := range flags {
		for _, n := range f.Names() {
			anyShort = anyShort || len(n) == 1
		}
	}
	labels := 0
	for _, f := range flags {
		r := row{label: flagLabel(f, anyShort), text: flagText(f)}
		rows = append(rows, r)
		labels = max(labels, runeLen(r.label))
	}
	// The text's column: after the longest label, unless that would leave
	// it less than 40 columns, when long labels get a line of their own.
	col := indent + labels + gap
	if width-col < 40 {
		col = min(col, indent+max(width/3, 12)+gap)
	}
	if width-col < 24 { // too narrow for two columns: text under the names
		col = indent + 6
	}
	var b strings.Builder
	pad := func(n int) { b.WriteString(strings.Repeat(" ", max(n, 0))) }
	for _, r := range rows {
		b.WriteString("\n")
		pad(indent)
		b.WriteString(r.label)
		lines := wrapWords(r.text, width-col)
		if len(lines) == 0 {
			continue
		}
		if used := indent + runeLen(r.label); used+gap <= col {
			pad(col - used)
		} else {
			b.WriteString("\n")
			pad(col)
		}
		b.WriteString(lines[0])
		for _, l := range lines[1:] {
			b.WriteString("\n")
			pad(col)
			b.WriteString(l)
		}
	}
	return b.String()
}

// flagLabel is a flag's names, short ones first, and its value's name:
// -x, --xpath EXPR. Without a short name, the long one is indented to line
// up with the others' when some flag has one.
func flagLabel(f cli.Flag, alignLong bool) string {
	var short, long []string
	for _, n := range f.Names() {
		if len(n) == 1 {
			short = append(short, "-"+n)
		} else {
			long = append(long, "--"+n)
		}
	}
	label := strings.Join(append(short, long...), ", ")
	if len(short) == 0 && alignLong {
		label = "    " + label
	}
	if d, ok := f.(cli.DocGenerationFlag); ok && d.TakesValue() {
		v := valueName(d.GetUsage())
		if v == "value" && len(long) > 0 { // no name in the usage: the flag's own
			name := long[0][2:]
			v = strings.ToUpper(name[strings.LastIndexByte(name, '-')+1:])
		}
		label += " " + v
	}
	return label
}

// flagText is a flag's usage, with its default when it says something,
// whether it can be repeated and the variables it is read from.
func flagText(f cli.Flag) string {
	d, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return ""
	}
	text := strings.ReplaceAll(d.GetUsage(), "`", "")
	if s, ok := f.(cli.DocGenerationSliceFlag); ok && s.IsSliceFlag() && !strings.Contains(text, "repeatable") {
		text += " (repeatable)"
	}
	switch def := d.GetDefaultText(); {
	case strings.Contains(text, "(default"), !d.TakesValue() && def == "false":
	case def == "", def == "0", def == `""`:
	default:
		text += " (default: " + def + ")"
	}
	if env := d.GetEnvVars(); len(env) > 0 {
		text += " [$" + strings.Join(env, ", $") + "]"
	}
	return text
}

// wrapWords breaks text into lines of at most width columns, between words
// (a word longer than that has a line of its own).
func wrapWords(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		switch {
		case line == "":
			line = w
		case runeLen(line)+1+runeLen(w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

// valueName is a flag's value placeholder: the `word` its usage marks.
func valueName(usage string) string {
	if i := strings.IndexByte(usage, '`'); i >= 0 {
		if j := strings.IndexByte(usage[i+1:], '`'); j >= 0 {
			return usage[i+1 : i+1+j]
		}
	}
	return "value"
}
