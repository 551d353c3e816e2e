package cmd

import "testing"

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
	if st := io.styles(); st.err.On == "" {
		t.Error("stderr on a terminal got no colour")
	}
	io.ErrTTY = false
	if st := io.styles(); st.err.On != "" {
		t.Error("stderr on a pipe got colour")
	}
}
