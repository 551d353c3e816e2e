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

// merge layers variables: later maps win.
func merge(layers ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range layers {
		for k, v := range l {
			out[k] = v
		}
	}
	return out
}

// userDialects is where a user's own dialects live:
// $XDG_CONFIG_HOME/soapsess/dialects, else ~/.config/soapsess/dialects.
func userDialects() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "soapsess", "dialects")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "soapsess", "dialects")
}

// findDialect resolves --dialect: a built-in name, a directory, or a name in
// the user's dialects directory.
func findDialect(name string) (*envelope.Dialect, error) {
	return envelope.Find(name, userDialects())
}

func listDialects() []envelope.Info { return envelope.List(userDialects()) }

func getenvDefault(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
