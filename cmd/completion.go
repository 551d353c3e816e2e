package cmd

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/completions"
	"github.com/soapsess/soapsess/state"
)

func (a *appCtx) completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh, fish or powershell",
		ArgsUsage: "SHELL",
		Description: `Completes commands, flags, dialect names and the names of open sessions.

Examples:
   source <(soapsess completion bash)                     # bash, now; put it in ~/.bashrc to keep it
   soapsess completion zsh > "${fpath[1]}/_soapsess"      # zsh
   soapsess completion fish > ~/.config/fish/completions/soapsess.fish`,
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return usageError("completion needs a shell: %s", strings.Join(completions.Shells(), ", "))
			}
			script, err := completions.Script(c.Args().First())
			if err != nil {
				return withCode(ExitUsage, err)
			}
			_, err = a.io.Out.Write(script)
			return err
		},
	}
}

// completeFlag is the argument the completion scripts end a command line
// with, as urfave/cli's own scripts do.
const completeFlag = "--generate-bash-completion"

// complete prints the candidates for the word being typed, one per line,
// from the app's own commands and flags, the dialects and the open sessions.
// args are the words before it, then the word itself (maybe empty), as the
// scripts pass them.
func (a *appCtx) complete(app *cli.App, args []string) {
	cur := ""
	if n := len(args); n > 0 {
		cur, args = args[n-1], args[:n-1]
	}
	prev := ""
	if n := len(args); n > 0 {
		prev = args[n-1]
	}
	out := a.io.Out
	// The value of a flag: dialects and sessions are known; files are left
	// to the shell.
	switch prev {
	case "--dialect", "-d", "--from":
		for _, d := range a.listDialects() {
			if d.Err == nil && !d.Shadowed {
				fmt.Fprintln(out, d.Name)
			}
		}
		return
	case "--session", "-s":
		for _, name := range a.sessionNames(args) {
			fmt.Fprintln(out, name)
		}
		return
	case "--auth":
		fmt.Fprintln(out, "basic\nntlm\nnegotiate\nnone")
		return
	case "--color":
		fmt.Fprintln(out, "auto\nalways\nnever")
		return
	}
	flags, subs := app.Flags, app.Commands
	var cmd *cli.Command
	for _, w := range args {
		if c := findCommand(subs, w); c != nil && !strings.HasPrefix(w, "-") {
			cmd, flags, subs = c, c.Flags, c.Subcommands
		}
	}
	if f := lookup(flags, prev); f != nil && takesValue(f) && strings.HasPrefix(prev, "-") {
		return // a value the shell completes (a file, a URL)
	}
	if strings.HasPrefix(cur, "-") {
		if cmd != nil {
			flags = append(append([]cli.Flag{}, flags...), app.Flags...) // global flags work after the command too
		}
		for _, f := range flags {
			for _, n := range f.Names() {
				if len(n) > 1 {
					fmt.Fprintln(out, "--"+n)
				}
			}
		}
		return
	}
	if cmd != nil && len(subs) == 0 {
		switch cmd.FullName() {
		case "dialects show":
			for _, d := range a.listDialects() {
				if d.Err == nil && !d.Shadowed {
					fmt.Fprintln(out, d.Name)
				}
			}
		case "completion":
			fmt.Fprintln(out, strings.Join(completions.Shells(), "\n"))
		}
		return // else a BODY or other file: the shell completes file names
	}
	for _, c := range subs {
		if !c.Hidden {
			fmt.Fprintln(out, c.Name)
		}
	}
}

// sessionNames lists the open sessions in the state directory the command
// line names, or the default one.
func (a *appCtx) sessionNames(args []string) []string {
	dir := ""
	for i, w := range args {
		if w == "--state-dir" && i+1 < len(args) {
			dir = args[i+1]
		} else if v, ok := strings.CutPrefix(w, "--state-dir="); ok {
			dir = v
		}
	}
	if dir == "" {
		dir = a.io.getenv("SOAPSESS_STATE_DIR")
	}
	dir, err := a.stateDir(dir)
	if err != nil {
		return nil
	}
	sessions, _ := (&state.Store{Dir: dir}).List()
	var names []string
	for _, s := range sessions {
		names = append(names, s.Name)
	}
	return names
}
