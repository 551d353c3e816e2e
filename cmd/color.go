package cmd

import (
	"strings"

	"github.com/fatih/color"

	"github.com/soapsess/soapsess/printer"
)

// colorOn decides colour for one stream. The order: --color (or
// SOAPSESS_COLOR) always/never, then NO_COLOR, then FORCE_COLOR or
// CLICOLOR_FORCE, then TERM=dumb, then whether that stream is a terminal.
func colorOn(mode string, tty bool, getenv func(string) string) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if getenv("NO_COLOR") != "" {
		return false
	}
	if f := getenv("FORCE_COLOR"); f != "" && f != "0" && f != "false" {
		return true
	}
	if f := getenv("CLICOLOR_FORCE"); f != "" && f != "0" {
		return true
	}
	if getenv("TERM") == "dumb" {
		return false
	}
	return tty
}

// style returns the escape sequences fatih/color writes around text.
func style(attrs ...color.Attribute) printer.Style {
	c := color.New(attrs...)
	c.EnableColor()
	s := c.Sprint("\x00")
	i := strings.IndexByte(s, 0)
	return printer.Style{On: s[:i], Off: s[i+1:]}
}

// palette is the printer's colours: names blue, attributes cyan, values
// green, comments grey; session headers bold magenta, faults bold red. Text
// keeps the terminal's own colour, so data stays easy to read.
func palette(on bool) *printer.Palette {
	if !on {
		return nil
	}
	return &printer.Palette{
		Tag:     style(color.FgBlue),
		Attr:    style(color.FgCyan),
		Value:   style(color.FgGreen),
		Comment: style(color.FgHiBlack),
		Header:  style(color.FgMagenta, color.Bold),
		Fault:   style(color.FgRed, color.Bold),
	}
}

// msgStyles colours the prefixes of messages on stderr.
type msgStyles struct{ err, warn, hint printer.Style }

func messageStyles(on bool) msgStyles {
	if !on {
		return msgStyles{}
	}
	return msgStyles{err: style(color.FgRed, color.Bold), warn: style(color.FgYellow, color.Bold), hint: style(color.FgCyan)}
}
