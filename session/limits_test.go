package session

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/internal/testdir"
)

// zeros is /dev/zero that counts what was read, and fails past stop bytes
// so that a reader with no limit fails the test instead of the machine.
type zeros struct {
	n, stop int64
}

var errReadOn = errors.New("read on past the limit")

func (z *zeros) Read(p []byte) (int, error) {
	if z.n >= z.stop {
		return 0, errReadOn
	}
	n := int(min(int64(len(p)), z.stop-z.n))
	clear(p[:n])
	z.n += int64(n)
	return n, nil
}

// A body over its limit is refused, naming it and the limit, having read
// one byte past the limit and no more; one at the limit is taken whole.
func TestBodyLimit(t *testing.T) {
	for _, max := range []int64{1, 1000, 64 << 10, 1<<20 + 1} {
		z := &zeros{stop: max + 4<<20}
		_, err := load(Body{R: z, Name: "standard input", Max: max})
		var tl *BodyTooLargeError
		var be *envelope.BodyError
		if !errors.As(err, &tl) || !errors.As(err, &be) || tl.Limit != max || tl.Name != "standard input" {
			t.Fatalf("Max %d: %v; want a BodyTooLargeError in a BodyError", max, err)
		}
		if z.n != max+1 {
			t.Errorf("Max %d: read %d bytes; want the limit and one more", max, z.n)
		}
		l, err := load(Body{R: io.LimitReader(&zeros{stop: max}, max), Max: max})
		if err != nil || int64(len(l.raw)) != max {
			t.Errorf("Max %d: a body of exactly the limit: %d bytes, %v", max, len(l.raw), err)
		}
	}
}

// With no Max, DefaultMaxBody holds: soapsess send /dev/zero used to read
// until the memory ran out.
func TestBodyLimitByDefault(t *testing.T) {
	z := &zeros{stop: DefaultMaxBody + 1<<20}
	_, err := load(Body{R: z, Name: "/dev/zero"})
	var tl *BodyTooLargeError
	if !errors.As(err, &tl) || tl.Limit != DefaultMaxBody {
		t.Fatalf("%v; want a BodyTooLargeError at DefaultMaxBody", err)
	}
	if z.n != DefaultMaxBody+1 {
		t.Errorf("read %d bytes; want %d", z.n, DefaultMaxBody+1)
	}
	if got, want := err.Error(), "body is not usable: /dev/zero is larger than 256 MiB, the limit on a request body"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
}

// A file larger than the limit is refused without being read; one within
// it is read whole, whatever the sizes of the pieces it is read in.
func TestBodyLimitOfAFile(t *testing.T) {
	dir := testdir.New(t)
	big := filepath.Join(dir, "big.xml")
	if err := os.WriteFile(big, make([]byte, 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tl *BodyTooLargeError
	if _, err := load(Body{R: f, Name: big, Max: 4999}); !errors.As(err, &tl) {
		t.Fatalf("%v; want a BodyTooLargeError", err)
	}
	if off, _ := f.Seek(0, io.SeekCurrent); off != 0 {
		t.Errorf("read %d bytes of a file known to be too large", off)
	}
	want := strings.Repeat("0123456789abcdef", 1<<16) // past several pieces
	l, err := load(Body{R: strings.NewReader(want), Max: int64(len(want))})
	if err != nil || string(l.raw) != want {
		t.Errorf("a 1 MiB body came back as %d bytes, %v", len(l.raw), err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{
		DefaultMaxBody: "256 MiB", 1 << 30: "1 GiB", 1536 << 10: "1536 KiB", 1000: "1000 bytes", 1: "1 byte", 3 << 40: "3 TiB",
	} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// A send whose body is over the limit sends nothing and counts nothing.
func TestSendRefusesABodyOverTheLimit(t *testing.T) {
	f := newFixture(t)
	s := f.begin()
	var posts atomic.Int64
	next := f.h.h.Load()
	f.h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		(*next).ServeHTTP(w, r)
	}))
	_, err := s.Send(context.Background(), Request{Body: Body{R: strings.NewReader(discover), Name: "q.xml", Max: int64(len(discover) - 1)}})
	var tl *BodyTooLargeError
	if !errors.As(err, &tl) || !strings.Contains(err.Error(), "q.xml is larger than ") {
		t.Fatalf("%v; want a BodyTooLargeError", err)
	}
	if posts.Load() != 0 || f.requests() != 1 {
		t.Errorf("%d requests posted, %d counted; want none beyond the begin", posts.Load(), f.requests())
	}
	if _, err := s.Send(context.Background(), Request{Body: Body{R: strings.NewReader(discover), Max: int64(len(discover))}}); err != nil {
		t.Errorf("a body at the limit: %v", err)
	}
}
