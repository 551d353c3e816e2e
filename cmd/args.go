package cmd

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorder moves flags written after positional arguments in front of them
// (urfave/cli stops reading flags at the first argument), and global flags
// written after the command to before it, so that
//
//	soapsess send query.xml --pretty --session ad
//
// means what it says. Everything after "--" is left as it is.
func reorder(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	globals, rest := takeFlags(app.Flags, rest)
	out = append(out, globals...)
	if len(rest) == 0 {
		return out
	}
	cmd := findCommand(app.Commands, rest[0])
	if cmd == nil {
		return append(out, rest...)
	}
	path := []string{rest[0]}
	rest = rest[1:]
	for len(rest) > 0 && len(cmd.Subcommands) > 0 {
		sub := findCommand(cmd.Subcommands, rest[0])
		if sub == nil {
			break
		}
		path, cmd, rest = append(path, rest[0]), sub, rest[1:]
	}
	var flags, positional, moved []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i:]...)
			i = len(rest)
		case len(a) > 1 && a[0] == '-':
			own := lookup(cmd.Flags, a) != nil || lookup(app.Flags, a) == nil
			f := lookup(cmd.Flags, a)
			if !own {
				f = lookup(app.Flags, a)
			}
			taken := []string{a}
			if f != nil && takesValue(f) && !strings.Contains(a, "=") && i+1 < len(rest) {
				taken = append(taken, rest[i+1])
				i++
			}
			if own {
				flags = append(flags, taken...)
			} else {
				moved = append(moved, taken...)
			}
		default:
			positional = append(positional, a)
		}
	}
	out = append(out, moved...)
	out = append(out, path...)
	out = append(out, flags...)
	for _, f := range flags {
		if f == "--help" || f == "-h" {
			return out // help needs no arguments, and urfave/cli would take one for a command name
		}
	}
	return append(out, positional...)
}

// takeFlags splits leading flags (and their values) off args.
func takeFlags(defs []cli.Flag, args []string) ([]string, []string) {
	i := 0
	for i < len(args) {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			break
		}
		i++
		if f := lookup(defs, a); f != nil && takesValue(f) && !strings.Contains(a, "=") && i < len(args) {
			i++
		}
	}
	return args[:i], args[i:]
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// lookup finds the flag an argument like -x, --name or --name=value names.
func lookup(defs []cli.Flag, arg string) cli.Flag {
	name := strings.TrimLeft(arg, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	for _, f := range defs {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	_, isBool := f.(*cli.BoolFlag)
	return !isBool
}
