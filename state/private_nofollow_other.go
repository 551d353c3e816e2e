//go:build !unix && !windows

package state

// noFollow is not known here (Plan 9 has no symbolic links; wasip1 and js
// have no file locks): notLink's check before opening is all there is.
const noFollow = 0
