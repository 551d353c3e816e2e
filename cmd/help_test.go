package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"
)

// help runs soapsess ARGS --help with $COLUMNS set to columns ("" unset)
// and returns stdout.
func help(t *testing.T, columns string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string {
		if k == "COLUMNS" {
			return columns
		}
		return ""
	}}
	if code := run(context.Background(), append(append([]string{"soapsess"}, args...), "--help"), io); code != 0 {
		t.Fatalf("%v --help: exit %d %s", args, code, errb.String())
	}
	return out.String()
}

// section is the lines of a help section (OPTIONS:, GLOBAL OPTIONS:), up
// to the next blank line.
func section(help, name string) []string {
	_, rest, ok := strings.Cut(help, "\n"+name+"\n")
	if !ok {
		return nil
	}
	body, _, _ := strings.Cut(rest, "\n\n")
	return strings.Split(strings.TrimRight(body, "\n"), "\n")
}

// begin, send and end --help fit the terminal: no line is wider than it
// (but for a single word longer than the whole line), and the flags' text
// starts in a column near the names, not past the middle of the screen.
func TestHelpFitsTheWidth(t *testing.T) {
	for _, width := range []int{120, 100, 80, 60} {
		for _, cmd := range [][]string{{"begin"}, {"send"}, {"end"}, {}} {
			name := "OPTIONS:"
			if len(cmd) == 0 {
				name = "GLOBAL OPTIONS:"
			}
			h := help(t, strconv.Itoa(width), cmd...)
			for _, l := range strings.Split(h, "\n") {
				if n := utf8.RuneCountInString(l); n > width && strings.Contains(strings.TrimSpace(l), " ") {
					t.Errorf("%v at %d columns: a line of %d:\n%s", cmd, width, n, l)
				}
			}
			opts := section(h, name)
			if len(opts) < 5 {
				t.Fatalf("%v at %d columns: no %s section:\n%s", cmd, width, name, h)
			}
			// Every flag's text starts in the same column, at most 40 in.
			col := -1
			for _, l := range opts {
				label, text, ok := strings.Cut(strings.TrimLeft(l, " "), "  ")
				if !strings.HasPrefix(label, "-") || !ok {
					continue // a continuation line, or a label on a line of its own
				}
				c := strings.Index(l, strings.TrimLeft(text, " "))
				if col == -1 {
					col = c
				}
				if c != col || c > 40 {
					t.Errorf("%v at %d columns: text in column %d (others: %d):\n%s", cmd, width, c, col, l)
				}
			}
			if col == -1 {
				t.Errorf("%v at %d columns: no flag with its text beside it:\n%s", cmd, width, strings.Join(opts, "\n"))
			}
		}
	}
}

// Flags are labelled short name first, the value's name once, and say
// nothing that says nothing.
func TestHelpFlagLabels(t *testing.T) {
	h := help(t, "100", "send")
	opts := strings.Join(section(h, "OPTIONS:"), "\n")
	for _, want := range []string{
		"\n   -H, --header 'Name: value'  ",
		"\n   -x, --xpath EXPR ",
		"\n   -k, --insecure ",
		"\n       --max-time SECONDS ",
		"\n       --action ACTION ", // no placeholder in its usage: the flag's name
		"(default: 256M)",
	} {
		if !strings.Contains("\n"+opts, want) {
			t.Errorf("send --help lacks %q:\n%s", want, opts)
		}
	}
	for _, unwanted := range []string{"[ --", "(default: false)", "(default: 0)", "value, -", "--print value"} {
		if strings.Contains(opts, unwanted) {
			t.Errorf("send --help has %q:\n%s", unwanted, opts)
		}
	}
	g := strings.Join(strings.Fields(strings.Join(section(help(t, "100"), "GLOBAL OPTIONS:"), " ")), " ")
	if !strings.Contains(g, "-s, --session SESSION") || !strings.Contains(g, `(default: "default") [$SOAPSESS_SESSION]`) {
		t.Errorf("--help: the global options:\n%s", g)
	}
}

// The width is $COLUMNS when stdout is not a terminal, 80 without it, and
// kept between 40 and 120.
func TestHelpWidth(t *testing.T) {
	for _, tt := range []struct {
		columns string
		want    int
	}{{"", 80}, {"100", 100}, {" 90 ", 90}, {"300", 120}, {"10", 40}, {"wide", 80}, {"-5", 80}} {
		a := &appCtx{io: &IO{Getenv: func(k string) string {
			if k == "COLUMNS" {
				return tt.columns
			}
			return ""
		}}}
		if got := a.width(&bytes.Buffer{}, true); got != tt.want {
			t.Errorf("COLUMNS=%q: width %d, want %d", tt.columns, got, tt.want)
		}
	}
}

