package reply

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The text of a document as encoding/xml (under the XPath library's tree)
// reads it: the five predefined entities and character references
// replaced, line ends normalised to \n (a \r written as &#13; stays), and
// every character one XML allows. Text comes in pieces (the lexer cuts
// long runs), so the decoder carries an entity or a \r across them.

// textDecoder decodes one run of character data.
type textDecoder struct {
	pending []byte // an entity reference cut by the end of a piece
	cr      bool   // the last byte written was a \r turned into \n
	line    int
}

// decodeError is text encoding/xml would refuse.
type decodeError struct {
	line int
	msg  string
}

func (e *decodeError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// maxEntity bounds an entity reference held across pieces: longer ones
// are refused as encoding/xml refuses any it does not know.
const maxEntity = 64

// write appends the decoded raw to dst.
func (d *textDecoder) write(dst, raw []byte) ([]byte, error) {
	if len(d.pending) > 0 {
		i := bytes.IndexByte(raw, ';')
		if i < 0 && len(d.pending)+len(raw) < maxEntity {
			d.pending = append(d.pending, raw...)
			return dst, nil
		}
		if i < 0 {
			return dst, d.badEntity(append(d.pending, raw...))
		}
		d.pending = append(d.pending, raw[:i+1]...)
		var err error
		if dst, err = d.entity(dst, d.pending); err != nil {
			return dst, err
		}
		d.pending = d.pending[:0]
		raw = raw[i+1:]
	}
	for len(raw) > 0 {
		i := bytes.IndexAny(raw, "&\r\n")
		if i < 0 {
			dst = append(dst, raw...)
			d.cr = false
			break
		}
		if i > 0 {
			dst = append(dst, raw[:i]...)
			d.cr = false
		}
		switch raw[i] {
		case '\r':
			dst = append(dst, '\n')
			d.cr = true
			raw = raw[i+1:]
		case '\n':
			if !d.cr {
				dst = append(dst, '\n')
			}
			d.cr = false
			raw = raw[i+1:]
		case '&':
			d.cr = false
			j := bytes.IndexByte(raw[i:], ';')
			if j < 0 {
				if len(raw)-i >= maxEntity {
					return dst, d.badEntity(raw[i:])
				}
				d.pending = append(d.pending[:0], raw[i:]...)
				return dst, nil
			}
			var err error
			if dst, err = d.entity(dst, raw[i:i+j+1]); err != nil {
				return dst, err
			}
			raw = raw[i+j+1:]
		}
	}
	return dst, nil
}

// close ends the run: an entity still open is an error.
func (d *textDecoder) close() error {
	if len(d.pending) > 0 {
		err := d.badEntity(d.pending)
		d.pending = d.pending[:0]
		return err
	}
	d.cr = false
	return nil
}

// entity decodes ref, "&...;".
func (d *textDecoder) entity(dst, ref []byte) ([]byte, error) {
	name := ref[1 : len(ref)-1]
	switch string(name) {
	case "lt":
		return append(dst, '<'), nil
	case "gt":
		return append(dst, '>'), nil
	case "amp":
		return append(dst, '&'), nil
	case "apos":
		return append(dst, '\''), nil
	case "quot":
		return append(dst, '"'), nil
	}
	if len(name) < 2 || name[0] != '#' {
		return dst, d.badEntity(ref)
	}
	digits, base := name[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 {
		return dst, d.badEntity(ref)
	}
	for _, c := range digits {
		if !('0' <= c && c <= '9' || base == 16 && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')) {
			return dst, d.badEntity(ref)
		}
	}
	n, err := strconv.ParseUint(string(digits), base, 64)
	if err != nil || n > utf8.MaxRune {
		return dst, d.badEntity(ref)
	}
	return utf8.AppendRune(dst, rune(n)), nil
}

func (d *textDecoder) badEntity(ref []byte) error {
	if len(ref) > maxEntity {
		ref = append(ref[:maxEntity:maxEntity], "..."...)
	}
	return &decodeError{line: d.line, msg: "invalid character entity " + string(ref)}
}

// checkChars refuses what encoding/xml refuses in decoded text: bytes that
// are not UTF-8 and characters XML does not allow.
func checkChars(b []byte, line int) error {
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			if c := b[0]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return &decodeError{line: line, msg: fmt.Sprintf("illegal character code %U", rune(c))}
			}
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			return &decodeError{line: line, msg: "invalid UTF-8"}
		}
		if !(r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return &decodeError{line: line, msg: fmt.Sprintf("illegal character code %U", r)}
		}
		b = b[size:]
	}
	return nil
}

// decodeAttr decodes an attribute value as written, quotes removed.
func decodeAttr(raw []byte, line int) (string, error) {
	if bytes.IndexByte(raw, '&') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return string(raw), checkChars(raw, line)
	}
	d := textDecoder{line: line}
	out, err := d.write(nil, raw)
	if err == nil {
		err = d.close()
	}
	if err == nil {
		err = checkChars(out, line)
	}
	return string(out), err
}
