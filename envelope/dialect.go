package envelope

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/template"

	"github.com/BurntSushi/toml"
	"github.com/antchfx/xpath"
	"github.com/soapsess/soapsess/reply"
)

// Phase is the step of a session a message belongs to.
type Phase string

// The three phases of every session protocol.
const (
	Begin   Phase = "begin"
	Session Phase = "session"
	End     Phase = "end"
)

// Phases lists the phases in the order a session goes through them.
var Phases = []Phase{Begin, Session, End}

// Keepalive names the dialect's cheapest request inside a session
// (keepalive-body.xml), sent with the Session phase's header to keep an
// idle session from expiring.
const Keepalive Phase = "keepalive"

//go:embed dialects
var builtin embed.FS

// Dialect describes one session protocol as data: header templates for each
// phase, default bodies, and a manifest saying how to find the session ID in a
// reply and how the server says it no longer knows a session.
type Dialect struct {
	Name        string
	Description string
	Source      string // "built-in", or the directory it was read from
	SOAPVersion string // "1.1" or "1.2"
	fsys        fs.FS
	ref         string

	manifest      manifest
	soapAction    *template.Template
	headers       *template.Template
	bodies        map[Phase][]byte // default bodies, templates
	rejected      []*regexp.Regexp
	errors        []reply.ErrorRule
	captures      []Capture
	idle          []idleRule
	inheritErrors bool // no [[errors]] key: the built-ins' conventions
}

// idleRule is an [[idle_timeouts]] table, compiled.
type idleRule struct {
	url     *regexp.Regexp
	seconds int
}

// manifest is the dialect's manifest.toml.
type manifest struct {
	Description string            `toml:"description"`
	SOAP        string            `toml:"soap"`
	SOAPAction  string            `toml:"soapaction"`
	Namespaces  map[string]string `toml:"namespaces"`
	Vars        map[string]string `toml:"vars"`
	Body        struct {
		Require string `toml:"require"`
		Expect  string `toml:"expect"`
	} `toml:"body"`
	Session struct {
		ID          string   `toml:"id"`
		Timeout     string   `toml:"timeout"`
		EndConfirm  string   `toml:"end_confirm"`
		EndAttempts int      `toml:"end_attempts"`
		Rejected    []string `toml:"rejected"`
		// BeginOnly are variables for the initiating request only (login
		// options): not among the session's variables, refused on later
		// requests; kept only with how it began, for a new begin.
		BeginOnly []string `toml:"begin_only"`
		// IdleTimeout is how many seconds the dialect's servers keep an
		// idle session by default; 0 when unknown or never.
		IdleTimeout int `toml:"idle_timeout"`
	} `toml:"session"`
	// IdleTimeouts are defaults for the servers whose URLs match, before
	// [session] idle_timeout: the first that matches wins.
	IdleTimeouts []struct {
		URL     string `toml:"url"`
		Seconds int    `toml:"seconds"`
	} `toml:"idle_timeouts"`
	Errors   []reply.ErrorDecl `toml:"errors"`   // see errors.go
	Captures []CaptureDecl     `toml:"captures"` // see captures.go
}

// DialectError names the dialect file at fault.
type DialectError struct {
	File string
	Err  error
}

func (e *DialectError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *DialectError) Unwrap() error { return e.Err }

// ErrUnknownDialect is returned for a name that is not a built-in dialect.
var ErrUnknownDialect = errors.New("unknown dialect")