// flagHelp's layout, exactly: two columns, long labels on a line of their
// own when they would push the text column too far, text wrapped.
func TestFlagHelpLayout(t *testing.T) {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "add a header, `'Name: value'`"},
		&cli.BoolFlag{Name: "dry-run", Usage: "send nothing"},
		&cli.StringFlag{Name: "a-rather-long-flag-name", Usage: "a `THING` to say with some words that wrap", Value: "x"},
		&cli.Float64Flag{Name: "max-time", Usage: "give up after `SECONDS`"},
	}
	got := flagHelp(flags, 50)
	// The longest label would leave the text less than 40 columns: the
	// column is a third of the width in (3+16+2), the text 29 wide, and
	// the labels longer than 16 get a line of their own.
	want := `
   -H, --header 'Name: value'
                     add a header, 'Name: value'
                     (repeatable)
       --dry-run     send nothing
       --a-rather-long-flag-name THING
                     a THING to say with some
                     words that wrap (default:
                     "x")
       --max-time SECONDS
                     give up after SECONDS`
	if got != want {
		t.Errorf("flagHelp at 50 columns:\n%s\nwant:\n%s", got, want)
	}
	// Wide enough: one line each, the text after the longest label.
	got = flagHelp(flags[1:2], 80)
	if want := "\n   --dry-run  send nothing"; got != want {
		t.Errorf("flagHelp of one flag: %q, want %q", got, want)
	}
}

// The descriptions' text: what fits stays as written (a table's columns,
// examples); a paragraph with a line too wide is filled anew; an indented
// line too wide is broken with its continuation indented further.
func TestWrapText(t *testing.T) {
	text := "First line of a\nparagraph that goes on.\n\n   /a       a table row\n   /bb      another row, a longer one\n\nShort."
	want80 := strings.ReplaceAll(strings.ReplaceAll(text, "\n", "\n   "), "\n   \n", "\n\n") // blank lines stay blank
	if got := wrapText(text, 3, 80); got != want80 {
		t.Errorf("at 80 columns, the text changed:\n%s", got)
	}
	got := wrapText(text, 3, 31) // 28 columns for the text
	want := `First line of a
   paragraph that goes on.

      /a       a table row
      /bb      another row, a
        longer one

   Short.`
	if got != want {
		t.Errorf("at 31 columns:\n%s\nwant:\n%s", got, want)
	}
	got = wrapText("A paragraph whose first line is rather long\nand a second.", 0, 20)
	if want := "A paragraph whose\nfirst line is rather\nlong and a second."; got != want {
		t.Errorf("a paragraph filled anew: %q, want %q", got, want)
	}
}

// TestWhichCommandsCatchSignals: the commands that talk to a server, write a
// session or write a file catch Ctrl-C, SIGTERM and SIGPIPE (Main's
// catchSignals); those that only read and print start no signal thread.
func TestWhichCommandsCatchSignals(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "doc.xml")
	if err := os.WriteFile(doc, []byte("<a><b/></a>"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args  []string
		catch bool
	}{
		{[]string{"status"}, false},
		{[]string{"ls"}, false},
		{[]string{"dialects"}, false},
		{[]string{"dialects", "show", "xmla"}, false},
		{[]string{"completion", "bash"}, false},
		{[]string{"--version"}, false},
		{[]string{"send", "--help"}, false},
		{[]string{"send", "--dry-run", doc}, true}, // no session: fails, after catching
		{[]string{"end", "--forget"}, true},
		{[]string{"fmt", doc}, true},
		{[]string{"dialects", "init", "--dir", filepath.Join(dir, "mine")}, true},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
		caught := 0
		io.signals = func(func() bool) { caught++ }
		args := append([]string{"soapsess", "--state-dir", filepath.Join(dir, "state")}, tt.args...)
		code := run(context.Background(), args, io)
		if got := caught > 0; got != tt.catch || caught > 1 {
			t.Errorf("%v (exit %d, %s): signals caught %d times, want %v", tt.args, code, strings.TrimSpace(errb.String()), caught, tt.catch)
		}
	}
}

// TestWindDown: the first signal cancels; with no pager the next is left
// to kill the process (windDown returns); while the pager runs, the ones
// that follow are taken and dropped, until it is gone.
func TestWindDown(t *testing.T) {
	within := func(what string, op func()) {
		t.Helper()
		done := make(chan struct{})
		go func() { op(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("windDown: stuck at %s", what)
		}
	}
	for _, pagerRounds := range []int{0, 2} {
		stop := make(chan os.Signal) // unbuffered: a send returns once windDown took it
		answers := make(chan bool)
		cancelled, returned := make(chan struct{}), make(chan struct{})
		go func() {
			windDown(stop, func() { close(cancelled) }, func() bool { return <-answers })
			close(returned)
		}()
		within("the first signal", func() { stop <- os.Interrupt })
		within("cancel", func() { <-cancelled })
		for i := 0; i < pagerRounds; i++ {
			within("asking whether the pager runs", func() { answers <- true })
			within("a signal while the pager runs", func() { stop <- os.Interrupt })
		}
		within("asking whether the pager runs", func() { answers <- false })
		within("returning", func() { <-returned })
	}
}
