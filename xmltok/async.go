package xmltok

import (
	"io"
	"sync"
)

// AsyncLexer lexes in a goroutine of its own, a batch of tokens ahead of
// the reader, so that tokenizing and what the caller does with the tokens
// (printing, say) run on two cores. Tokens are copied into batches of about
// batchSize bytes; at most a few batches are in flight, so memory stays
// bounded. A token is valid until the next call to Next, as with Lexer.
type AsyncLexer struct {
	batches chan *batch
	free    chan *batch
	done    chan struct{}
	cur     *batch
	i       int
	err     error
	once    sync.Once
}

type tokRec struct {
	kind       Kind
	from, to   int // Raw in the batch's bytes
	nameAt, nl int // Name: raw[nameAt:nameAt+nl]
	line       int
}

type batch struct {
	raw  []byte
	toks []tokRec
	err  error // after the last token: io.EOF or the error that stopped lexing
}

const (
	batchSize = 256 << 10
	inFlight  = 4
)

// NewAsyncLexer starts lexing r. Call Close when done with it, even after an
// error, so that the goroutine ends.
func NewAsyncLexer(r io.Reader) *AsyncLexer {
	a := &AsyncLexer{
		batches: make(chan *batch, inFlight),
		free:    make(chan *batch, inFlight+2),
		done:    make(chan struct{}),
	}
	go a.run(NewLexer(r))
	return a
}

func (a *AsyncLexer) run(lx *Lexer) {
	defer close(a.batches)
	b := a.fresh()
	for {
		t, err := lx.Next()
		if err != nil {
			b.err = err
			select {
			case a.batches <- b:
			case <-a.done:
			}
			return
		}
		from := len(b.raw)
		b.raw = append(b.raw, t.Raw...)
		rec := tokRec{kind: t.Kind, from: from, to: len(b.raw), line: t.Line}
		if t.Name != nil {
			rec.nameAt = from + (cap(t.Raw) - cap(t.Name)) // Name is a sub-slice of Raw
			rec.nl = len(t.Name)
		}
		b.toks = append(b.toks, rec)
		if len(b.raw) >= batchSize {
			select {
			case a.batches <- b:
			case <-a.done:
				return
			}
			b = a.fresh()
		}
	}
}

func (a *AsyncLexer) fresh() *batch {
	select {
	case b := <-a.free:
		b.raw, b.toks, b.err = b.raw[:0], b.toks[:0], nil
		return b
	default:
		return &batch{raw: make([]byte, 0, batchSize+4096)}
	}
}

// Next returns the next token, or io.EOF at the end of the input.
func (a *AsyncLexer) Next() (Token, error) {
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
			return Token{}, a.err
		}
		b, ok := <-a.batches
		if !ok {
			return Token{}, io.EOF
		}
		a.cur, a.i = b, 0
	}
	r := a.cur.toks[a.i]
	a.i++
	t := Token{Kind: r.kind, Raw: a.cur.raw[r.from:r.to:r.to], Line: r.line}
	if r.nl > 0 {
		t.Name = a.cur.raw[r.nameAt : r.nameAt+r.nl]
	}
	return t, nil
}

// Close tells the lexing goroutine to stop. It does not wait: the goroutine
// may be blocked reading the input, and ends when that read returns, so the
// caller must not read the input itself after an early Close.
func (a *AsyncLexer) Close() {
	a.once.Do(func() { close(a.done) })
}
