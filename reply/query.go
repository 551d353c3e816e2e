package reply

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/antchfx/xpath"

	"github.com/soapsess/soapsess/xmltok"
)

// Query is an XPath 1.0 expression to evaluate over a whole document in
// bounded memory. A simple location path is evaluated while the document
// streams by, holding only what it selects: absolute, of child (/) and
// descendant (//) steps whose node tests are *, name or prefix:name, with
// predicates [local-name() = '…'], [@a] and [@a = '…'], ending in an
// element, an attribute (/@a, //@a, @*) or text(); alone, or inside
// count() or string(). Any other expression needs the document whole, as
// a tree: 10 to 55 times its size in memory.
//
// Either way the values are those the XPath library gives over the tree,
// which is what the tests check the streaming evaluation against. The
// library's ways are kept: it evaluates a path as nested loops, so that a
// node reached along two chains of steps is selected twice (//a//b, with
// an a inside an a) and a selection is ordered by its chain, not by the
// document (//a/b); an unprefixed name test matches an element written
// without a prefix whatever its namespace; a processing instruction is an
// element named by its target; a CDATA section's text() is "". Two
// things differ: a document the tree cannot be built of (an unknown entity
// in text the expression does not read, attributes in a tag that do not
// parse) may still give values, and a malformed <!...> declaration ends
// where xmltok ends it, not where encoding/xml would (<!>> is "<!>" then
// the text ">", not the declaration ">").
type Query struct {
	src  string
	expr *xpath.Expr
	plan *plan // nil: evaluated over a tree
}

// CompileQuery compiles an XPath 1.0 expression with prefixes bound by ns.
// Its error is an *XPathError.
func CompileQuery(src string, ns map[string]string) (*Query, error) {
	e, err := CompileXPath(src, ns)
	if err != nil {
		return nil, err
	}
	return &Query{src: src, expr: e, plan: planOf(src, ns)}, nil
}

func (q *Query) String() string { return q.src }

// Expr is the compiled expression, for a caller that has a tree.
func (q *Query) Expr() *xpath.Expr { return q.expr }

// Streams says the query is evaluated while the document streams by;
// otherwise it needs the document whole.
func (q *Query) Streams() bool { return q.plan != nil }

// LimitError says a query would hold more than its limit in memory: the
// document whole, for an expression that needs a tree (Whole), or the
// values it selects.
type LimitError struct {
	Limit int64
	Whole bool
}

func (e *LimitError) Error() string {
	if e.Whole {
		return fmt.Sprintf("the expression needs the whole document in memory, as a tree, and the document is larger than %s", Size(e.Limit))
	}
	return fmt.Sprintf("what the expression selects is larger than %s", Size(e.Limit))
}

// Size writes a number of bytes as MiB or KiB when it is a whole number of
// them.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Evaluation is a query's evaluation over one document, given to it token
// by token (Write: it is a TokenWriter) or read through it (Reader).
// Values ends it.
type Evaluation struct {
	q     *Query
	limit int64
	s     *streamEval // nil: the document is held for a tree
	doc   []byte
	over  bool
	err   error

	pw   *io.PipeWriter // Reader's
	done chan struct{}
}

// Evaluate starts an evaluation that holds at most limit bytes: of what
// it selects, or of the document when the query needs it whole.
func (q *Query) Evaluate(limit int64) *Evaluation {
	ev := &Evaluation{q: q, limit: limit}
	if q.plan != nil {
		ev.s = newStreamEval(q.plan, limit)
	}
	return ev
}

// Write takes the document's next token. It never fails: what goes wrong
// is Values' error, so that whoever streams the document can go on.
func (ev *Evaluation) Write(t *xmltok.Token) error {
	if ev.s != nil {
		return ev.s.Write(t)
	}
	ev.hold(t.Raw)
	return nil
}

func (ev *Evaluation) hold(b []byte) {
	if ev.over {
		return
	}
	if int64(len(ev.doc))+int64(len(b)) > ev.limit {
		ev.over, ev.doc = true, nil
		return
	}
	ev.doc = append(ev.doc, b...)
}

// Reader returns a reader of r for another to read the document through
// (a reply as it arrives); the query is evaluated over the bytes as they
// pass, on a goroutine of its own. Reads are never failed by it.
func (ev *Evaluation) Reader(r io.Reader) io.Reader {
	if ev.s == nil {
		return &heldReader{r: r, ev: ev}
	}
	pr, pw := io.Pipe()
	ev.pw, ev.done = pw, make(chan struct{})
	go func() {
		defer close(ev.done)
		lx := xmltok.NewLexer(pr)
		for {
			t, err := lx.Next()
			if err != nil {
				if err != io.EOF {
					ev.err = err
				}
				break
			}
			ev.s.Write(&t)
		}
		io.Copy(io.Discard, pr) // whatever is left, so that the reader is never held up
	}()
	return &teeReader{r: r, pw: pw}
}

type heldReader struct {
	r  io.Reader
	ev *Evaluation
}

func (h *heldReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.ev.hold(p[:n])
	return n, err
}

type teeReader struct {
	r  io.Reader
	pw *io.PipeWriter
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.pw.Write(p[:n]) // fails only once the evaluation is closed
	}
	if err != nil {
		t.pw.CloseWithError(err)
	}
	return n, err
}

// errUnfinished ends a Reader's evaluation whose document was not read to
// its end.
var errUnfinished = errors.New("the document was not read to its end")

// Close stops a Reader's evaluation; Values calls it.
func (ev *Evaluation) Close() {
	if ev.done != nil {
		ev.pw.CloseWithError(errUnfinished) // no effect once the document ended
		<-ev.done
	}
}

// Values ends the evaluation: the string value of each node the
// expression selects, or its one number, boolean or string. An error is
// a *LimitError, an *XPathError (the library failed), or the document is
// not what the tree can be built of.
func (ev *Evaluation) Values() ([]string, error) {
	ev.Close()
	if ev.err != nil {
		return nil, ev.err
	}
	if ev.s != nil {
		return ev.s.values()
	}
	if ev.over {
		return nil, &LimitError{Limit: ev.limit, Whole: true}
	}
	return Values(ev.doc, ev.q.expr)
}

// Values evaluates q over a document in memory, as an Evaluation does.
func (q *Query) Values(doc []byte, limit int64) ([]string, error) {
	ev := q.Evaluate(limit)
	if ev.s == nil {
		ev.hold(doc)
		return ev.Values()
	}
	lx := xmltok.NewBytesLexer(doc)
	for {
		t, err := lx.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		ev.Write(&t)
	}
	return ev.Values()
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
