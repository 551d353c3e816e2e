package cmd

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
)

func (a *appCtx) statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the open session",
		Description: `Shows the session named by --session. Exit status 5 when none is open.

Examples:
   soapsess status
   soapsess status --json | jq -r .session_id`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
		},
		Action: a.status,
	}
}

// sessionJSON is the documented JSON shape of a session.
type sessionJSON struct {
	Name      string            `json:"name"`
	Dialect   string            `json:"dialect"`
	URL       string            `json:"url"`
	SessionID string            `json:"session_id"`
	Created   string            `json:"created"`
	LastUsed  string            `json:"last_used"`
	Timeout   *int              `json:"timeout"` // seconds granted; null when unknown
	User      string            `json:"user"`
	Requests  int               `json:"requests"`
	Vars      map[string]string `json:"vars,omitempty"`
	Cookies   []cookieJSON      `json:"cookies,omitempty"`
}

// cookieJSON is a kept cookie as status and ls show it: never its value.
type cookieJSON struct {
	Name     string  `json:"name"`
	Domain   string  `json:"domain"` // the host, or ".example.com" for that domain and those under it
	Path     string  `json:"path"`
	Expires  *string `json:"expires"` // null: kept until the session ends
	Secure   bool    `json:"secure"`
	HTTPOnly bool    `json:"http_only"`
}

// liveCookies are the session's cookies a request would carry now (to its
// scheme, host and path), as status shows them: values left out.
func liveCookies(s *state.Session, now time.Time) []cookieJSON {
	var out []cookieJSON
	for _, c := range s.Cookies {
		if c.Expired(now) {
			continue
		}
		domain, hostOnly, path := c.Scope()
		if !hostOnly {
			domain = "." + domain
		}
		j := cookieJSON{Name: c.Name, Domain: domain, Path: path, Secure: c.Secure, HTTPOnly: c.HTTPOnly}
		if e := c.Expiry(); !e.IsZero() {
			t := e.UTC().Format(time.RFC3339)
			j.Expires = &t
		}
		out = append(out, j)
	}
	return out
}

func toJSON(s *state.Session) sessionJSON {
	j := sessionJSON{
		Name: s.Name, Dialect: s.Dialect, URL: s.URL, SessionID: s.ID,
		Created: s.Created.Format(time.RFC3339), LastUsed: s.LastUsed.Format(time.RFC3339),
		User: s.User, Requests: s.Requests, Vars: shownVars(s.Vars), Cookies: liveCookies(s, time.Now()),
	}
	if s.Timeout > 0 {
		t := s.Timeout
		j.Timeout = &t
	}
	return j
}

func (a *appCtx) status(c *cli.Context) error {
	if err := noMoreArgs(c, 0); err != nil {
		return err
	}
	name, store, err := a.namedStore(c)
	if err != nil {
		return err
	}
	s, err := store.Get(name)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(a.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(toJSON(s))
	}
	w := tabwriter.NewWriter(a.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "session\t%s\n", s.Name)
	fmt.Fprintf(w, "dialect\t%s\n", s.Dialect)
	fmt.Fprintf(w, "url\t%s\n", s.URL)
	fmt.Fprintf(w, "id\t%s\n", s.ID)
	fmt.Fprintf(w, "created\t%s\n", s.Created.Format(time.RFC3339))
	fmt.Fprintf(w, "last used\t%s (%s ago)\n", s.LastUsed.Format(time.RFC3339), time.Since(s.LastUsed).Round(time.Second))
	if s.Timeout > 0 {
		fmt.Fprintf(w, "timeout\t%ds (granted by the server)\n", s.Timeout)
	}
	if s.User != "" {
		fmt.Fprintf(w, "user\t%s\n", s.User)
	}
	fmt.Fprintf(w, "requests\t%d\n", s.Requests)
	vars := shownVars(s.Vars)
	for _, k := range sortedKeys(vars) {
		fmt.Fprintf(w, "var\t%s=%s\n", k, vars[k])
	}
	for _, c := range liveCookies(s, time.Now()) { // names and where they go; never values
		var more []string
		if c.Secure {
			more = append(more, "secure")
		}
		if c.HTTPOnly {
			more = append(more, "httponly")
		}
		if c.Expires != nil {
			more = append(more, "expires "+*c.Expires)
		}
		fmt.Fprintf(w, "cookie\t%s (%s)\n", c.Name, strings.Join(append([]string{c.Domain + c.Path}, more...), ", "))
	}
	return w.Flush()
}

// shownVars are a session's variables as status shows them: those whose
// names look secret (transport.SecretName) redacted.
func shownVars(vars map[string]string) map[string]string {
	if len(vars) == 0 {
		return nil
	}
	out := make(map[string]string, len(vars))
	for k, v := range vars {
		out[k] = v
		if transport.SecretName(k) {
			out[k] = "[redacted]"
		}
	}
	return out
}
