// Package xmltok is a fast, faithful XML tokenizer: it splits a stream into
// tags, text, comments, CDATA sections, processing instructions and
// declarations, and hands back each token's exact bytes, so a caller can copy,
// colour or re-indent a document without changing a prefix, a quote or an
// entity reference. It reads in constant memory whatever the document size:
// long text comes in pieces, and only a single tag, comment or CDATA section
// must fit in memory (up to MaxToken bytes).
//
// It checks what a streaming formatter needs (tokens are complete, names and
// attributes are well-formed); matching start and end tags is the caller's
// job (see Nesting).
package xmltok

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Kind is the kind of a token.
type Kind uint8

// Token kinds.
const (
	Text      Kind = iota // character data, entity references included as written
	StartTag              // <a ...>
	EmptyTag              // <a .../>
	EndTag                // </a>
	Comment               // <!-- ... -->
	CData                 // <![CDATA[ ... ]]>
	PI                    // <?target ...?>, the XML declaration included
	Directive             // <!DOCTYPE ...> and other <!...> declarations
)

var kindNames = [...]string{"text", "start tag", "empty-element tag", "end tag", "comment", "CDATA section", "processing instruction", "declaration"}

func (k Kind) String() string { return kindNames[k] }

// Token is one token. Raw and Name point into the lexer's buffer and are
// valid only until the next call to Next.
type Token struct {
	Kind Kind
	// ElementOnly, on a start tag, says that the lexer has already read the
	// element's end tag, and in between only child elements, comments,
	// processing instructions and white space, at least one of them not
	// white space: content a formatter may indent, known before it comes
	// (printer.Printer then need not hold it). Lexer never looks ahead and
	// leaves it false; AsyncLexer sets it for an element within one batch.
	ElementOnly bool
	Raw         []byte // the exact bytes of the token
	Name        []byte // qualified name of a tag, or target of a PI; nil otherwise
	Line        int    // line on which the token starts
}

// SyntaxError is a well-formedness error with its line.
type SyntaxError struct {
	Line int
	Msg  string
	Err  error // ErrIncomplete, for a document that ends inside a token; else nil
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }
func (e *SyntaxError) Unwrap() error { return e.Err }

// ErrIncomplete is wrapped by the error of a document whose input ends
// before the document does: inside a token here, with elements still open
// for a reader that matches them (reply.Stream). Where the input's end is
// not known to be the document's own (a connection that may have closed
// early), it is a cut rather than a malformed document. A read error that
// stops the input is returned as it is instead.
var ErrIncomplete = errors.New("the document is incomplete")

// Lexer reads tokens from a stream.
type Lexer struct {
	r        io.Reader
	buf      []byte
	pos, end int
	eof      bool
	rerr     error
	line     int
	base     int64 // input offset of buf[0]
	// handoff, when set, is called instead of moving the unread bytes to
	// the start of a full buffer, where tokens already handed out may still
	// lie (AsyncLexer): it returns a buffer that starts with them, or nil
	// to stop.
	handoff func(rest []byte) []byte
	// MaxToken bounds the size of a single tag, comment, CDATA section, PI or
	// declaration. Text is never bounded: it is returned in pieces.
	MaxToken int
}

const (
	bufSize     = 64 << 10
	defaultMax  = 64 << 20
	maxTextLump = 32 << 10
)

// NewLexer returns a lexer reading r.
func NewLexer(r io.Reader) *Lexer {
	return &Lexer{r: r, buf: make([]byte, bufSize), line: 1, MaxToken: defaultMax}
}

// NewBytesLexer returns a lexer over a document already in memory; tokens
// point into b.
func NewBytesLexer(b []byte) *Lexer {
	return &Lexer{buf: b, end: len(b), eof: true, line: 1, MaxToken: defaultMax}
}

