package cmd

import (
	"strings"
	"testing"

	"github.com/fatih/color"

	"github.com/soapsess/soapsess/printer"
)

func TestColorPrecedence(t *testing.T) {
	tests := []struct {
		mode string
		tty  bool
		env  map[string]string
		want bool
	}{
		{"auto", true, nil, true},
		{"auto", false, nil, false},
		{"always", false, map[string]string{"NO_COLOR": "1"}, true}, // the flag wins over everything
		{"never", true, map[string]string{"FORCE_COLOR": "1"}, false},
		{"auto", true, map[string]string{"NO_COLOR": "1"}, false},
		{"auto", true, map[string]string{"NO_COLOR": ""}, true}, // present but empty does not count
		{"auto", false, map[string]string{"NO_COLOR": "1", "FORCE_COLOR": "1"}, false},
		{"auto", false, map[string]string{"FORCE_COLOR": "1"}, true},
		{"auto", false, map[string]string{"FORCE_COLOR": "0"}, false},
		{"auto", false, map[string]string{"CLICOLOR_FORCE": "1"}, true},
		{"auto", false, map[string]string{"CLICOLOR_FORCE": "0"}, false},
		{"auto", true, map[string]string{"TERM": "dumb"}, false},
		{"auto", false, map[string]string{"TERM": "dumb", "FORCE_COLOR": "1"}, true},
		{"", true, nil, true},
	}
	for _, tt := range tests {
		get := func(k string) string { return tt.env[k] }
		if got := colorOn(tt.mode, tt.tty, get); got != tt.want {
			t.Errorf("colorOn(%q, tty=%v, %v) = %v, want %v", tt.mode, tt.tty, tt.env, got, tt.want)
		}
	}
}

// Colour is decided per stream: a terminal on stderr does not colour a pipe on stdout.
func TestColorPerStream(t *testing.T) {
	io := &IO{OutTTY: false, ErrTTY: true, Getenv: func(string) string { return "" }, ColorMode: "auto"}
	if colorOn(io.ColorMode, io.OutTTY, io.getenv) {
		t.Error("stdout on a pipe got colour")
	}
	if p := palette(colorOn(io.ColorMode, io.OutTTY, io.getenv)); p != nil {
		t.Error("stdout on a pipe got a palette")
	}
	if st := io.styles(); st.err.On == "" {
		t.Error("stderr on a terminal got no colour")
	}
	io.ErrTTY = false
	if st := io.styles(); st.err.On != "" {
		t.Error("stderr on a pipe got colour")
	}
}

// The styles are what fatih/color writes around text on a stream (Fprint),
// on or off by our precedence alone: fatih/color's global default, which
// looks at stdout, changes nothing.
func TestStylesFromFatihColor(t *testing.T) {
	saved := color.NoColor
	defer func() { color.NoColor = saved }()
	for _, global := range []bool{true, false} {
		color.NoColor = global
		if got, want := palette(true).Tag, (printer.Style{On: "\x1b[34m", Off: "\x1b[0m"}); got != want {
			t.Errorf("NoColor=%v: palette(true).Tag = %q, want %q", global, got, want)
		}
		if p := palette(false); p != nil {
			t.Errorf("NoColor=%v: palette(false) = %+v, want none", global, p)
		}
		st := messageStyles(true)
		if want := (printer.Style{On: "\x1b[31;1m", Off: "\x1b[0m"}); st.err != want {
			t.Errorf("NoColor=%v: error style %q, want %q", global, st.err, want)
		}
		var b strings.Builder
		c := color.New(color.FgYellow, color.Bold)
		c.EnableColor()
		c.Fprint(&b, "warning:")
		if got := st.warn.On + "warning:" + st.warn.Off; got != b.String() {
			t.Errorf("NoColor=%v: warning prefix %q, fatih/color writes %q", global, got, b.String())
		}
		if st := messageStyles(false); st != (msgStyles{}) {
			t.Errorf("NoColor=%v: messageStyles(false) = %q, want none", global, st)
		}
	}
}
