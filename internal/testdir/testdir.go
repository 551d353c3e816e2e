// Package testdir gives tests a temporary directory that is removed after
// them on every platform the tests run on, Wine included: Wine 8 cannot run
// os.RemoveAll (it lacks FileDispositionInformationEx, "Invalid function"),
// which t.TempDir's cleanup uses, while os.Remove works.
package testdir

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// New makes a temporary directory, removed when the test and its subtests
// end.
func New(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "soapsess-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.RemoveAll(dir) == nil {
			return
		}
		var paths []string
		filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			paths = append(paths, p)
			return nil
		})
		slices.Reverse(paths) // children before their directories
		for _, p := range paths {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Errorf("remove the test's temporary directory: %v", err)
				return
			}
		}
	})
	return dir
}
