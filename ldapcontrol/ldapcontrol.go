// Package ldapcontrol encodes and decodes the LDAP controls a DSML session
// carries between requests: the simple paged results control (RFC 2696,
// OID 1.2.840.113556.1.4.319), whose cookie is valid only on the connection,
// so in the session, that issued it. BER comes from go-asn1-ber, the library
// go-ldap uses; DSML carries the value base64-encoded in <controlValue>.
package ldapcontrol

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// OIDs of the controls a DSML session exists for.
const (
	PagedResultsOID = "1.2.840.113556.1.4.319"  // RFC 2696
	VLVRequestOID   = "2.16.840.1.113730.3.4.9" // virtual list view (draft-ietf-ldapext-ldapv3-vlv)
)

// Paged is the value of a paged results control:
//
//	realSearchControlValue ::= SEQUENCE { size INTEGER (0..maxInt), cookie OCTET STRING }
//
// A request asks for Size entries and carries the cookie of the last page
// (empty for the first); a reply carries the estimated total in Size and
// the cookie for the next page, empty after the last. A request with Size 0
// and a cookie abandons the search (RFC 2696 §3).
type Paged struct {
	Size   int
	Cookie []byte
}

// Encode is the control value in BER.
func (p Paged) Encode() []byte {
	seq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "paged results")
	seq.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(p.Size), "size"))
	cookie := ber.Encode(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, nil, "cookie")
	cookie.Value = string(p.Cookie)
	cookie.Data.Write(p.Cookie)
	seq.AppendChild(cookie)
	return seq.Bytes()
}

// Base64 is the control value as DSML's <controlValue> carries it.
func (p Paged) Base64() string { return base64.StdEncoding.EncodeToString(p.Encode()) }

// ErrNotPaged is wrapped by the error for a value that is not a paged
// results control.
var ErrNotPaged = errors.New("not a paged results control value")

// DecodePaged reads a control value in BER, short or long form lengths
// (Windows writes 30 84 00 00 00 05 … for a five-byte sequence).
func DecodePaged(b []byte) (p Paged, err error) {
	pkt, rest, err := decode(b)
	if err != nil {
		return Paged{}, fmt.Errorf("%w: %v", ErrNotPaged, err)
	}
	if len(rest) > 0 {
		return Paged{}, fmt.Errorf("%w: %d bytes after it", ErrNotPaged, len(rest))
	}
	if pkt.ClassType != ber.ClassUniversal || pkt.TagType != ber.TypeConstructed || pkt.Tag != ber.TagSequence || len(pkt.Children) != 2 {
		return Paged{}, fmt.Errorf("%w: want a SEQUENCE of an INTEGER and an OCTET STRING", ErrNotPaged)
	}
	size, cookie := pkt.Children[0], pkt.Children[1]
	if size.ClassType != ber.ClassUniversal || size.Tag != ber.TagInteger || size.TagType != ber.TypePrimitive ||
		cookie.ClassType != ber.ClassUniversal || cookie.Tag != ber.TagOctetString || cookie.TagType != ber.TypePrimitive {
		return Paged{}, fmt.Errorf("%w: want a SEQUENCE of an INTEGER and an OCTET STRING", ErrNotPaged)
	}
	n, ok := size.Value.(int64)
	if !ok || n < 0 || n > 1<<31-1 {
		return Paged{}, fmt.Errorf("%w: size %v", ErrNotPaged, size.Value)
	}
	return Paged{Size: int(n), Cookie: cookie.Data.Bytes()}, nil
}

// DecodePagedBase64 reads a control value as DSML carries it.
func DecodePagedBase64(s string) (Paged, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return Paged{}, fmt.Errorf("%w: %v", ErrNotPaged, err)
	}
	return DecodePaged(b)
}

// decode reads one BER packet, turning a panic of the library on hostile
// input into an error.
func decode(b []byte) (pkt *ber.Packet, rest []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			pkt, rest, err = nil, nil, fmt.Errorf("%v", r)
		}
	}()
	r := bytes.NewReader(b)
	pkt, err = ber.ReadPacket(r)
	if err != nil {
		return nil, nil, err
	}
	return pkt, b[len(b)-r.Len():], nil
}
