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
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/state"
)

// Main runs soapsess with args (args[0] is the program name) and returns the
// exit code.
func Main(args []string, io *IO) int {
	// A reader that goes away (soapsess send | head) must not kill the
	// process mid-write, before the answered request is recorded: with
	// SIGPIPE notified (not ignored, so the pager still gets the default),
	// a write to a closed stdout fails with EPIPE instead, and run decides.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The first signal asks the command to wind down (end a paged search
		// on the server, keep the state whole); a second one is not caught.
		<-ctx.Done()
		stop()
	}()
	return run(ctx, args, io)
}

func run(ctx context.Context, args []string, sys *IO) int {
	io := *sys
	a := &appCtx{io: &io}
	pipe := &stdoutPipe{w: sys.Out, drain: func() bool { return !a.paging }}
	out := &watchedWriter{w: pipe}
	io.Out = out
	app := a.newApp()
	if n := len(args); n > 0 && args[n-1] == completeFlag {
		a.complete(app, args[1:n-1])
		return ExitOK
	}
	err := app.RunContext(ctx, reorder(app, args))
	paged := a.pager != nil
	a.stopPager()
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
	notFound string
	verbose  bool
	pager    *pager
	paging   bool // send --all-pages: one progress line instead of one per request
}

func init() {
	// urfave/cli's --version flag is a global; -v is --verbose here. Set
	// once at start rather than by every app: a write while another app
	// (serve, in the tests) reads it would be a race.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
}

func (a *appCtx) newApp() *cli.App {
	app := &cli.App{
		Name:      "soapsess",
		Usage:     "open, use and close SOAP sessions (DSML, XML for Analysis, SQL Server) from the shell",
		UsageText: "soapsess [--session NAME] begin --url URL --dialect dsml|xmla|sqlsoap [BODY]\nsoapsess send [BODY]     (BODY: a file, or - / nothing for stdin)\nsoapsess end [BODY]",
		Version:   version(),
		Writer:    a.io.Out,
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
			c.App.Writer = a.io.Err
			cli.ShowAppHelp(c)
			c.App.Writer = a.io.Out
			return withCode(ExitUsage, errors.New("no command given"))
		},

		OnUsageError:   onUsageError,
		ExitErrHandler: func(*cli.Context, error) {}, // Main reports and maps every error
		CommandNotFound: func(_ *cli.Context, name string) {
			a.notFound = name
		},
		Metadata: map[string]any{},
	}
	for _, c := range app.Commands {
		c.OnUsageError = onUsageError
	}
	return app
}

func onUsageError(c *cli.Context, err error, isSub bool) error {
	if name := unknownFlag(err); name != "" {
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

func version() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
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
