package cmd

import (
	"io"
	"os"
	"runtime"

	"github.com/mattn/go-colorable"
	"github.com/mattn/go-isatty"
)

// IO is where a command reads and writes, built once and handed to every
// command; tests build one over buffers.
type IO struct {
	In     io.Reader
	Out    io.Writer // data: reply bodies, status
	Err    io.Writer // messages: errors, hints, warnings
	InTTY  bool
	OutTTY bool
	ErrTTY bool
	// Getenv reads the environment; nil means os.Getenv. Every variable
	// soapsess reads goes through it; when it is set, a variable it returns
	// empty counts as unset.
	Getenv func(string) string
	// ColorMode is --color for stderr: auto, always or never; set by the app.
	ColorMode string
	// Trace, when set, receives every HTTP exchange as it goes over the wire.
	Trace io.Writer
	// signals, set by Main, makes the command catch signals, once (see
	// catchSignals and catchFor); pagerAlive says whether the pager runs.
	signals func(pagerAlive func() bool)
}

// SystemIO is the process's standard streams.
func SystemIO() *IO {
	return &IO{
		// On a Windows console both streams get colour escapes translated
		// or enabled (go-colorable); elsewhere they are the files as they are.
		In: os.Stdin, Out: colorable.NewColorableStdout(), Err: colorable.NewColorableStderr(),
		InTTY:  isTerminal(os.Stdin),
		OutTTY: isTerminal(os.Stdout),
		ErrTTY: isTerminal(os.Stderr),
	}
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

func (io *IO) getenv(k string) string {
	if io.Getenv != nil {
		return io.Getenv(k)
	}
	return os.Getenv(k)
}

// lookupEnv is getenv that also tells a variable set but empty (PAGER=)
// from an unset one; through an injected Getenv, empty means unset.
func (io *IO) lookupEnv(k string) (string, bool) {
	if io.Getenv != nil {
		v := io.Getenv(k)
		return v, v != ""
	}
	return os.LookupEnv(k)
}

// homeDir is the home directory as os.UserHomeDir finds it, read through
// getenv; "" when it is not set.
func (io *IO) homeDir() string {
	switch runtime.GOOS {
	case "windows":
		return io.getenv("USERPROFILE")
	case "plan9":
		return io.getenv("home")
	}
	return io.getenv("HOME")
}

// styles colours message prefixes on stderr when colour is on for it.
func (io *IO) styles() msgStyles {
	return messageStyles(colorOn(io.ColorMode, io.ErrTTY, io.getenv))
}
