package cmd

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

func (a *appCtx) lsCommand() *cli.Command {
	return &cli.Command{
		Name:  "ls",
		Usage: "list the sessions",
		Description: `Lists every session in the state directory, open or not (STATE: open, ended,
rejected), with when the server will forget an open one (EXPIRES: "in about
6m", "probably 2m ago", "?" when its idle timeout is not known). A state file
that cannot be read is named on stderr and makes the exit status 1; the
others are listed. With no sessions, stdout stays empty and stderr says so.

Examples:
   soapsess ls
   soapsess ls --json | jq -r '.[].name'`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array of sessions"},
		},
		Action: a.ls,
	}
}

func (a *appCtx) ls(c *cli.Context) error {
	if err := noMoreArgs(c, 0); err != nil {
		return err
	}
	store, err := a.store(c)
	if err != nil {
		return err
	}
	sessions, errs := store.List()
	for _, s := range sessions {
		a.withIdle(s)
	}
	if c.Bool("json") {
		out := make([]sessionJSON, 0, len(sessions))
		for _, s := range sessions {
			out = append(out, toJSON(s))
		}
		enc := json.NewEncoder(a.io.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else if len(sessions) > 0 {
		w := tabwriter.NewWriter(a.io.Out, 0, 0, 2, ' ', 0)
		now := time.Now()
		fmt.Fprintln(w, "NAME\tSTATE\tDIALECT\tURL\tLAST USED\tEXPIRES\tREQUESTS")
		for _, s := range sessions {
			exp := strings.TrimPrefix(expiry(s, now), "probably expired ")
			switch {
			case !s.Open():
				exp = "-"
			case exp == "":
				exp = "?"
			case !strings.HasPrefix(exp, "in "):
				exp = "probably " + exp
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", s.Name, shown(stateOf(s)), shown(s.Dialect), shown(s.URL), s.LastUsed.Format(time.RFC3339), exp, s.Requests)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	} else if len(errs) == 0 {
		// Nothing on stdout, so that a script's loop over it runs no times.
		infoAlways(a.io, "no sessions in %s", store.Dir)
		hintf(a.io, "soapsess begin --url URL --dialect NAME opens one")
	}
	if len(errs) > 0 {
		for _, e := range errs[:len(errs)-1] {
			report(a.io, e)
		}
		return errs[len(errs)-1]
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
