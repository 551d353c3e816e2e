package state

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/soapsess/soapsess/internal/testdir"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(testdir.New(t), "state"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sample(name string) *Session {
	now := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	return &Session{Name: name, Dialect: "xmla", URL: "http://127.0.0.1:1/xmla", ID: "ABC", Created: now, LastUsed: now, Requests: 1}
}

func TestLifecycleAndPermissions(t *testing.T) {
	s := newStore(t)
	if _, err := s.Get("default"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Get on an empty store = %v", err)
	}
	if err := s.Create(sample("default")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(sample("default")); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	got, err := s.Get("default")
	if err != nil || got.ID != "ABC" || got.URL != "http://127.0.0.1:1/xmla" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if err := CheckPrivate(s.Dir); err != nil {
		t.Errorf("the state directory: %v", err)
	}
	if err := CheckPrivate(filepath.Join(s.Dir, "default.json")); err != nil {
		t.Errorf("the session file: %v", err)
	}
	if runtime.GOOS != "windows" { // Windows has access lists, not modes: see TestOutsider
		dir, _ := os.Stat(s.Dir)
		file, _ := os.Stat(filepath.Join(s.Dir, "default.json"))
		if dir.Mode().Perm() != 0o700 || file.Mode().Perm() != 0o600 {
			t.Errorf("modes: dir %o, file %o; want 700, 600", dir.Mode().Perm(), file.Mode().Perm())
		}
	}
	if ok, err := s.Delete("default", "OTHER"); ok || err != nil {
		t.Errorf("Delete with another ID = %v, %v; must keep the session", ok, err)
	}
	if ok, err := s.Delete("default", "ABC"); !ok || err != nil {
		t.Errorf("Delete = %v, %v", ok, err)
	}
	if _, err := s.Get("default"); !errors.Is(err, ErrNoSession) {
		t.Errorf("Get after Delete = %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(s.Dir, "*.tmp"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// Unix modes; on Windows the access list rule is TestOutsider's.
func TestOpenRefusesADirectoryOthersCanRead(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no modes to chmod; TestOutsider checks its access lists")
	}
	dir := testdir.New(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("Open accepted a 0755 directory")
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Error("Open changed the mode of a directory it refused")
	}
}

func TestCorruptFileIsNamedAndKept(t *testing.T) {
	s := newStore(t)
	p := filepath.Join(s.Dir, "default.json")
	garbage := []byte(`{"name": "default", "session_id": `)
	if err := os.WriteFile(p, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptError
	if _, err := s.Get("default"); !errors.As(err, &ce) || ce.Path != p {
		t.Fatalf("Get = %v, want a CorruptError naming %s", err, p)
	}
	if err := s.Create(sample("default")); !errors.As(err, &ce) {
		t.Errorf("Create over a corrupt file = %v", err)
	}
	if _, err := s.Update("default", func(*Session) error { return nil }); !errors.As(err, &ce) {
		t.Errorf("Update of a corrupt file = %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != string(garbage) {
		t.Errorf("the corrupt file was changed to %q", b)
	}
	list, errs := s.List()
	if len(list) != 0 || len(errs) != 1 {
		t.Errorf("List = %v, %v", list, errs)
	}
}

func TestParallelUpdatesLoseNothing(t *testing.T) {
	s := newStore(t)
	if err := s.Create(sample("p")); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A store of its own per goroutine, as separate processes have.
			other := &Store{Dir: s.Dir}
			if _, err := other.Update("p", func(x *Session) error { x.Requests++; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := s.Get("p")
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != n+1 {
		t.Errorf("Requests = %d after %d parallel updates, want %d", got.Requests, n, n+1)
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"default", "ad", "prod-1", "x.y", "_a"} {
		if CheckName(ok) != nil {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", ".", "..", ".hidden", "a/b", "../x", "a b", "é"} {
		if !errors.Is(CheckName(bad), ErrBadName) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	j := func(elem ...string) string { // an absolute path on the OS the test runs on
		p := filepath.Join(elem...)
		if runtime.GOOS == "windows" && strings.HasPrefix(elem[0], "/") {
			p = "C:" + p
		}
		return p
	}
	for _, tt := range []struct {
		p    Places
		want string
		err  error
	}{
		{Places{GOOS: "linux", XDGStateHome: j("/xdg", "state"), Home: j("/home", "ann")}, j("/xdg", "state", "soapsess"), nil},
		{Places{GOOS: "darwin", XDGStateHome: j("/xdg", "state")}, j("/xdg", "state", "soapsess"), nil},
		{Places{GOOS: "linux", Home: j("/home", "ann")}, j("/home", "ann", ".local", "state", "soapsess"), nil},
		{Places{GOOS: "darwin", Home: j("/Users", "ann")}, j("/Users", "ann", ".local", "state", "soapsess"), nil},
		{Places{GOOS: "linux", XDGStateHome: "relative", Home: j("/home", "ann")}, j("/home", "ann", ".local", "state", "soapsess"), nil}, // ignored, as XDG asks
		{Places{GOOS: "linux"}, "", ErrNoHome},
		{Places{GOOS: "linux", XDGStateHome: "relative"}, "", ErrNoHome},
		{Places{GOOS: "windows", LocalAppData: `C:\Users\ann\AppData\Local`, XDGStateHome: j("/xdg"), Home: `C:\Users\ann`}, j(`C:\Users\ann\AppData\Local`, "soapsess"), nil},
		{Places{GOOS: "windows", Home: `C:\Users\ann`}, j(`C:\Users\ann`, "AppData", "Local", "soapsess"), nil},
		{Places{GOOS: "windows", XDGStateHome: j("/xdg")}, "", ErrNoHome},
	} {
		d, err := DefaultDir(tt.p)
		if d != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("DefaultDir(%+v) = %q, %v; want %q, %v", tt.p, d, err, tt.want, tt.err)
		}
	}
}

// Readers (status, ls, completion) never break a writer: on Windows a
// rename over a file another handle holds open fails, so readers take the
// shared lock. Bounded: 200 updates against 4 readers of 200 reads each.
func TestReadersNeverBreakAWriter(t *testing.T) {
	st, err := Open(filepath.Join(testdir.New(t), "state"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := st.Create(&Session{Name: "s", Dialect: "xmla", URL: "http://h/", ID: "A", Created: now, LastUsed: now}); err != nil {
		t.Fatal(err)
	}
	const updates, reads = 200, 200
	errs := make(chan error, 8)
	var readers sync.WaitGroup
	for i := 0; i < 4; i++ {
		readers.Add(1)
		go func(list bool) {
			defer readers.Done()
			for range reads {
				var err error
				if list {
					_, es := st.List()
					if len(es) > 0 {
						err = es[0]
					}
				} else {
					_, err = st.Get("s")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(i%2 == 0)
	}
	var failed int
	for i := 0; i < updates; i++ {
		if _, err := st.Update("s", func(s *Session) error { s.Requests++; return nil }); err != nil {
			failed++
			if failed == 1 {
				t.Errorf("update %d: %v", i, err)
			}
		}
	}
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("reader: %v", err)
	}
	if s, err := st.Get("s"); err != nil || s.Requests != updates-failed || failed > 0 {
		t.Errorf("%d of %d updates failed; requests %v (%v)", failed, updates, s, err)
	}
}
