package ldapcontrol

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

// Values as servers write them: Windows uses four-byte long-form lengths.
func TestDecodePaged(t *testing.T) {
	for _, tt := range []struct {
		b64    string
		size   int
		cookie []byte
	}{
		{"MIQAAAAFAgECBAA=", 2, nil},                   // 30 84 00000005: size 2, no cookie (Windows, the last page)
		{"MAUCAQAEAA==", 0, nil},                       // short form
		{"MIQAAAAJAgIB9AQDAQID", 500, []byte{1, 2, 3}}, // long form with a cookie
		{"MAsCAgPoBAV0b2tlbg==", 1000, []byte("token")},
	} {
		p, err := DecodePagedBase64(tt.b64)
		if err != nil || p.Size != tt.size || !bytes.Equal(p.Cookie, tt.cookie) {
			t.Errorf("%s: %+v, %v; want size %d cookie %q", tt.b64, p, err, tt.size, tt.cookie)
		}
	}
}

func TestDecodePagedRefuses(t *testing.T) {
	for _, b64 := range []string{
		"", "AA==", "MAMCAQE=", // empty, a lone byte, a SEQUENCE of one INTEGER
		"MAYEAQECAQE=", // OCTET STRING then INTEGER
		"MAUCAf8EAA==", // size -1
		"MAUCAQAEAAAA", // trailing bytes
		"MIQAAAD/AgEC", // a length longer than the data
		"MAUCAQKEAA==", // a context-tagged [4] where the OCTET STRING goes
		"not base64!",
	} {
		if _, err := DecodePagedBase64(b64); !errors.Is(err, ErrNotPaged) {
			t.Errorf("%q: %v; want ErrNotPaged", b64, err)
		}
	}
}

func TestEncodePaged(t *testing.T) {
	// The request DSML clients send first: size 500, empty cookie.
	if got := (Paged{Size: 500}).Base64(); got != "MAYCAgH0BAA=" {
		t.Errorf("Paged{500}.Base64() = %s, want MAYCAgH0BAA=", got)
	}
	if got := base64.StdEncoding.EncodeToString(Paged{Size: 0, Cookie: []byte{0xC8}}.Encode()); got != "MAYCAQAEAcg=" {
		t.Errorf("abandon = %s, want MAYCAQAEAcg=", got)
	}
}

func FuzzPagedRoundTrip(f *testing.F) {
	f.Add(500, []byte{})
	f.Add(0, []byte{1, 2, 3})
	f.Add(1<<31-1, bytes.Repeat([]byte{0xff}, 300))
	f.Fuzz(func(t *testing.T, size int, cookie []byte) {
		if size < 0 || size > 1<<31-1 {
			return
		}
		p, err := DecodePaged(Paged{Size: size, Cookie: cookie}.Encode())
		if err != nil || p.Size != size || !bytes.Equal(p.Cookie, cookie) {
			t.Fatalf("round trip of %d %x: %+v, %v", size, cookie, p, err)
		}
	})
}

func FuzzDecodePaged(f *testing.F) {
	for _, s := range []string{"MIQAAAAFAgECBAA=", "MAUCAQAEAA==", "MIQAAAAJAgIB9AQDAQID"} {
		b, _ := base64.StdEncoding.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePaged(b) // never panics
		if err == nil {
			if q, err := DecodePaged(p.Encode()); err != nil || q.Size != p.Size || !bytes.Equal(q.Cookie, p.Cookie) {
				t.Fatalf("%x decoded to %+v, which does not round-trip: %+v %v", b, p, q, err)
			}
		}
	})
}
