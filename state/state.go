// Package state keeps soapsess's open sessions between invocations: one JSON
// file per named session in a private directory, written atomically under a
// lock so that parallel commands on one session lose no update.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// Session is what is remembered about one open session. It never holds a
// password.
type Session struct {
	Name     string    `json:"name"`
	Dialect  string    `json:"dialect"`
	URL      string    `json:"url"`
	ID       string    `json:"session_id"`
	IDName   string    `json:"session_id_name,omitempty"` // attribute or element the server used for the ID
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
	Timeout  int       `json:"timeout,omitempty"` // seconds the server granted, when known
	User     string    `json:"user,omitempty"`
	Auth     string    `json:"auth,omitempty"` // HTTP auth method: basic, ntlm, negotiate, none
	// How to reach the server again: file paths and settings, never secrets.
	CACert   string            `json:"cacert,omitempty"`
	Cert     string            `json:"cert,omitempty"`
	Key      string            `json:"key,omitempty"`
	Insecure bool              `json:"insecure,omitempty"`
	Proxy    string            `json:"proxy,omitempty"`
	SPN      string            `json:"spn,omitempty"` // Kerberos service name, when not the URL's
	Vars     map[string]string `json:"vars,omitempty"`
	Requests int               `json:"requests"` // requests sent in the session, begin and end included
	// Cookies are those the server set, in the order received (see Cookie).
	// Their values are in this file and nowhere else.
	Cookies []Cookie `json:"cookies,omitempty"`
	// IdleTimeout is how many seconds of idleness the server is thought to
	// allow before it forgets the session (0: unknown), and IdleFrom where
	// that figure came from: "given" (by the user), "granted" (by the
	// server) or "dialect" (its servers' default); "unknown" with 0 when the
	// dialect was asked at begin and knows none (it is not asked again: a
	// later soapsess whose dialect knows one applies it to new sessions).
	IdleTimeout int    `json:"idle_timeout,omitempty"`
	IdleFrom    string `json:"idle_from,omitempty"`
	// Ended says the session is no longer open on the server: Ended when it
	// was ended, Rejected when the server no longer knew it. Its record
	// stays, with what a new begin needs, until it is begun again or
	// forgotten.
	Ended   string    `json:"ended,omitempty"`
	EndedAt time.Time `json:"ended_at,omitzero"`
	// Begin is how the session began; Journal the requests that built its
	// state on the server, in order. A new begin replays them.
	Begin   *Recipe   `json:"begin,omitempty"`
	Journal []Request `json:"journal,omitempty"`
}

// The ways a session stops being open (Session.Ended).
const (
	Ended    = "ended"
	Rejected = "rejected"
)

// Open reports whether the session is open on the server, as far as is
// known here.
func (s *Session) Open() bool { return s.Ended == "" }

// Recipe is what a session began with, bar the connection settings the
// Session keeps itself and any password.
type Recipe struct {
	Request
	Timeout int `json:"timeout,omitempty"` // seconds asked for; 0 for none
}

// Request is a request as given: its body (empty for the dialect's own),
// and the variables and captures that went with it.
type Request struct {
	Body     string            `json:"body,omitempty"`
	BodyName string            `json:"body_name,omitempty"` // for messages: a file name, "standard input"
	Template bool              `json:"template,omitempty"`
	Vars     map[string]string `json:"vars,omitempty"`
	Captures []Capture         `json:"captures,omitempty"`
	Added    time.Time         `json:"added,omitzero"`
}

// Capture is a capture given with a request: keep the first value XPath
// selects in the reply as variable Name; NS binds the XPath's prefixes.
type Capture struct {
	Name  string            `json:"name"`
	XPath string            `json:"xpath"`
	NS    map[string]string `json:"ns,omitempty"`
}

