package xmltok

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// AsyncLexer lexes in a goroutine of its own, a few batches of tokens ahead
// of the reader, so that tokenizing and what the caller does with the
// tokens (printing, say) run on two cores. The lexer reads into a batch's
// buffer and the tokens are handed over where they lie, as offsets in it:
// nothing is copied but the few bytes of a token cut by the buffer's end.
// At most a few batches are in flight, so memory stays bounded. A token is
// valid until the next call to Next or NextInto, as with Lexer.
type AsyncLexer struct {
	batches chan *batch
	free    chan *batch
	done    chan struct{}
	cur     *batch
	i       int // next token in cur
	from    int // where it starts in cur.buf
	err     error
	once    sync.Once
}

// tokRec is a token in its batch's buffer. It starts where the one before
// it ends (the first at 0); its name, if any, right after "<", "</" or
// "<?". Small, as millions of them cross from one core to the other.
type tokRec struct {
	end         int32 // of Raw, in the batch's buf
	line        int32 // from the batch's line
	name        int32 // length of Name
	kind        Kind
	elementOnly bool
}

// openElem is an element whose start tag is in the batch being filled and
// whose end tag is not yet, with what its content has been so far.
type openElem struct {
	start          int    // its start tag, in the batch's toks
	name           []byte // in the lexer's buffer, which stays put while the batch fills
	children, text bool   // elements, comments, PIs; text that is not white space, or CDATA
}

type batch struct {
	buf  []byte // the input the tokens lie in
	toks []tokRec
	line int   // of the first token
	err  error // after the last token: io.EOF or the error that stopped lexing
}

const (
	batchSize = 256 << 10 // bytes of input a batch holds, and reads at once
	inFlight  = 4
)

// errClosed stops the lexing goroutine after Close.
var errClosed = errors.New("xmltok: AsyncLexer closed")

// NewAsyncLexer starts lexing r. Call Close when done with it, even after an
// error, so that the goroutine ends.
func NewAsyncLexer(r io.Reader) *AsyncLexer {
	a := &AsyncLexer{
		batches: make(chan *batch, inFlight),
		free:    make(chan *batch, inFlight+2), // every batch there can be: the channel's, run's and Next's
		done:    make(chan struct{}),
	}
	go a.run(r, asyncMaxToken)
	return a
}

// asyncMaxToken is the MaxToken of an AsyncLexer; tests lower it.
var asyncMaxToken = defaultMax

func (a *AsyncLexer) run(r io.Reader, maxToken int) {
	defer close(a.batches)
	b := a.fresh()
	b.line = 1
	lx := &Lexer{r: r, buf: b.buf, line: 1, MaxToken: maxToken}
	var open []openElem
	// When the buffer is full, its batch goes to the reader and the lexer
	// goes on in the next batch's buffer, starting with the unread bytes.
	lx.handoff = func(rest []byte) []byte {
		b.buf = lx.buf
		if !a.send(b) {
			return nil
		}
		b = a.fresh()
		b.line = lx.line
		open = open[:0] // their start tags are gone with the batch
		if len(b.buf) < len(rest) {
			// fill grows it to fit the token, doubling it as Lexer does
			// its own: the sizes are 64 KiB times a power of two either
			// way, so that MaxToken bites at the same length.
			size := len(b.buf)
			for size < len(rest) {
				size *= 2
			}
			b.buf = make([]byte, size)
		}
		copy(b.buf, rest)
		return b.buf
	}
	var t Token
	for {
		err := lx.lex(&t)
		if err != nil {
			b.buf, b.err = lx.buf, err
			a.send(b)
			return
		}
		open = lookAhead(open, b.toks, &t)
		// Filled in place, as Lexer.lex fills a token. A token ends where
		// the lexer is: Raw is buf[pos-len(Raw):pos].
		b.toks = append(b.toks, tokRec{})
		r := &b.toks[len(b.toks)-1]
		r.end, r.line, r.name, r.kind = int32(lx.pos), int32(t.Line-b.line), int32(len(t.Name)), t.Kind
	}
}

// lookAhead follows the elements open in a batch, token t being the next
// of toks, and marks the start tag of one that closes there ElementOnly
// (see Token.ElementOnly) when its content was. Tags are paired as they
// nest; an end tag that names another element than the one open ends the
// look for every open one, as the document is not well-formed there.
func lookAhead(open []openElem, toks []tokRec, t *Token) []openElem {
	n := len(open)
	switch t.Kind {
	case StartTag:
		if n > 0 {
			open[n-1].children = true
		}
		open = append(open, openElem{}) // filled in place, as Lexer.lex fills a token
		e := &open[n]
		e.start, e.name = len(toks), t.Name
		return open
	case EmptyTag, Comment, PI, Directive:
		if n > 0 {
			open[n-1].children = true
		}
	case Text:
		if n > 0 && !open[n-1].text && !IsSpace(t.Raw) {
			open[n-1].text = true
		}
	case CData:
		if n > 0 {
			open[n-1].text = true
		}
	case EndTag:
		if n == 0 {
			break // opened in an earlier batch
		}
		e := open[n-1]
		if !bytes.Equal(e.name, t.Name) {
			return open[:0]
		}
		toks[e.start].elementOnly = e.children && !e.text
		return open[:n-1]
	}
	return open
}

// send hands a batch to the reader; it reports false after Close.
func (a *AsyncLexer) send(b *batch) bool {
	select {
	case a.batches <- b:
		return true
	case <-a.done:
		return false
	}
}

func (a *AsyncLexer) fresh() *batch {
	select {
	case b := <-a.free:
		if len(b.buf) != batchSize {
			b.buf = make([]byte, batchSize) // a long token grew it: let that go
		}
		b.toks, b.err = b.toks[:0], nil
		return b
	default:
		return &batch{buf: make([]byte, batchSize), toks: make([]tokRec, 0, batchSize/16)}
	}
}

// Next returns the next token, or io.EOF at the end of the input.
func (a *AsyncLexer) Next() (t Token, err error) {
	err = a.NextInto(&t)
	return t, err
}

// NextInto is Next filling t in place (see Lexer.NextInto).
func (a *AsyncLexer) NextInto(t *Token) error {
	for a.cur == nil || a.i == len(a.cur.toks) {
		if a.cur != nil {
			if a.cur.err != nil {
				a.err = a.cur.err
			}
			select {
			case a.free <- a.cur:
			default:
			}
			a.cur = nil
		}
		if a.err != nil {
			return a.err
		}
		b, ok := <-a.batches
		if !ok {
			return io.EOF
		}
		a.cur, a.i, a.from = b, 0, 0
	}
	r := &a.cur.toks[a.i]
	raw := a.cur.buf[a.from:r.end:r.end]
	a.i, a.from = a.i+1, int(r.end)
	t.Kind, t.ElementOnly, t.Raw, t.Name, t.Line = r.kind, r.elementOnly, raw, nil, a.cur.line+int(r.line)
	if r.name > 0 {
		at := 1
		if r.kind == EndTag || r.kind == PI {
			at = 2
		}
		t.Name = raw[at : at+int(r.name)]
	}
	return nil
}

// Close tells the lexing goroutine to stop. It does not wait: the goroutine
// may be blocked reading the input, and ends when that read returns, so the
// caller must not read the input itself after an early Close.
func (a *AsyncLexer) Close() {
	a.once.Do(func() { close(a.done) })
}
