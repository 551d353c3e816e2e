package cmd

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soapsess/soapsess/session"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1": 1, "512": 512, "512b": 512, "64K": 64 << 10, "64k": 64 << 10, "64KiB": 64 << 10, "256M": 256 << 20,
		"256 MiB": 256 << 20, "1G": 1 << 30, "1gib": 1 << 30, "8G": 8 << 30, "9223372036854775807": 1<<63 - 1,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5G", "64KB", "1T", "M", "12 apples", "9223372036854775808", "9999999999G"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d; want an error", in, got)
		}
	}
	if got, _ := parseSize(defaultMaxBody); got != session.DefaultMaxBody {
		t.Errorf("the documented default %s is %d bytes, not session.DefaultMaxBody", defaultMaxBody, got)
	}
}

// endless is /dev/zero that counts what was read, and fails well past the
// default limit so that a reader without one fails the test, not the machine.
type endless struct{ n int64 }

var errEndless = errors.New("read on past the limit")

func (e *endless) Read(p []byte) (int, error) {
	if e.n > session.DefaultMaxBody+64<<20 {
		return 0, errEndless
	}
	clear(p)
	e.n += int64(len(p))
	return len(p), nil
}

// soapsess begin - with /dev/zero on stdin stops one byte past the default
// limit and refuses, naming the limit and the flag, before anything is
// sent (the URL is dead: had it been tried, the exit status would be 4).
// It used to read until the memory ran out.
func TestBodyOverTheDefaultLimit(t *testing.T) {
	in := &endless{}
	var out, errs bytes.Buffer
	dir := filepath.Join(t.TempDir(), "state")
	code := run(context.Background(), []string{"soapsess", "--state-dir", dir, "begin", "--url", deadURL(t), "--dialect", "xmla", "-"},
		&IO{In: in, Out: &out, Err: &errs})
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d\n%s", code, ExitUsage, errs.String())
	}
	for _, want := range []string{
		"soapsess: error: body is not usable: standard input is larger than 256 MiB, the limit on a request body (--max-body)\n",
		"soapsess: hint: give a larger --max-body SIZE",
	} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs.String())
		}
	}
	if in.n != session.DefaultMaxBody+1 {
		t.Errorf("read %d bytes of standard input; want the limit and one more, %d", in.n, session.DefaultMaxBody+1)
	}
}
