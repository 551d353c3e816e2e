//go:build unix

package state

import "syscall"

// noFollow makes opening a symbolic link fail (ELOOP; EMLINK or EFTYPE on
// some BSDs) instead of opening, or creating, its target.
const noFollow = syscall.O_NOFOLLOW
