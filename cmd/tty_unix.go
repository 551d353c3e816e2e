//go:build !windows

package cmd

import "os"

// openTerminal opens the controlling terminal, for reading and for writing,
// so that a prompt leaves stdin and stdout to pipes.
func openTerminal() (in, out *os.File, err error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	return tty, tty, nil
}
