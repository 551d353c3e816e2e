//go:build windows

package state

import "syscall"

// noFollow opens a symbolic link or junction itself, never its target:
// Windows has no O_NOFOLLOW, but os.OpenFile passes CreateFile's flags
// through. A link is refused before it is opened (see notLink); this
// covers one put in place in between.
const noFollow = syscall.FILE_FLAG_OPEN_REPARSE_POINT
