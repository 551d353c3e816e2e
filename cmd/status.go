package cmd

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/soapsess/soapsess/session"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
)

func (a *appCtx) statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the open session",
		Description: `Shows the session named by --session: how long it has been idle and when
the server will forget it, when its idle timeout is known (begin
--idle-timeout, the timeout the server granted, or the dialect's default for
the server). A session that ended or that the server rejected is still
shown (begin --again opens a new one as it began), and the exit status is 5,
as it is when there is none.

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
	Auth      string            `json:"auth,omitempty"` // the HTTP auth method kept with the session
	SPN       string            `json:"spn,omitempty"`
	Requests  int               `json:"requests"`
	Vars      map[string]string `json:"vars,omitempty"`
	Cookies   []cookieJSON      `json:"cookies,omitempty"`
	// State is open, ended or rejected (by the server); EndedAt says when.
	State   string  `json:"state"`
	EndedAt *string `json:"ended_at,omitempty"`
	// IdleTimeout is the seconds the server is thought to keep the session
	// idle (null: unknown), IdleFrom where that comes from (given, granted,
	// dialect), Expires when an open session will expire unless used.
	IdleTimeout *int          `json:"idle_timeout"`
	IdleFrom    string        `json:"idle_timeout_from,omitempty"`
	Expires     *string       `json:"expires,omitempty"`
	Journal     []journalJSON `json:"journal,omitempty"`
}

// journalJSON is a setup request as status shows it: never its body.
type journalJSON struct {
	Body  string `json:"body"` // its name: a file, "standard input"
	Added string `json:"added"`
}

// withIdle fills in the idle timeout of a session kept by an older
// soapsess, which did not keep it (see session.IdleTimeout).
func (a *appCtx) withIdle(s *state.Session) {
	if s.IdleTimeout > 0 || s.IdleFrom == session.IdleUnknown {
		return // known, or known to be unknown: loading the dialect again would not tell
	}
	d, _ := a.findDialect(s.Dialect) // a dialect that cannot be found knows no timeout
	s.IdleTimeout, s.IdleFrom = session.IdleTimeout(s, d)
}

// stateOf is a session's state as status and ls name it.
func stateOf(s *state.Session) string {
	if s.Open() {
		return "open"
	}
	return s.Ended
}

// expires is when an open session's server forgets it unless it is used
// again; false when that is not known.
func expires(s *state.Session) (time.Time, bool) {
	if !s.Open() || s.IdleTimeout <= 0 {
		return time.Time{}, false
	}
	return s.LastUsed.Add(time.Duration(s.IdleTimeout) * time.Second), true
}

// roughly is a duration as people say it: 45s, 6m, 2h10m.
func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute)/time.Minute))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// expiry says when the server will forget the session: "in about 6m",
// "probably expired 2m ago", or "" when not known.
func expiry(s *state.Session, now time.Time) string {
	e, ok := expires(s)
	switch {
	case !ok:
		return ""
	case e.After(now):
		return "in about " + roughly(e.Sub(now))
	}
	return "probably expired " + roughly(now.Sub(e)) + " ago"
}

// idleFrom says where an idle timeout comes from, for status.
var idleFrom = map[string]string{
	"given":   "as given to begin --idle-timeout",
	"granted": "granted by the server",
	"dialect": "the dialect's default for this server",
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
		User: s.User, Auth: s.Auth, SPN: s.SPN, Requests: s.Requests, Vars: shownVars(s.Vars), Cookies: liveCookies(s, time.Now()),
	}
	if s.Timeout > 0 {
		t := s.Timeout
		j.Timeout = &t
	}
	j.State = stateOf(s)
	if !s.Open() {
		t := s.EndedAt.Format(time.RFC3339)
		j.EndedAt = &t
	}
	if s.IdleTimeout > 0 {
		t := s.IdleTimeout
		j.IdleTimeout, j.IdleFrom = &t, s.IdleFrom
	}
	if e, ok := expires(s); ok {
		t := e.UTC().Format(time.RFC3339)
		j.Expires = &t
	}
	for _, r := range s.Journal {
		j.Journal = append(j.Journal, journalJSON{Body: journalName(r), Added: r.Added.Format(time.RFC3339)})
	}
	return j
}

// journalName names a setup request: its body's name.
func journalName(r state.Request) string {
	if r.BodyName == "" {
		return "the dialect's body"
	}
	return r.BodyName
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
	a.withIdle(s)
	// One that is not open is shown, then said so (exit 5).
	var closed error
	if !s.Open() {
		closed = &session.EndedError{Name: s.Name, ID: s.ID, How: s.Ended, At: s.EndedAt}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(a.io.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(toJSON(s)); err != nil {
			return err
		}
		return closed
	}
	now := time.Now()
	w := tabwriter.NewWriter(a.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "session\t%s\n", s.Name)
	switch s.Ended {
	case "":
		fmt.Fprintf(w, "state\topen\n")
	case state.Rejected:
		fmt.Fprintf(w, "state\trejected by the server at %s (it had ended or expired there)\n", s.EndedAt.Format(time.RFC3339))
	default:
		fmt.Fprintf(w, "state\t%s at %s\n", shown(s.Ended), s.EndedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "dialect\t%s\n", shown(s.Dialect))
	fmt.Fprintf(w, "url\t%s\n", shown(s.URL))
	fmt.Fprintf(w, "id\t%s\n", shown(s.ID))
	fmt.Fprintf(w, "created\t%s\n", s.Created.Format(time.RFC3339))
	fmt.Fprintf(w, "last used\t%s (%s ago)\n", s.LastUsed.Format(time.RFC3339), now.Sub(s.LastUsed).Round(time.Second))
	if s.Timeout > 0 {
		fmt.Fprintf(w, "timeout\t%ds (granted by the server)\n", s.Timeout)
	}
	switch {
	case !s.Open():
	case s.IdleTimeout > 0:
		fmt.Fprintf(w, "idle\t%s; the server forgets it %s (idle timeout %ds, %s)\n",
			roughly(now.Sub(s.LastUsed)), expiry(s, now), s.IdleTimeout, idleFrom[s.IdleFrom])
	default:
		fmt.Fprintf(w, "idle\t%s; the server's idle timeout is not known (begin --idle-timeout tells it)\n", roughly(now.Sub(s.LastUsed)))
	}
	if s.User != "" {
		fmt.Fprintf(w, "user\t%s\n", shown(s.User))
	}
	if s.Auth != "" {
		spn := ""
		if s.SPN != "" {
			spn = " (service " + s.SPN + ")"
		}
		fmt.Fprintf(w, "auth\t%s\n", shown(s.Auth+spn))
	}
	fmt.Fprintf(w, "requests\t%d\n", s.Requests)
	for i, r := range s.Journal {
		fmt.Fprintf(w, "setup\t%d. %s (%s)\n", i+1, shown(journalName(r)), r.Added.Format(time.RFC3339))
	}
	vars := shownVars(s.Vars)
	for _, k := range sortedKeys(vars) {
		fmt.Fprintf(w, "var\t%s\n", shown(k+"="+vars[k]))
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
		fmt.Fprintf(w, "cookie\t%s (%s)\n", shown(c.Name), shown(strings.Join(append([]string{c.Domain + c.Path}, more...), ", ")))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return closed
}

// shown is a value from the state file, which a server may have chosen
// (an ID, a captured variable, a cookie's name), as status and ls show it
// in their tables: control characters escaped (transport.Printable), so
// it can neither break a table's line nor drive the terminal. --json
// gives the values as they are.
func shown(v string) string { return transport.Printable(v) }

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
