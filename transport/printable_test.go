package transport

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain ASCII, no change":    "plain ASCII, no change",
		"a\nsoapsess: ok":           `a\nsoapsess: ok`,
		"cr\rtab\tbell\aesc\x1b[2J": `cr\rtab\tbell\aesc\x1b[2J`,
		"nul\x00del\x7f":            `nul\x00del\x7f`,
		"csi\u009b31m nel\u0085":    `csi\u009b31m nel\u0085`,
		"not UTF-8 \x9b\xff":        `not UTF-8 \x9b\xff`,
		`C:\Users\ann é 会话`:         `C:\Users\ann é 会话`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// A header the server chose cannot write to the terminal raw through a
// trace or --print h.
func TestHeadEscapesControls(t *testing.T) {
	got := renderHead([]byte("HTTP/1.1 200 OK\x1b[2J\r\nX-Id: a\u009b31m\x1b]0;title\a\r\n\r\n"))
	want := "HTTP/1.1 200 OK\\x1b[2J\nX-Id: a\\u009b31m\\x1b]0;title\\a\n"
	if got != want {
		t.Errorf("renderHead = %q, want %q", got, want)
	}
}