// Builtins lists the names of the built-in dialects.
func Builtins() []string {
	entries, _ := fs.ReadDir(builtin, "dialects")
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// Builtin loads a built-in dialect by name.
func Builtin(name string) (*Dialect, error) {
	for _, n := range Builtins() {
		if n == name {
			sub, err := fs.Sub(builtin, "dialects/"+name)
			if err != nil {
				return nil, err
			}
			return Load(sub, name, "built-in")
		}
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownDialect, name, strings.Join(Builtins(), ", "))
}

// Load reads a dialect from a directory laid out like the built-ins:
// manifest.toml, begin.xml, session.xml, end.xml and the optional default
// bodies begin-body.xml and end-body.xml.
func Load(fsys fs.FS, name, source string) (*Dialect, error) {
	at := func(file string) string { return path.Join(source, file) }
	if source == "built-in" {
		at = func(file string) string { return "dialect " + name + ": " + file }
	}
	raw, err := fs.ReadFile(fsys, "manifest.toml")
	if err != nil {
		return nil, &DialectError{at("manifest.toml"), err}
	}
	d := &Dialect{Name: name, Source: source, bodies: map[Phase][]byte{}, fsys: fsys}
	md, err := toml.Decode(string(raw), &d.manifest)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &DialectError{fmt.Sprintf("%s:%d", at("manifest.toml"), pe.Position.Line), errors.New(pe.Message)}
		}
		return nil, &DialectError{at("manifest.toml"), err}
	}
	line := func(key string) string { return fmt.Sprintf("%s:%d", at("manifest.toml"), lineOf(raw, key)) }
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		k := undecoded[0]
		return nil, &DialectError{fmt.Sprintf("%s:%d", at("manifest.toml"), keyLine(raw, k)), fmt.Errorf("unknown key %q", k.String())}
	}
	m := &d.manifest
	d.Description = m.Description
	d.SOAPVersion = m.SOAP
	if d.SOAPVersion == "" {
		d.SOAPVersion = "1.1"
	}
	if d.SOAPVersion != "1.1" && d.SOAPVersion != "1.2" {
		return nil, &DialectError{line("soap"), fmt.Errorf("soap = %q: want \"1.1\" or \"1.2\"", m.SOAP)}
	}
	if m.Session.ID == "" {
		return nil, &DialectError{at("manifest.toml"), errors.New("[session] id: an XPath that finds the session ID is required")}
	}
	for _, x := range []struct{ key, expr string }{
		{"require", m.Body.Require}, {"id", m.Session.ID}, {"timeout", m.Session.Timeout}, {"end_confirm", m.Session.EndConfirm},
	} {
		if x.expr == "" {
			continue
		}
		if _, err := reply.CompileXPath(x.expr, m.Namespaces); err != nil {
			return nil, &DialectError{line(x.key), fmt.Errorf("%s: bad XPath %q: %w", x.key, x.expr, err)}
		}
	}
	// A dialect that says nothing of [[errors]] (one copied from a built-in
	// before they were data) watches the built-ins' conventions, as every
	// dialect used to; errors = [] watches none.
	d.inheritErrors = source != "built-in" && !md.IsDefined("errors")
	if err := d.compileCaptures(raw, at("manifest.toml")); err != nil {
		return nil, err
	}
	if err := d.compileErrors(raw, at("manifest.toml")); err != nil {
		return nil, err
	}
	for _, p := range m.Session.Rejected {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, &DialectError{line("rejected"), fmt.Errorf("rejected: %w", err)}
		}
		d.rejected = append(d.rejected, re)
	}
	if m.Session.IdleTimeout < 0 {
		return nil, &DialectError{line("idle_timeout"), errors.New("idle_timeout: want seconds, 0 for unknown")}
	}
	for i, t := range m.IdleTimeouts {
		where := func(key string) string {
			return fmt.Sprintf("%s:%d", at("manifest.toml"), tableLine(raw, "idle_timeouts", i, key))
		}
		re, err := regexp.Compile(t.URL)
		if err != nil || t.URL == "" {
			if err == nil {
				err = errors.New("a regular expression the URL must match is required")
			}
			return nil, &DialectError{where("url"), fmt.Errorf("[[idle_timeouts]] #%d: url: %w", i+1, err)}
		}
		if t.Seconds < 1 {
			return nil, &DialectError{where("seconds"), fmt.Errorf("[[idle_timeouts]] #%d: seconds: want 1 or more", i+1)}
		}
		d.idle = append(d.idle, idleRule{re, t.Seconds})
	}
	if m.Session.EndAttempts < 1 {
		m.Session.EndAttempts = 1
	}
	if d.soapAction, err = template.New("soapaction").Option("missingkey=error").Parse(m.SOAPAction); err != nil {
		return nil, &DialectError{line("soapaction"), fmt.Errorf("soapaction: %w", err)}
	}
	d.headers = template.New(name).Option("missingkey=error").Funcs(templateFuncs)
	// common.xml may define templates the phase templates share.
	if src, err := fs.ReadFile(fsys, "common.xml"); err == nil {
		if _, err := d.headers.New("common.xml").Parse(string(src)); err != nil {
			return nil, parseError(at("common.xml"), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, &DialectError{at("common.xml"), err}
	}
	for _, p := range Phases {
		file := string(p) + ".xml"
		src, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, &DialectError{at(file), err}
		}
		if _, err := d.headers.New(file).Parse(string(src)); err != nil {
			return nil, parseError(at(file), err)
		}
		file = string(p) + "-body.xml"
		src, err = fs.ReadFile(fsys, file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return nil, &DialectError{at(file), err}
		default:
			if _, err := template.New(file).Parse(string(src)); err != nil {
				return nil, parseError(at(file), err)
			}
			d.bodies[p] = src
		}
	}
	const file = string(Keepalive) + "-body.xml"
	switch src, err := fs.ReadFile(fsys, file); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, &DialectError{at(file), err}
	default:
		if _, err := template.New(file).Parse(string(src)); err != nil {
			return nil, parseError(at(file), err)
		}
		d.bodies[Keepalive] = src
	}
	return d, nil
}

