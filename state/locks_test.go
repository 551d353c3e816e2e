package state

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// lockFiles are the dot files in the store's directory.
func lockFiles(t *testing.T, s *Store) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(s.Dir, ".*"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range all {
		names = append(names, filepath.Base(p))
	}
	return names
}

func TestLockFilesGoWithTheirSessions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows cannot remove a file another process may hold open: lock files stay there")
	}
	s := newStore(t)

	// A session: its lock files stay while it has a record.
	release, err := s.Busy(context.Background(), "kept", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(sample("kept")); err != nil {
		t.Fatal(err)
	}
	release()
	if got, want := lockFiles(t, s), []string{".kept.busy", ".kept.lock"}; !slices.Equal(got, want) {
		t.Fatalf("lock files of a kept session: %q, want %q", got, want)
	}

	// A name whose begin failed: nothing is left.
	release, err = s.Busy(context.Background(), "failed", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("failed"); err == nil {
		t.Fatal("Get of a session never created succeeded")
	}
	release()
	if got, want := lockFiles(t, s), []string{".kept.busy", ".kept.lock"}; !slices.Equal(got, want) {
		t.Fatalf("after a failed begin: %q, want %q", got, want)
	}

	// Looking for a name with no session makes no lock file.
	s.Get("ghost")
	s.Delete("ghost", "")
	s.Update("ghost", func(*Session) error { return nil })
	s.MarkEnded("ghost", "ID", Ended)
	if got, want := lockFiles(t, s), []string{".kept.busy", ".kept.lock"}; !slices.Equal(got, want) {
		t.Fatalf("after looking for a session that is not there: %q, want %q", got, want)
	}

	// A record removed: its lock files go too.
	if ok, err := s.Delete("kept", ""); err != nil || !ok {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if got := lockFiles(t, s); len(got) != 0 {
		t.Fatalf("after Delete: %q left", got)
	}
}

// A waiter on a lock file that is removed under it must not end up holding
// a lock nobody else can see: it takes the new file, and the lock still
// excludes.
func TestRemovedLockIsNotHeld(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("lock files are not removed on Windows")
	}
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd to see the waiter open the old lock file")
	}
	s := newStore(t)
	if err := s.Create(sample("x")); err != nil {
		t.Fatal(err)
	}
	first, err := s.lock("x")
	if err != nil {
		t.Fatal(err)
	}
	type taken struct {
		current bool
		err     error
	}
	held := make(chan taken, 1)
	done := make(chan struct{})
	go func() {
		l, err := s.lock("x") // waits for first
		if err != nil {
			held <- taken{err: err}
			return
		}
		held <- taken{current: current(l)}
		<-done // hold it until the check below is done
		l.Unlock()
	}()
	defer close(done)
	// Wait until the waiter has the old file open (it may or may not have
	// reached flock yet: either way it must end up on the new file).
	deadline := time.Now().Add(10 * time.Second)
	for !openedTwice(filepath.Join(s.Dir, ".x.lock")) {
		if time.Now().After(deadline) {
			t.Fatal("the waiter never opened the lock file")
		}
		time.Sleep(time.Millisecond)
	}
	os.Remove(first.Path())
	first.Unlock()
	got := <-held
	if got.err != nil || !got.current {
		t.Fatalf("the waiter took %v, current %v: want the lock file now at the path", got.err, got.current)
	}
	probe, err := s.flock("x", ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := probe.TryLock(); err != nil || ok {
		t.Fatalf("a third taker got the lock the waiter holds: %v, %v", ok, err)
	}
}

// openedTwice reports whether two descriptors of this process have path
// open (Linux's /proc/self/fd).
func openedTwice(path string) bool {
	fds, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == path {
			n++
		}
	}
	return n >= 2
}
