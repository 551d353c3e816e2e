//go:build !windows

package state

import (
	"os"
)

func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &NotPrivateError{Path: path, Dir: fi.IsDir(), Mode: perm}
	}
	return nil
}

// makePrivate has nothing to do on Unix: the directory is made 0700.
func makePrivate(string) error { return nil }
