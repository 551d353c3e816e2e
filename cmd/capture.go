package cmd

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/session"
)

func captureFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "capture", Usage: "keep the first value `NAME=XPATH` selects in the reply as session variable NAME, for {{.Var.NAME}} in later requests (repeatable; prefixes as for --xpath, and --ns)"},
	}
}

// nsFlag binds prefixes for --capture where --xpath is not offered (begin).
func nsFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "ns", Usage: "bind a prefix for --capture, `PREFIX=URI`"}
}

// captures reads --capture: NAME=XPATH, the expression compiled with the
// prefixes --xpath knows and --ns.
func captures(c *cli.Context) ([]envelope.Capture, error) {
	var out []envelope.Capture
	for _, arg := range c.StringSlice("capture") {
		name, expr, ok := strings.Cut(arg, "=")
		name = strings.TrimSpace(name)
		if !ok || strings.TrimSpace(expr) == "" {
			return nil, usageError("--capture %q: want NAME=XPATH", arg)
		}
		if err := envelope.CheckVarName(name); err != nil {
			return nil, usageError("--capture: %v", err)
		}
		q, err := newQuery(expr, c.StringSlice("ns"))
		if err != nil {
			return nil, err
		}
		e, err := q.compile()
		if err != nil {
			return nil, err
		}
		out = append(out, envelope.Capture{Name: name, Value: e, XPath: q.src, NS: q.ns})
	}
	return out, nil
}

// showCaptures says what the reply did to the session's variables: a
// --capture that matched nothing, and (on a terminal) what was kept.
func (a *appCtx) showCaptures(res *session.Result, asked []envelope.Capture) {
	if res == nil {
		return
	}
	if res.CaptureSkipped {
		warnf(a.io, "the reply is too large to search for captures; the session's variables stay as they were")
	}
	for _, name := range res.Unmatched {
		for _, c := range asked {
			if c.Name == name {
				warnf(a.io, "--capture %s: the reply holds nothing there; %s stays as it was", name, name)
			}
		}
	}
	for _, name := range sortedKeys(res.Captured) {
		infof(a.io, "captured %s", name)
	}
	for _, name := range res.Cleared {
		infof(a.io, "cleared %s", name)
	}
}