// fill reads more input, keeping buf[pos:end]. It reports whether it read
// anything.
func (l *Lexer) fill() bool {
	if l.eof {
		return false
	}
	switch {
	case l.pos == 0:
	case l.handoff != nil:
		if l.end < len(l.buf) {
			break // room left: read on, the tokens handed out stay put
		}
		buf := l.handoff(l.buf[l.pos:l.end])
		if buf == nil {
			l.eof, l.rerr = true, errClosed
			return false
		}
		l.base += int64(l.pos)
		l.buf, l.pos, l.end = buf, 0, l.end-l.pos
	default:
		n := copy(l.buf, l.buf[l.pos:l.end])
		l.base += int64(l.pos)
		l.pos, l.end = 0, n
	}
	if l.end == len(l.buf) {
		if len(l.buf) >= l.MaxToken {
			return false
		}
		grown := make([]byte, 2*len(l.buf))
		copy(grown, l.buf[:l.end])
		l.buf = grown
	}
	for {
		n, err := l.r.Read(l.buf[l.end:])
		l.end += n
		if err != nil {
			l.eof = true
			if err != io.EOF {
				l.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// Next returns the next token, or io.EOF at the end of the input.
func (l *Lexer) Next() (t Token, err error) {
	err = l.lex(&t)
	return t, err
}

// NextInto is Next filling t in place, for a caller that keeps the current
// token in a Token of its own (a struct field, say): assigning Next's
// result to one copies it, and the copy stalls (see lex). After an error t
// is left as it was.
func (l *Lexer) NextInto(t *Token) error { return l.lex(t) }

// lex reads the next token into t. Tokens are filled in place, field by
// field, here and below, never built aside (Token{...}) and copied: a Token
// is too large to live in registers, and each copy of one just written
// stalls (its fields are stored one by one, then loaded 16 bytes at a
// time), at a cost that shows over millions of tokens.
func (l *Lexer) lex(t *Token) error {
	// Most tokens are text, or a tag that is only a name, lying whole in the
	// buffer: they are read here, in one pass; the rest by next.
	b := l.buf[l.pos:l.end]
	if len(b) < 2 {
		return l.next(t)
	}
	if b[0] != '<' {
		i := bytes.IndexByte(b, '<')
		if i < 0 {
			return l.next(t)
		}
		t.Kind, t.ElementOnly, t.Raw, t.Name, t.Line = Text, false, b[:i], nil, l.line
		l.line += bytes.Count(t.Raw, nl)
		l.pos += i
		return nil
	}
	k, skip := StartTag, 1
	switch b[1] {
	case '/':
		k, skip = EndTag, 2
	case '!', '?':
		return l.next(t)
	}
	// The name, then '>' or "/>": nothing in it can be a quote or a newline.
	i := skip
	if i == len(b) || !isNameStart(b[i]) {
		return l.next(t)
	}
	for i++; i < len(b) && isNameByte(b[i]); i++ {
	}
	name := b[skip:i]
	switch {
	case i == len(b):
		return l.next(t)
	case b[i] == '>':
	case b[i] == '/' && k == StartTag && i+1 < len(b) && b[i+1] == '>':
		k, i = EmptyTag, i+1
	default:
		return l.next(t)
	}
	l.pos += i + 1
	t.Kind, t.ElementOnly, t.Raw, t.Name, t.Line = k, false, b[:i+1], name, l.line
	return nil
}

// next reads any token, refilling the buffer as needed.
func (l *Lexer) next(t *Token) error {
	if l.pos == l.end && !l.fill() {
		if l.rerr != nil {
			return l.rerr
		}
		return io.EOF
	}
	if l.buf[l.pos] != '<' {
		return l.text(t)
	}
	for l.end-l.pos < 2 {
		if !l.fill() {
			return l.ended(l.line, "the document ends inside a tag")
		}
	}
	switch l.buf[l.pos+1] {
	case '/':
		return l.tag(t, EndTag, 2)
	case '?':
		return l.delimited(t, PI, 2, "?>")
	case '!':
		for l.end-l.pos < 9 && l.fill() {
		}
		rest := l.buf[l.pos:l.end]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			return l.delimited(t, Comment, 4, "-->")
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			return l.delimited(t, CData, 9, "]]>")
		}
		return l.directive(t)
	}
	return l.tag(t, StartTag, 1)
}

// emit makes the next n bytes the token t. It returns nil, so that a
// function reading a token can end with return l.emit(...).
func (l *Lexer) emit(t *Token, k Kind, n int, name []byte) error {
	raw := l.buf[l.pos : l.pos+n]
	t.Kind, t.ElementOnly, t.Raw, t.Name, t.Line = k, false, raw, name, l.line
	l.line += bytes.Count(raw, nl)
	l.pos += n
	return nil
}

var nl = []byte{'\n'}

func (l *Lexer) text(t *Token) error {
	for {
		if i := bytes.IndexByte(l.buf[l.pos:l.end], '<'); i >= 0 {
			return l.emit(t, Text, i, nil)
		}
		n := l.end - l.pos
		if l.eof || n >= maxTextLump {
			// Hand back a piece, cut on a UTF-8 boundary so a colour code
			// never lands inside a character.
			cut := n
			if !l.eof {
				for k := 0; k < utf8.UTFMax && cut > 0 && !utf8.RuneStart(l.buf[l.pos+cut-1]); k++ {
					cut--
				}
				if cut > 0 && l.buf[l.pos+cut-1] >= utf8.RuneSelf {
					cut-- // a lead byte whose sequence is not complete yet
				}
				if cut == 0 {
					cut = n
				}
			}
			return l.emit(t, Text, cut, nil)
		}
		if !l.fill() {
			return l.emit(t, Text, l.end-l.pos, nil)
		}
	}
}

// tag reads a start, empty-element or end tag; skip is the length of "<" or "</".
func (l *Lexer) tag(t *Token, k Kind, skip int) error {
	i := l.pos + skip // scan position, kept across refills as an offset
	var quote byte
	for {
		end := -1
		for i < l.end {
			if quote != 0 {
				j := bytes.IndexByte(l.buf[i:l.end], quote)
				if j < 0 {
					i = l.end
					break
				}
				i += j + 1
				quote = 0
				continue
			}
			j := bytes.IndexByte(l.buf[i:l.end], '>')
			seg := l.buf[i:l.end]
			if j >= 0 {
				seg = seg[:j]
			}
			if q := firstQuote(seg); q >= 0 {
				quote = seg[q]
				i += q + 1
				continue
			}
			if j < 0 {
				i = l.end
				break
			}
			end = i + j
			break
		}
		if end >= 0 {
			n := end + 1 - l.pos
			raw := l.buf[l.pos : l.pos+n]
			name, err := tagName(raw, skip)
			if err != nil {
				return l.errorf(l.line, "%s", err)
			}
			if k == StartTag && raw[n-2] == '/' {
				k = EmptyTag
			}
			if k == EndTag && len(bytes.TrimRight(raw[skip+len(name):n-1], " \t\r\n")) > 0 {
				return l.errorf(l.line, "end tag </%s> has more than a name", name)
			}
			return l.emit(t, k, n, name)
		}
		rel := i - l.pos // fill moves the bytes; keep the place relative to the token
		if !l.fill() {
			if l.end-l.pos >= l.MaxToken {
				return l.errorf(l.line, "a tag longer than %d bytes", l.MaxToken)
			}
			return l.ended(l.line, "the document ends inside a tag")
		}
		i = l.pos + rel
	}
}

// firstQuote is the index of the first ' or " in b, or -1. Two IndexByte
// calls beat IndexAny on the short runs inside tags.
func firstQuote(b []byte) int {
	d := bytes.IndexByte(b, '"')
	if d == 0 {
		return 0
	}
	s := bytes.IndexByte(b, '\'')
	switch {
	case d < 0:
		return s
	case s < 0 || d < s:
		return d
	}
	return s
}

// delimited reads a token that ends with a fixed string.
func (l *Lexer) delimited(t *Token, k Kind, skip int, close string) error {
	from := skip
	for {
		if j := bytes.Index(l.buf[l.pos+from:l.end], []byte(close)); j >= 0 {
			n := from + j + len(close)
			var name []byte
			if k == PI {
				name = l.buf[l.pos+2 : l.pos+2+nameLen(l.buf[l.pos+2:l.pos+n])]
				if len(name) == 0 {
					return l.errorf(l.line, "a processing instruction without a target")
				}
			}
			if k == Comment && bytes.Contains(l.buf[l.pos+4:l.pos+n-3], []byte("--")) {
				return l.errorf(l.line, `"--" inside a comment`)
			}
			return l.emit(t, k, n, name)
		}
		from = max(skip, l.end-l.pos-len(close)+1)
		if !l.fill() {
			if l.end-l.pos >= l.MaxToken {
				return l.errorf(l.line, "a %s longer than %d bytes", k, l.MaxToken)
			}
			return l.ended(l.line, "the document ends inside a %s", k)
		}
	}
}

// directive reads <!...>, allowing an internal subset in brackets, with
// comments in it.
func (l *Lexer) directive(t *Token) error {
	i := l.pos + 2
	depth := 0
	var quote byte
	for {
	scan:
		for ; i < l.end; i++ {
			c := l.buf[i]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '<' && depth > 0 && l.end-i >= 4 && string(l.buf[i:i+4]) == "<!--":
				// a comment: its quotes and brackets do not count
				j := bytes.Index(l.buf[i+4:l.end], []byte("-->"))
				if j < 0 {
					break scan // read more, then look again from the '<'
				}
				i += 4 + j + 2
			case c == '<' && depth > 0 && l.end-i < 4:
				break scan // maybe a comment: read more first
			case c == '[':
				depth++
			case c == ']':
				depth--
			case c == '>' && depth <= 0:
				return l.emit(t, Directive, i+1-l.pos, nil)
			}
		}
		off := i - l.pos
		if !l.fill() {
			return l.ended(l.line, "the document ends inside a declaration")
		}
		i = l.pos + off
	}
}

// ended is the error for input that stops inside a token: the read error
// that stopped it (a connection cut), else a syntax error wrapping
// ErrIncomplete, as the input itself ends there.
func (l *Lexer) ended(line int, format string, args ...any) error {
	if l.rerr != nil {
		return l.rerr
	}
	return &SyntaxError{Line: line, Msg: fmt.Sprintf(format, args...), Err: ErrIncomplete}
}

func (l *Lexer) errorf(line int, format string, args ...any) error {
	return &SyntaxError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// ErrNoName is returned for a tag without a name.
var ErrNoName = errors.New("a tag without a name")

func tagName(raw []byte, skip int) ([]byte, error) {
	n := nameLen(raw[skip:])
	if n == 0 {
		return nil, ErrNoName
	}
	return raw[skip : skip+n], nil
}

// nameLen is the length of the XML name at the start of b (0 if none).
func nameLen(b []byte) int {
	if len(b) == 0 || !isNameStart(b[0]) {
		return 0
	}
	i := 1
	for i < len(b) && isNameByte(b[i]) {
		i++
	}
	return i
}

// The ASCII bytes of names, as bit sets over 0-63 and 64-127; every byte
// from utf8.RuneSelf up is taken too (names are checked no further).
const (
	nameStartLo = 1 << ':'
	nameStartHi = (1<<26-1)<<('A'-64) | 1<<('_'-64) | (1<<26-1)<<('a'-64)
	nameByteLo  = nameStartLo | 1<<'-' | 1<<'.' | (1<<10-1)<<'0'
	nameByteHi  = nameStartHi
)

// Bit c%64 of word c/64 is set for each byte c: one load and a bit test,
// no branch.
var (
	nameStart = [4]uint64{nameStartLo, nameStartHi, ^uint64(0), ^uint64(0)}
	nameByte  = [4]uint64{nameByteLo, nameByteHi, ^uint64(0), ^uint64(0)}
)

func isNameStart(c byte) bool { return nameStart[c>>6]&(1<<(c&63)) != 0 }

func isNameByte(c byte) bool { return nameByte[c>>6]&(1<<(c&63)) != 0 }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// IsSpace reports whether b is only XML white space.
func IsSpace(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

// Offset is the input offset of the next token's first byte.
func (l *Lexer) Offset() int64 { return l.base + int64(l.pos) }