// Cookie is a cookie as a server set it: its Set-Cookie attributes, the
// URL of the request it answered and when it came. Replayed in order into
// a net/http/cookiejar.Jar they give back the session's cookies, with the
// jar's rules for domain, path, Secure and expiry.
type Cookie struct {
	URL      string    `json:"url"` // scheme, host and path: what a jar matches
	Received time.Time `json:"received"`
	Name     string    `json:"name"`
	Value    string    `json:"value"`
	Domain   string    `json:"domain,omitempty"` // the attribute; empty for a host-only cookie
	Path     string    `json:"path,omitempty"`   // the attribute; empty when not given
	Expires  time.Time `json:"expires,omitzero"`
	// MaxAge is as net/http has it: seconds from Received; 0 when not
	// given; below 0 for Max-Age=0 or less, which deletes the cookie.
	MaxAge   int    `json:"max_age,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
	HTTPOnly bool   `json:"http_only,omitempty"`
	SameSite string `json:"same_site,omitempty"` // lax, strict or none; empty when not given
}

// Expiry is when the cookie expires: Max-Age seconds after it was
// received, else its Expires (Max-Age wins, RFC 6265 5.3); zero for a
// cookie kept as long as the session. A cookie that deletes itself
// expired when received.
func (c Cookie) Expiry() time.Time {
	switch {
	case c.MaxAge < 0:
		return c.Received
	case c.MaxAge > 0:
		return c.Received.Add(time.Duration(c.MaxAge) * time.Second)
	}
	return c.Expires
}

// Expired reports whether the cookie has expired by now.
func (c Cookie) Expired(now time.Time) bool {
	e := c.Expiry()
	return !e.IsZero() && !e.After(now)
}

// Scope is where the cookie goes, as RFC 6265 (and net/http/cookiejar)
// says: the Domain attribute without its leading dot, else the host it
// came from (hostOnly); the Path attribute when it is an absolute path,
// else the directory of the request's path. A cookie set again with the
// same name and scope replaces the earlier one.
func (c Cookie) Scope() (domain string, hostOnly bool, path string) {
	u, err := url.Parse(c.URL)
	if err != nil {
		u = &url.URL{}
	}
	domain, hostOnly = strings.ToLower(strings.TrimPrefix(c.Domain, ".")), c.Domain == ""
	if hostOnly || domain == strings.ToLower(u.Hostname()) && net.ParseIP(u.Hostname()) != nil {
		domain, hostOnly = strings.ToLower(u.Hostname()), true
	}
	path = c.Path
	if path == "" || path[0] != '/' {
		path = defaultPath(u.Path)
	}
	return domain, hostOnly, path
}

// defaultPath is RFC 6265 5.1.4's default-path of a request path.
func defaultPath(p string) string {
	i := strings.LastIndex(p, "/")
	if p == "" || p[0] != '/' || i == 0 {
		return "/"
	}
	return p[:i]
}

// ErrNoSession is returned when no session is open under a name.
var ErrNoSession = errors.New("no active session")

// ErrExists is returned when a session is already open under a name.
var ErrExists = errors.New("a session is already open")

// ErrBusy is returned by Busy when its context ends before the session's
// other request does.
var ErrBusy = errors.New("the session is busy with another request")

// CorruptError says a state file cannot be read; the file is left as it is.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt: %v", e.Path, e.Err)
}
func (e *CorruptError) Unwrap() error { return e.Err }

// ErrBadName is returned for a session name that cannot be a file name.
var ErrBadName = errors.New("session names are letters, digits, '.', '_' and '-', starting with a letter, digit or '_'")

// CheckName reports whether name can name a session (and a file).
func CheckName(name string) error {
	ok := len(name) > 0 && len(name) <= 100
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
			i > 0 && (c == '.' || c == '-')
	}
	if !ok {
		return fmt.Errorf("session name %q: %w", name, ErrBadName)
	}
	return nil
}

// Store is a directory of session files.
type Store struct {
	Dir string
}

// Places are where a user's directories are, as the caller found them in
// the environment: this package reads none.
type Places struct {
	GOOS         string // runtime.GOOS
	XDGStateHome string // $XDG_STATE_HOME
	LocalAppData string // %LocalAppData%, on Windows
	Home         string // the home directory; "" when unknown
}

// DefaultDir is where sessions are kept when no directory is given. On
// Windows: %LocalAppData%\soapsess, else HOME\AppData\Local\soapsess. Elsewhere
// (Linux, macOS, the BSDs): $XDG_STATE_HOME/soapsess, else
// ~/.local/state/soapsess; a relative XDG_STATE_HOME is ignored, as the XDG
// Base Directory Specification asks.
func DefaultDir(p Places) (string, error) {
	if p.GOOS == "windows" {
		switch {
		case p.LocalAppData != "":
			return filepath.Join(p.LocalAppData, "soapsess"), nil
		case p.Home != "":
			return filepath.Join(p.Home, "AppData", "Local", "soapsess"), nil
		}
		return "", ErrNoHome
	}
	if p.XDGStateHome != "" && filepath.IsAbs(p.XDGStateHome) {
		return filepath.Join(p.XDGStateHome, "soapsess"), nil
	}
	if p.Home == "" {
		return "", ErrNoHome
	}
	return filepath.Join(p.Home, ".local", "state", "soapsess"), nil
}

// ErrNoHome is DefaultDir's error when neither the environment nor a home
// directory says where the user's files go.
var ErrNoHome = errors.New("find the state directory: no home directory")

// Open returns the store in dir, creating the directory if it does not
// exist: mode 0700 on Unix; on Windows an access list of its own that lets
// in only the user and SYSTEM. An existing directory that others can read
// is refused rather than changed (see CheckPrivate).
func Open(dir string) (*Store, error) {
	_, err := os.Stat(dir)
	created := errors.Is(err, fs.ErrNotExist)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("state directory %s is not a directory", dir)
	}
	if created {
		if err := makePrivate(dir); err != nil {
			return nil, fmt.Errorf("create state directory: %w", err)
		}
	}
	if err := checkPrivate(dir); err != nil {
		var np *NotPrivateError
		if errors.As(err, &np) {
			return nil, fmt.Errorf("state %w: others could read session IDs", err)
		}
		return nil, fmt.Errorf("state directory: %w", err)
	}
	return &Store{Dir: dir}, nil
}

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name+".json") }

// Path is the file a session is kept in.
func (s *Store) Path(name string) string { return s.path(name) }

// ErrLink is wrapped by the error for a lock file that is a symbolic link
// (or, on Windows, another reparse point): it is not followed, so that
// taking a lock never creates or opens a file elsewhere.
var ErrLink = errors.New("a symbolic link where a lock file should be (not followed)")

// lockFlag opens a lock file as gofrs/flock does (created if missing,
// read-only but where an exclusive lock needs writing), and without
// following a symbolic link in its place (see noFollow).
var lockFlag = func() int {
	switch runtime.GOOS {
	case "aix", "solaris", "illumos":
		return os.O_CREATE | os.O_RDWR | noFollow
	}
	return os.O_CREATE | os.O_RDONLY | noFollow
}()

// flock is the lock file ext (".lock", ".busy") of the session name, or
// an error wrapping ErrLink when a link stands in its place.
func (s *Store) flock(name, ext string) (*flock.Flock, error) {
	path := filepath.Join(s.Dir, "."+name+ext)
	if err := notLink(path); err != nil {
		return nil, fmt.Errorf("lock session %s: %w", name, err)
	}
	return flock.New(path, flock.SetPermissions(0o600), flock.SetFlag(lockFlag)), nil
}

// lockError words a failure to take the lock l of the session name: a
// link put in its place meanwhile (O_NOFOLLOW's ELOOP) as such.
func lockError(name string, l *flock.Flock, err error) error {
	if lerr := notLink(l.Path()); lerr != nil {
		err = lerr
	}
	return fmt.Errorf("lock session %s: %w", name, err)
}

// notLink refuses a path that is a symbolic link or another reparse point.
func notLink(path string) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&(fs.ModeSymlink|fs.ModeIrregular) != 0 {
		return fmt.Errorf("%s: %w", path, ErrLink)
	}
	return nil
}

// lock takes the exclusive lock of one session name, which writers hold
// while they read, replace or remove its file.
func (s *Store) lock(name string) (*flock.Flock, error) {
	return s.take(name, ".lock", (*flock.Flock).Lock)
}

// take opens the lock file ext of the session name and takes it with
// lockFn. Lock files go with their sessions (see removeLocks): one removed
// while this process waited for it is a lock nobody else will take, so it
// is let go and the one now at the path taken instead.
func (s *Store) take(name, ext string, lockFn func(*flock.Flock) error) (*flock.Flock, error) {
	for tries := 0; ; tries++ {
		l, err := s.flock(name, ext)
		if err != nil {
			return nil, err
		}
		if err := lockFn(l); err != nil {
			return nil, lockError(name, l, err)
		}
		if current(l) {
			return l, nil
		}
		l.Unlock()
		if tries == 100 { // never seen: a lock file replaced faster than it can be taken
			return nil, fmt.Errorf("lock session %s: %s keeps being replaced", name, l.Path())
		}
	}
}

// missing reports that the session name has no state file, so that looking
// for one (status on a name never used, say) makes no lock file: a name
// gets lock files only with a session, or while a request of it is on the
// wire. A file that appears just after is found by the next look.
func (s *Store) missing(name string) bool {
	_, err := os.Lstat(s.path(name))
	return errors.Is(err, fs.ErrNotExist)
}

// current reports whether the lock file l holds is still the one at its path.
func current(l *flock.Flock) bool {
	held, err := l.Stat()
	if err != nil {
		return false
	}
	now, err := os.Lstat(l.Path())
	return err == nil && os.SameFile(held, now)
}

// removeLocks removes the lock files of the session name, whose state file
// is gone, so that lock files go with their sessions: .lock, which the
// caller holds (l), and .busy when nobody holds it. Whoever was waiting on
// them finds them gone once it has them (take), and takes the new ones.
// Windows cannot remove a file another process has open, and does not try.
func (s *Store) removeLocks(name string, l *flock.Flock) {
	if runtime.GOOS == "windows" {
		return
	}
	if b, err := s.flock(name, ".busy"); err == nil {
		if ok, err := b.TryLock(); err == nil && ok {
			if current(b) {
				os.Remove(b.Path())
			}
			b.Unlock()
		}
	}
	if current(l) {
		os.Remove(l.Path())
	}
}

// Tidy removes the lock files of the session name when it has no state
// file: after a begin that failed, say (Busy's release calls it once it
// has let .busy go).
func (s *Store) Tidy(name string) {
	if CheckName(name) != nil {
		return
	}
	l, err := s.lock(name)
	if err != nil {
		return
	}
	defer l.Unlock()
	if s.missing(name) {
		s.removeLocks(name, l)
	}
}

// readLocked reads a session under the shared lock of its name. Readers
// must not hold a session file open while a writer renames over it or
// removes it: Windows refuses that ("Access denied").
func (s *Store) readLocked(name string) (*Session, error) {
	if s.missing(name) {
		return s.read(name) // ErrNoSession, and no lock file made for a name with no session
	}
	l, err := s.take(name, ".lock", (*flock.Flock).RLock)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	return s.read(name)
}

// Get reads the session open under name.
func (s *Store) Get(name string) (*Session, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	return s.readLocked(name)
}

func (s *Store) read(name string) (*Session, error) {
	p := s.path(name)
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w named %q", ErrNoSession, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	var sess Session
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&sess); err != nil {
		return nil, &CorruptError{p, err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &CorruptError{p, errors.New("more after the JSON object")}
	}
	if sess.ID == "" || sess.URL == "" || sess.Dialect == "" {
		return nil, &CorruptError{p, errors.New("session_id, url or dialect is missing")}
	}
	sess.Name = name
	return &sess, nil
}

// Create writes a new session; it fails with ErrExists if one is open under
// the same name, and with a CorruptError if a corrupt file is in the way.
func (s *Store) Create(sess *Session) error {
	if err := CheckName(sess.Name); err != nil {
		return err
	}
	l, err := s.lock(sess.Name)
	if err != nil {
		return err
	}
	defer l.Unlock()
	return s.create(sess)
}

// create writes a new session, over the record of one that ended.
func (s *Store) create(sess *Session) error {
	switch old, err := s.read(sess.Name); {
	case err == nil && old.Open():
		return fmt.Errorf("%w named %q (ID %s on %s)", ErrExists, sess.Name, old.ID, old.URL)
	case err == nil:
	case !errors.Is(err, ErrNoSession):
		return err
	}
	return s.write(sess, true)
}

// Update applies fn to the session under its lock and writes the result.
func (s *Store) Update(name string, fn func(*Session) error) (*Session, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if s.missing(name) {
		return nil, fmt.Errorf("%w named %q", ErrNoSession, name)
	}
	l, err := s.lock(name)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	sess, err := s.read(name)
	if err != nil {
		return nil, err
	}
	if err := fn(sess); err != nil {
		return nil, err
	}
	return sess, s.write(sess, false)
}

// MarkEnded records that the session under name, if its ID is id, is no
// longer open on the server (how is Ended or Rejected), as the server said
// in answer to a request, which is counted; its cookies go, the rest stays
// for a new begin. It reports whether the session was open.
func (s *Store) MarkEnded(name, id, how string) (bool, error) {
	marked := false
	_, err := s.Update(name, func(sess *Session) error {
		if sess.ID != id || !sess.Open() {
			return nil
		}
		now := time.Now().UTC().Truncate(time.Second)
		sess.Ended, sess.EndedAt, sess.Cookies = how, now, nil
		sess.Requests++ // the request the server answered with the news
		if now.After(sess.LastUsed) {
			sess.LastUsed = now
		}
		marked = true
		return nil
	})
	if errors.Is(err, ErrNoSession) {
		return false, nil
	}
	return marked, err
}

// Busy takes the session's call lock, held by whoever has a request of
// the session on the wire, so that its requests go one at a time. It waits
// for the one before; waiting, when not nil, is called once the wait has
// lasted a second. When ctx ends first, Busy returns an error wrapping
// ErrBusy and ctx's error. The lock is apart from the one that guards the
// file, so status and ls never wait for a call.
func (s *Store) Busy(ctx context.Context, name string, waiting func()) (release func(), err error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if waiting != nil {
		t := time.AfterFunc(time.Second, func() {
			if wctx.Err() == nil {
				waiting()
			}
		})
		defer t.Stop()
	}
	l, err := s.take(name, ".busy", func(l *flock.Flock) error {
		ok, err := l.TryLock()
		if err == nil && !ok {
			ok, err = l.TryLockContext(wctx, 10*time.Millisecond)
		}
		if !ok && ctx.Err() != nil {
			return &busyError{ctx.Err()}
		}
		return err
	})
	var be *busyError
	if errors.As(err, &be) {
		return nil, fmt.Errorf("%w (%s): %w", ErrBusy, name, be.err)
	}
	if err != nil {
		return nil, err
	}
	return func() {
		// A name whose session never came to be (a begin that failed)
		// keeps no lock files.
		if s.missing(name) && runtime.GOOS != "windows" {
			if current(l) {
				os.Remove(l.Path())
			}
			l.Unlock()
			s.Tidy(name)
			return
		}
		l.Unlock()
	}, nil
}

// busyError is Busy's wait cut short by its context.
type busyError struct{ err error }

func (e *busyError) Error() string { return e.err.Error() }

// Delete removes the session under name if its ID is id (any ID when id is
// empty), so a session begun again meanwhile is not dropped by mistake. It
// reports whether a file was removed.
func (s *Store) Delete(name, id string) (bool, error) {
	if err := CheckName(name); err != nil {
		return false, err
	}
	if s.missing(name) {
		return false, nil
	}
	l, err := s.lock(name)
	if err != nil {
		return false, err
	}
	defer l.Unlock()
	if id != "" {
		sess, err := s.read(name)
		if errors.Is(err, ErrNoSession) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if sess.ID != id {
			return false, nil
		}
	}
	err = os.Remove(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remove state: %w", err)
	}
	s.removeLocks(name, l)
	return true, nil
}

// List returns every session in the store, sorted by name. Files that cannot
// be read are reported in errs and skipped.
func (s *Store) List() (sessions []*Session, errs []error) {
	paths, err := filepath.Glob(filepath.Join(s.Dir, "*.json"))
	if err != nil {
		return nil, []error{err}
	}
	sort.Strings(paths)
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		if CheckName(name) != nil {
			continue
		}
		sess, err := s.readLocked(name)
		if err != nil {
			if !errors.Is(err, ErrNoSession) { // removed meanwhile
				errs = append(errs, err)
			}
			continue
		}
		sessions = append(sessions, sess)
	}
	return sessions, errs
}

// write replaces the session file atomically: a private temporary file in
// the same directory, then renamed over the old one. A new session is synced
// to disk first; an update (last use, request count) is not, as losing one
// after a crash costs nothing and a sync on every send costs time. Either
// way the old file stays whole until the rename. The temporary files a
// killed write left of this session go first (see sweep).
func (s *Store) write(sess *Session, sync bool) error {
	raw, err := json.MarshalIndent(sess, "", "  ")
	if err != nil {
		return err
	}
	s.sweep(sess.Name, time.Now())
	tmp, err := os.CreateTemp(s.Dir, "."+sess.Name+".*.tmp") // CreateTemp makes it 0600
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if _, err := tmp.Write(append(raw, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return fmt.Errorf("write state: %w", err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path(sess.Name)); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// staleTemp is the age past which a session's temporary file is litter: a
// write renames its own within milliseconds, so one this old was left by
// a process killed between writing and renaming it, with the session ID
// in it.
const staleTemp = time.Minute

// sweep removes the session's temporary files older than staleTemp, as
// write names them (".NAME.DIGITS.tmp", from os.CreateTemp): regular
// files only, so never what a symbolic link points to. It is best-effort:
// a file it cannot remove stays for the next write.
func (s *Store) sweep(name string, now time.Time) {
	prefix := "." + name + "."
	paths, _ := filepath.Glob(filepath.Join(s.Dir, prefix+"*.tmp")) // names hold no pattern characters (CheckName)
	for _, p := range paths {
		digits := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), prefix), ".tmp")
		if digits == "" || strings.Trim(digits, "0123456789") != "" { // another session's: .NAME.x.N.tmp
			continue
		}
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < staleTemp {
			continue
		}
		os.Remove(p)
	}
}

// CheckWritable reports, as an error, a store whose directory cannot be
// written: found before a server session is opened that could not be kept.
func (s *Store) CheckWritable() error {
	f, err := os.CreateTemp(s.Dir, ".probe.*.tmp")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}
