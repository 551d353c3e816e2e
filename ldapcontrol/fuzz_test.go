package ldapcontrol

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

// controlValues are paged results control values as DSML carries them:
// what Windows writes (four-byte long-form lengths), what soapsess and
// the reference server write, the abandon request, and odd ones servers
// have been seen to send (a zero-length cookie in long form, a size
// written in more bytes than it needs).
var controlValues = []string{
	"MIQAAAAFAgECBAA=",     // 30 84 00000005: size 2, no cookie (Windows, the last page)
	"MIQAAAAJAgIB9AQDAQID", // long form, a cookie
	"MAUCAQAEAA==",         // short form, nothing
	"MAYCAgH0BAA=",         // the first request: size 500 (cmd/testdata/paging.txtar)
	"MAsCAgPoBAV0b2tlbg==", // size 1000, cookie "token"
	"MAYCAQAEAcg=",         // abandon: size 0 and the last cookie
	"MIQAAAAHAgQAAAPoBAA=", // size 1000 in four bytes, long form
	"MIQAAAAGAgEABIEA",     // a cookie of long-form length 0
}

// FuzzPagedControlValue reads a fuzzed <controlValue> as send --all-pages
// reads each page's: it is a paged results control value, or an error
// wrapping ErrNotPaged, and never a panic. A value that reads is written
// back as soapsess writes them, in the short form, which reads as the same
// size and cookie and is written the same again.
func FuzzPagedControlValue(f *testing.F) {
	for _, s := range controlValues {
		f.Add(s)
	}
	for _, p := range []Paged{{Size: 1<<31 - 1}, {Size: 1, Cookie: bytes.Repeat([]byte{0xAB}, 200)}} {
		f.Add(p.Base64())
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := DecodePagedBase64(s)
		if err != nil {
			if !errors.Is(err, ErrNotPaged) {
				t.Fatalf("%q: %v; want ErrNotPaged", s, err)
			}
			return
		}
		if p.Size < 0 || p.Size > 1<<31-1 {
			t.Fatalf("%q: size %d", s, p.Size)
		}
		out := p.Base64()
		q, err := DecodePagedBase64(out)
		if err != nil || q.Size != p.Size || !bytes.Equal(q.Cookie, p.Cookie) {
			t.Fatalf("%q read as %+v, written as %s, which reads as %+v, %v", s, p, out, q, err)
		}
		if again := q.Base64(); again != out {
			t.Fatalf("%q: written as %s, then as %s", s, out, again)
		}
		raw, _ := base64.StdEncoding.DecodeString(s)
		if canonical(raw) && !bytes.Equal(p.Encode(), raw) {
			t.Fatalf("%x is written as Encode writes, but Encode writes %x", raw, p.Encode())
		}
	})
}

// canonical says a value is written as Encode writes one: a SEQUENCE, an
// INTEGER in its fewest bytes and an OCTET STRING, each with a short-form
// length.
func canonical(b []byte) bool {
	if len(b) < 7 || b[0] != 0x30 || int(b[1]) != len(b)-2 || b[2] != 0x02 {
		return false
	}
	n := int(b[3])
	if n == 0 || n > 4 || 4+n+2 > len(b) {
		return false
	}
	size := b[4 : 4+n]
	if n > 1 && (size[0] == 0 && size[1] < 0x80 || size[0] == 0xff && size[1] >= 0x80) {
		return false // more bytes than it needs
	}
	rest := b[4+n:]
	return rest[0] == 0x04 && int(rest[1]) == len(rest)-2
}
