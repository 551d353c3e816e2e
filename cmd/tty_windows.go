//go:build windows

package cmd

import "os"

// openTerminal opens the console, as age does: CONIN$ to read and CONOUT$
// to write, whatever stdin and stdout are.
func openTerminal() (in, out *os.File, err error) {
	in, err = os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	out, err = os.OpenFile("CONOUT$", os.O_WRONLY, 0)
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	return in, out, nil
}
