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
	s := newStore(t)
	if err := s.Create(sample("x")); err != nil {
		t.Fatal(err)
	}
	first, err := s.lock("x")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	held := make(chan struct{})
	go func() {
		l, err := s.lock("x") // waits for first
		if err == nil {
			if !current(l) {
				t.Error("the waiter holds a removed lock file")
			}
			close(held)
			<-got // hold it until the check below is done
			l.Unlock()
			return
		}
		got <- err
	}()
	// Wait until the waiter has the old file open and is blocked on it.
	deadline := time.Now().Add(10 * time.Second)
	for !openedByOther(t, s.Dir, ".x.lock") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	os.Remove(first.Path())
	first.Unlock()
	<-held
	probe, err := s.flock("x", ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := probe.TryLock(); err != nil || ok {
		t.Fatalf("a third taker got the lock the waiter holds: %v, %v", ok, err)
	}
	got <- nil
}

// openedByOther reports whether a second descriptor in this process has
// the file name open (Linux: /proc/self/fd; elsewhere, a moment's wait).
func openedByOther(t *testing.T, dir, name string) bool {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		time.Sleep(50 * time.Millisecond)
		return true
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == filepath.Join(dir, name) {
			n++
		}
	}
	return n >= 2
}
