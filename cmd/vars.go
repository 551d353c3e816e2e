package cmd

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
)

// varFlags are the template variable flags of begin, send and end.
func varFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "var", Usage: "set a template variable, `KEY=VALUE` (repeatable); begin keeps them for the session"},
		&cli.StringSliceFlag{Name: "var-file", Usage: "read template variables from `FILE`, one KEY=VALUE a line (# comments)"},
		&cli.BoolFlag{Name: "template", Aliases: []string{"t"}, Usage: "BODY is a template too: {{.ID}}, {{.Var.name}} and the rest are filled in, escaped"},
	}
}

// readVars reads --var-file files, then --var flags, which win.
func readVars(c *cli.Context) (map[string]string, error) {
	vars := map[string]string{}
	for _, f := range c.StringSlice("var-file") {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, withCode(ExitUsage, fmt.Errorf("--var-file: %w", err))
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, usageError("%s:%d: want KEY=VALUE", f, n)
			}
			vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for _, kv := range c.StringSlice("var") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError("--var %q: want KEY=VALUE", kv)
		}
		vars[k] = v
	}
	return vars, nil
}

// userDialects is where a user's own dialects live:
// $XDG_CONFIG_HOME/soapsess/dialects, else ~/.config/soapsess/dialects; ""
// when neither is known.
func (io *IO) userDialects() string {
	if d := io.getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "soapsess", "dialects")
	}
	if home := io.homeDir(); home != "" {
		return filepath.Join(home, ".config", "soapsess", "dialects")
	}
	return ""
}

// findDialect resolves --dialect, or a dialect a session was begun with: a
// built-in name, a directory, or a name in the user's dialects directory.
func (a *appCtx) findDialect(ref string) (*envelope.Dialect, error) {
	return envelope.Find(ref, a.io.userDialects())
}

// listDialects lists the built-in dialects and the user's.
func (a *appCtx) listDialects() []envelope.Info { return envelope.List(a.io.userDialects()) }
