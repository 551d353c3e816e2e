package cmd

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// IO is where a command reads and writes, built once and handed to every
// command; tests build one over buffers.
type IO struct {
	In     io.Reader
	Out    io.Writer // data: reply bodies, status
	Err    io.Writer // messages: errors, hints, warnings
	InTTY  bool
	ErrTTY bool
	// Trace, when set, receives every HTTP exchange as it goes over the wire.
	Trace io.Writer
}

// SystemIO is the process's standard streams.
func SystemIO() *IO {
	return &IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		InTTY:  isTerminal(os.Stdin),
		ErrTTY: isTerminal(os.Stderr),
	}
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}
