package state

import (
	"fmt"
	"io/fs"
)

// NotPrivateError says others may read a file or directory that must be
// the user's alone: the state directory (it holds session IDs) or a
// password file.
type NotPrivateError struct {
	Path string
	Dir  bool
	Mode fs.FileMode // Unix: the permission bits found
	Who  string      // Windows: an account the access list lets in
}

func (e *NotPrivateError) Error() string {
	what := "file"
	if e.Dir {
		what = "directory"
	}
	if e.Who != "" {
		return fmt.Sprintf("%s %s can be read by %s", what, e.Path, e.Who)
	}
	return fmt.Sprintf("%s %s has mode %04o", what, e.Path, e.Mode.Perm())
}

// CheckPrivate reports, as a *NotPrivateError, a file or directory others
// may read. On Unix that is any group or other permission bit; on Windows
// any access the access list grants to an account other than the user,
// SYSTEM and the Administrators.
func CheckPrivate(path string) error { return checkPrivate(path) }
