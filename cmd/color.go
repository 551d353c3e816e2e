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

// colorFor is a fatih/color Color for one stream, on or off as colorOn
// decided for that stream. Enabling or disabling each Color keeps
// fatih/color's own global default (NoColor, which looks at NO_COLOR, TERM
// and stdout only) out of the decision.
func colorFor(on bool, attrs ...color.Attribute) *color.Color {
	c := color.New(attrs...)
	if on {
		c.EnableColor()
	} else {
		c.DisableColor()
	}
	return c
}

// style is what c writes before and after text (SetWriter, UnsetWriter):
// nothing when c is disabled.
func style(c *color.Color) printer.Style {
	var on, off strings.Builder
	c.SetWriter(&on)
	c.UnsetWriter(&off)
	return printer.Style{On: on.String(), Off: off.String()}
}

// palette is the printer's colours: names blue, attributes cyan, values
// green, comments grey; session headers bold magenta, faults bold red. Text
// keeps the terminal's own colour, so data stays easy to read. on is colorOn
// for the stream printed to; off, there is no palette at all.
func palette(on bool) *printer.Palette {
	if !on {
		return nil
	}
	return &printer.Palette{
		Tag:     style(colorFor(on, color.FgBlue)),
		Attr:    style(colorFor(on, color.FgCyan)),
		Value:   style(colorFor(on, color.FgGreen)),
		Comment: style(colorFor(on, color.FgHiBlack)),
		Header:  style(colorFor(on, color.FgMagenta, color.Bold)),
		Fault:   style(colorFor(on, color.FgRed, color.Bold)),
	}
}

// msgStyles colours the prefixes of messages on stderr.
type msgStyles struct{ err, warn, hint printer.Style }

// messageStyles are the message prefixes' colours; on is colorOn for stderr.
func messageStyles(on bool) msgStyles {
	return msgStyles{
		err:  style(colorFor(on, color.FgRed, color.Bold)),
		warn: style(colorFor(on, color.FgYellow, color.Bold)),
		hint: style(colorFor(on, color.FgCyan)),
	}
}
