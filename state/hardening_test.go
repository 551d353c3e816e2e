package state

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/soapsess/soapsess/internal/testdir"
)

// A write of a session removes the temporary files a killed write left of
// it (older than a minute), and nothing else: not a fresh one, not another
// session's, not a name os.CreateTemp does not make, never a link's target.
func TestWriteSweepsStaleTempFiles(t *testing.T) {
	s := newStore(t)
	if err := s.Create(sample("s")); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Minute)
	outside := filepath.Join(testdir.New(t), "target.tmp")
	file := func(name string, age time.Time) string {
		p := filepath.Join(s.Dir, name)
		if err := os.WriteFile(p, []byte(`{"session_id": "ABC"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, age, age); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := file(".s.3141592653.tmp", old)
	kept := []string{
		file(".s.2718281828.tmp", time.Now()), // a write under way
		file(".s.b.1234567890.tmp", old),      // session s.b's
		file(".s.probe.tmp", old),             // not a name CreateTemp makes
		file(".s.tmp", old),                   // nor this
		file(".t.1234567890.tmp", old),        // another session's
		file("s.json.3141592653.tmp", old),    // nor this
		outside,
	}
	if err := os.WriteFile(outside, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(outside, old, old); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(s.Dir, ".s.1111111111.tmp")
	if runtime.GOOS == "windows" {
		// Wine's symbolic links are not Windows's (the Windows tests run
		// under Wine): that case is tried on Unix only.
	} else if err := os.Symlink(outside, link); err == nil {
		kept = append(kept, link) // a link is not ours to remove
	} else {
		t.Logf("no symbolic link (%v): that case is not tried", err)
	}

	if _, err := s.Update("s", func(sess *Session) error { sess.Requests++; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is still there (%v)", stale, err)
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
		t.Errorf("the link's target: %q, %v", b, err)
	}
}

// A symbolic link in the place of a lock file is refused, with an error
// that says so, and what it points to is never created.
func TestLockFileLinkNotFollowed(t *testing.T) {
	for _, ext := range []string{".lock", ".busy"} {
		s := newStore(t)
		if err := s.Create(sample("s")); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(testdir.New(t), "created-by-the-lock")
		p := filepath.Join(s.Dir, ".s"+ext)
		os.Remove(p)
		if runtime.GOOS == "windows" {
			t.Skip("Wine's symbolic links are not Windows's (the Windows tests run under Wine): tried on Unix only")
		}
		if err := os.Symlink(target, p); err != nil {
			t.Skipf("no symbolic links here: %v", err) // Windows without the privilege
		}
		calls := map[string]func() error{}
		if ext == ".busy" {
			calls["Busy"] = func() error {
				release, err := s.Busy(context.Background(), "s", nil)
				if err == nil {
					release()
				}
				return err
			}
		} else {
			calls["Get"] = func() error { _, err := s.Get("s"); return err }
			calls["Update"] = func() error { _, err := s.Update("s", func(*Session) error { return nil }); return err }
			calls["Create"] = func() error { return s.Create(sample("s")) }
			calls["Delete"] = func() error { _, err := s.Delete("s", ""); return err }
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, ErrLink) {
				t.Errorf("%s with %s a link: %v, want ErrLink", name, ext, err)
			}
			if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s with %s a link created its target (%v)", name, ext, err)
			}
		}
		if _, err := s.Get("s"); ext == ".busy" && err != nil {
			t.Errorf("Get with only .busy a link: %v", err)
		}
	}
}

// A link put in place after the check is not followed either: the lock
// file is opened with O_NOFOLLOW (on Windows, the link itself is opened).
func TestLockFileOpenedWithoutFollowing(t *testing.T) {
	s := newStore(t)
	target := filepath.Join(testdir.New(t), "created-by-the-lock")
	p := filepath.Join(s.Dir, ".s.lock")
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	l := flock.New(p, flock.SetFlag(lockFlag))
	err := l.Lock()
	if err == nil {
		l.Unlock()
	}
	if _, serr := os.Lstat(target); !errors.Is(serr, fs.ErrNotExist) {
		t.Fatalf("locking through the link created its target (%v)", serr)
	}
	if runtime.GOOS != "windows" {
		if err := lockError("s", l, err); !errors.Is(err, ErrLink) {
			t.Errorf("lock error %v, want ErrLink", err)
		}
	}
}