// IdleTimeout is how many seconds the dialect says a server at url keeps
// an idle session by default: its [[idle_timeouts]] for that URL, else its
// [session] idle_timeout; 0 when it does not know.
func (d *Dialect) IdleTimeout(url string) int {
	for _, r := range d.idle {
		if r.url.MatchString(url) {
			return r.seconds
		}
	}
	return d.manifest.Session.IdleTimeout
}

// DefaultBody renders the dialect's default body for a phase, if it has
// one. It may be empty (no element at all), which makes an empty SOAP Body.
func (d *Dialect) DefaultBody(p Phase, v Values) (*Body, bool, error) {
	src, ok := d.bodies[p]
	if !ok {
		return nil, false, nil
	}
	file := string(p) + "-body.xml"
	out, err := d.RenderBody(file, src, v)
	if err != nil {
		return nil, true, err
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return &Body{}, true, nil
	}
	b, err := ParseBody(out)
	if err != nil {
		return nil, true, &DialectError{"dialect " + d.Name + ": " + file, err}
	}
	return b, true, nil
}

// Vars returns the dialect's variables with their default values.
func (d *Dialect) Vars() map[string]string {
	out := make(map[string]string, len(d.manifest.Vars))
	for k, v := range d.manifest.Vars {
		out[k] = v
	}
	return out
}

// EndAttempts is how many times an end is tried when the reply lacks the
// confirmation the dialect asks for.
func (d *Dialect) EndAttempts() int { return d.manifest.Session.EndAttempts }

// envelopeNS is the namespace of the dialect's SOAP envelope.
func (d *Dialect) envelopeNS() string {
	if d.SOAPVersion == "1.2" {
		return reply.NSSOAP12
	}
	return reply.NSSOAP11
}

// Files lists the dialect's files and their contents, manifest first.
func (d *Dialect) Files() ([]string, map[string][]byte, error) {
	entries, err := fs.ReadDir(d.fsys, ".")
	if err != nil {
		return nil, nil, err
	}
	names := []string{"manifest.toml"}
	contents := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(d.fsys, e.Name())
		if err != nil {
			return nil, nil, err
		}
		contents[e.Name()] = b
		if e.Name() != "manifest.toml" {
			names = append(names, e.Name())
		}
	}
	return names, contents, nil
}

// parseError names the file and line of a template that does not parse
// ("template: session.xml:1: ..." becomes "DIR/session.xml:1: ...").
func parseError(file string, err error) error {
	msg := err.Error()
	if m := templateLine().FindStringSubmatch(msg); m != nil {
		return &DialectError{file + ":" + m[1], errors.New(m[2])}
	}
	return &DialectError{file, err}
}

var templateLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? *(.*)$`)
})

// lineOf is the line of raw where key is set (1 when not found).
func lineOf(raw []byte, key string) int {
	for i, l := range strings.Split(string(raw), "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, key) && strings.HasPrefix(strings.TrimSpace(t[len(key):]), "=") {
			return i + 1
		}
	}
	return 1
}

func (d *Dialect) compile(expr string) *xpath.Expr {
	// Expressions were checked when the dialect was loaded; compiling per use
	// keeps a Dialect safe to share, as a compiled xpath.Expr is not.
	e, err := xpath.CompileWithNS(expr, d.manifest.Namespaces)
	if err != nil {
		panic(fmt.Sprintf("dialect %s: XPath %q: %v", d.Name, expr, err))
	}
	return e
}

// UsesTimeout reports whether the begin header carries the timeout asked
// for; a dialect whose template ignores it cannot ask the server for one.
func (d *Dialect) UsesTimeout() bool {
	a, errA := d.Header(Begin, Values{Timeout: 0})
	b, errB := d.Header(Begin, Values{Timeout: 1})
	return errA == nil && errB == nil && !bytes.Equal(a, b)
}

// UsesPassword reports whether the dialect's templates put {{.Password}}
// into a request (a login operation in the body), so the password is needed
// even without HTTP auth.
func (d *Dialect) UsesPassword() bool {
	const probe = "soapsess-password-probe"
	v := Values{ID: "x", IDName: "SessionId", Password: probe, Vars: d.Vars()}
	for _, p := range Phases {
		if h, err := d.Header(p, v); err == nil && bytes.Contains(h, []byte(probe)) {
			return true
		}
		if src, ok := d.bodies[p]; ok {
			if out, err := d.RenderBody(string(p), src, v); err == nil && bytes.Contains(out, []byte(probe)) {
				return true
			}
		}
	}
	return false
}
