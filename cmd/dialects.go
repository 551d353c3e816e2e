package cmd

import (
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
)

func (a *appCtx) dialectsCommand() *cli.Command {
	return &cli.Command{
		Name:  "dialects",
		Usage: "list, show and start session dialects (built-in and your own)",
		Description: `A dialect describes one session protocol: header templates for begin,
in-session and end, optional default bodies, and a manifest (manifest.toml)
saying where the session ID is in a reply and how the server rejects a
session. Your own live in $XDG_CONFIG_HOME/soapsess/dialects/NAME (else
~/.config/soapsess/dialects/NAME); --dialect also takes a directory's path.

Examples:
   soapsess dialects
   soapsess dialects show xmla
   soapsess dialects init zimbra --from xmla`,
		Action: a.dialectsList,
		Subcommands: []*cli.Command{
			{
				Name:      "show",
				Usage:     "print a dialect's files",
				ArgsUsage: "NAME|DIR",
				Description: `Prints each file of a dialect, built-in or your own, under its path.

Examples:
   soapsess dialects show xmla
   soapsess dialects show ./examples/dialects/login`,
				Action: a.dialectsShow,
			},
			{
				Name:      "init",
				Usage:     "write a starting copy of a dialect to edit",
				ArgsUsage: "NAME",
				Description: `Copies a dialect (xmla unless --from says otherwise) into your dialects
directory, or --dir, under NAME, to edit into a protocol of your own.

Examples:
   soapsess dialects init zimbra --from xmla
   soapsess dialects init myapi --from ./examples/dialects/login --dir ./dialects/myapi`,
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "from", Value: "xmla", Usage: "the dialect to copy"},
					&cli.StringFlag{Name: "dir", Usage: "where to write it (default: your dialects directory)"},
				},
				Action: a.dialectsInit,
			},
		},
	}
}

func (a *appCtx) dialectsList(c *cli.Context) error {
	if c.Args().Len() > 0 {
		name := c.Args().First()
		if s := suggest(name, commandNames(c.Command.Subcommands)); s != "" {
			return withCode(ExitUsage, fmt.Errorf("%q is not a dialects command", name), "did you mean soapsess dialects "+s+"?")
		}
		return usageError("%q is not a dialects command (there are: show, init)", name)
	}
	w := tabwriter.NewWriter(a.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSOURCE\tDESCRIPTION")
	var broken error
	for _, d := range a.listDialects() {
		desc := d.Description
		switch {
		case d.Err != nil:
			desc = "BROKEN: " + d.Err.Error()
			broken = d.Err
		case d.Shadowed:
			desc = "(not used: a built-in has this name) " + desc
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", d.Name, d.Source, desc)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return broken
}

func (a *appCtx) dialectsShow(c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("dialects show needs one dialect: a name or a directory")
	}
	d, err := a.findDialect(c.Args().First())
	if err != nil {
		return err
	}
	names, files, err := d.Files()
	if err != nil {
		return err
	}
	for i, n := range names {
		if i > 0 {
			fmt.Fprintln(a.io.Out)
		}
		fmt.Fprintf(a.io.Out, "==> %s <==\n%s", filepath.Join(d.Source, n), files[n])
	}
	return nil
}

func (a *appCtx) dialectsInit(c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("dialects init needs the new dialect's name")
	}
	name := c.Args().First()
	if !envelope.ValidName(name) {
		return usageError("%q cannot name a dialect: letters, digits, '.', '_' and '-', not starting with '.'", name)
	}
	for _, b := range envelope.Builtins() {
		if b == name && c.String("dir") == "" {
			return usageError("%s is a built-in dialect's name, which would always win; pick another", name)
		}
	}
	from, err := a.findDialect(c.String("from"))
	if err != nil {
		return err
	}
	dir := c.String("dir")
	if dir == "" {
		user := a.io.userDialects()
		if user == "" {
			return usageError("no home directory for your dialects; give --dir")
		}
		dir = filepath.Join(user, name)
	}
	if err := from.WriteCopy(dir); err != nil {
		return withCode(ExitError, err)
	}
	fmt.Fprintf(a.io.Err, "soapsess: wrote %s (a copy of %s); edit it, then: soapsess begin --dialect %s ...\n", dir, from.Name, name)
	return nil
}
