// Package printer pretty-prints XML as it streams by: it indents
// element-only content, leaves text, mixed content and xml:space="preserve"
// subtrees exactly as written, and can colour names, attributes, text and
// comments. Every byte of the input that is not indentation white space comes
// out as written: prefixes, namespace declarations, attribute order and
// quoting, comments, CDATA sections, processing instructions and entity
// references. Memory stays bounded whatever the document size, and the
// output's size is linear in the input's whatever its depth: indentation
// stops growing at 60 columns (30 levels of the default two spaces), as
// xmllint --format's does, so deeper elements are indented as far as that.
package printer

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/soapsess/soapsess/xmltok"
)

// Style is how one kind of token is coloured: the escape sequences written
// before and after it. The zero Style writes nothing.
type Style struct{ On, Off string }

// Palette colours each kind of token. Header entries (the children of a SOAP
// Header, where session headers live) and SOAP faults get their own styles
// so they stand out.
type Palette struct {
	Tag, Attr, Value, Text, Comment, Header, Fault Style
}

// Options says how to print.
type Options struct {
	Pretty  bool     // indent element-only content; otherwise keep the bytes as written
	Indent  string   // one level of indentation; "  " when empty
	Palette *Palette // nil: no colour
	// Trusted says the tokens come from a reader that already checks that end
	// tags match (reply.Stream), so the printer need not check again.
	Trusted bool
}

// SOAP envelope namespaces, for highlighting.
const (
	nsSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
)

type mode uint8

const (
	undecided   mode = iota // content seen so far is element-only; not known yet
	elementOnly             // indent the children
	raw                     // text, mixed or preserved content: copy as written
)

type frame struct {
	parent   *frame
	mode     mode
	depth    int // the document is 0, the root element 1
	children bool
	style    *Style // for the element's own tag names; nil: Palette.Tag
	isHeader bool   // a SOAP Header
	isBody   bool   // a SOAP Body
}

// pend is a token waiting for its frame to be decided; its bytes are in the
// arena.
type pend struct {
	frame      *frame // where it is placed: the parent, or the element itself for an end tag
	style      *Style // highlight of a tag's name
	from, to   int32  // Raw in the arena
	dfrom, dto int32  // white space dropped before it, in the arena, for a switch to raw
	name       int32  // length of Name
	kind       xmltok.Kind
}

// Printer writes a document token by token.
type Printer struct {
	w       *output
	opt     Options
	pal     *Palette
	scope   xmltok.Scope
	doc     *frame
	open    []*frame
	pending []pend
	arena   []byte
	wrote   bool   // anything written yet
	ws      []byte // the last white space dropped, kept in case the parent turns out mixed
	attrs   []xmltok.Attr
	indents [][]byte // a newline and 0, 1, ... levels of indentation, up to maxLvl
	maxLvl  int      // levels of indentation that fit in maxIndent
	failed  error    // after an error nothing more is printed
	free    []*frame // closed frames to reuse
	limbo   []*frame // closed frames a held token may still point to
	slab    []frame  // frames not used yet
}

const frameSlab = 256

// arenaLimit bounds the bytes held while waiting to learn whether an element
// has mixed content; past it, element-only is assumed.
const arenaLimit = 1 << 20

// maxIndent is the widest indentation, in bytes: libxml2's (MAX_INDENT in
// xmlsave.c), so that the output is xmllint --format's at any depth. Without
// a cap the output grows with the square of the depth: 100,000 nested
// elements, 700 KB, would print as 20 GB.
const maxIndent = 60

// New returns a printer writing to w.
func New(w io.Writer, opt Options) *Printer {
	if opt.Indent == "" {
		opt.Indent = "  "
	}
	p := &Printer{w: newOutput(w, 64<<10), opt: opt, pal: opt.Palette}
	p.maxLvl = maxIndent / len(opt.Indent) // whole levels, as libxml2 counts them
	p.doc = &frame{mode: elementOnly}
	if !opt.Pretty {
		p.doc.mode = raw
	}
	return p
}

// Format prints a whole document read from r.
func Format(w io.Writer, r io.Reader, opt Options) error {
	return New(w, opt).format(r, nil)
}

// format prints what r holds; after, when set, runs after each token (tests
// look at the printer's memory there).
func (p *Printer) format(r io.Reader, after func()) error {
	lx := xmltok.NewLexer(r)
	for {
		t, err := lx.Next()
		if err == io.EOF {
			return p.Close()
		}
		if err == nil {
			err = p.Write(&t)
		}
		if err != nil {
			p.Flush()
			return err
		}
		if after != nil {
			after()
		}
	}
}

func (p *Printer) top() *frame {
	if n := len(p.open); n > 0 {
		return p.open[n-1]
	}
	return p.doc
}

// Write prints one token. The token's bytes are not kept after it returns.
func (p *Printer) Write(t *xmltok.Token) error {
	if p.failed != nil {
		return p.failed
	}
	if err := p.write(t); err != nil {
		p.failed = err
		return err
	}
	return nil
}

func (p *Printer) write(t *xmltok.Token) error {
	parent := p.top()
	switch t.Kind {
	case xmltok.StartTag, xmltok.EmptyTag:
		if err := p.push(t); err != nil {
			return err
		}
		parent.children = true
		f := p.newFrame(parent, t)
		if err := p.put(t, parent, f.style); err != nil {
			return err
		}
		if t.Kind == xmltok.EmptyTag {
			p.release(f)
			return p.pop(t)
		}
		p.open = append(p.open, f)
	case xmltok.EndTag:
		if len(p.open) == 0 {
			return &xmltok.SyntaxError{Line: t.Line, Msg: "end tag </" + string(t.Name) + "> without a start tag"}
		}
		if err := p.pop(t); err != nil {
			return err
		}
		f := parent
		p.open = p.open[:len(p.open)-1]
		if f.mode == undecided {
			f.mode = raw // text-only or empty: keep it as written
			if f.children {
				f.mode = elementOnly
			}
		}
		err := p.put(t, f, f.style)
		p.release(f)
		return err
	case xmltok.Text:
		if !xmltok.IsSpace(t.Raw) {
			if parent == p.doc {
				return &xmltok.SyntaxError{Line: t.Line, Msg: "text outside the root element"}
			}
			p.mixed(parent)
		}
		return p.put(t, parent, nil)
	case xmltok.CData:
		if parent == p.doc {
			return &xmltok.SyntaxError{Line: t.Line, Msg: "a CDATA section outside the root element"}
		}
		p.mixed(parent)
		return p.put(t, parent, nil)
	default: // comments, PIs, declarations are neutral
		parent.children = true
		return p.put(t, parent, nil)
	}
	return nil
}

// mixed records that f has text of its own: its content is copied as written.
func (p *Printer) mixed(f *frame) {
	switch f.mode {
	case undecided:
		f.mode = raw
		// Everything inside mixed content is kept as written. Nothing of it
		// was printed yet (f was undecided), so the elements already seen in
		// it are the open ones and those of the held tokens since f began.
		for i := len(p.open) - 1; i >= 0 && p.open[i].depth > f.depth; i-- {
			p.open[i].mode = raw // open elements are deeper one by one: these are f's
		}
		for i := len(p.pending) - 1; i >= 0 && p.pending[i].frame.depth >= f.depth; i-- {
			p.pending[i].frame.mode = raw
		}
	case elementOnly:
		// Assumed element-only, but text came: copy the rest as written,
		// with the white space that was about to be dropped.
		f.mode = raw
		if len(p.ws) > 0 && len(p.pending) == 0 {
			p.w.Write(p.ws)
		}
	}
	p.ws = p.ws[:0]
}

func (p *Printer) newFrame(parent *frame, t *xmltok.Token) *frame {
	var f *frame
	if n := len(p.free); n > 0 {
		f, p.free = p.free[n-1], p.free[:n-1]
		*f = frame{}
	} else {
		// Frames come in slabs: while elements are held (see put) none is
		// freed, and thousands may be open or in limbo.
		if len(p.slab) == 0 {
			p.slab = make([]frame, frameSlab)
		}
		f, p.slab = &p.slab[0], p.slab[1:]
	}
	f.parent = parent
	f.depth = parent.depth + 1
	switch {
	case parent.mode == raw:
		f.mode = raw // inside mixed or preserved content everything is kept
	case len(t.Raw) > len(t.Name)+3 && bytes.Contains(t.Raw, []byte("xml:space")) && preserve(t): // only a tag with attributes
		f.mode = raw
	case t.ElementOnly && !p.checked():
		// The lexer has read the element through: its content is
		// element-only, as it would be found at its end, so nothing of it
		// need be held until then. Whatever stops the document first, it
		// is printed so too: Close takes an element still open as
		// element-only, as put does one past arenaLimit. Not when the
		// printer checks the document itself: after its own error it
		// prints nothing more, held tokens included.
		f.mode = elementOnly
	}
	if p.pal != nil {
		p.classify(parent, f, t)
	}
	return f
}

// checked reports whether the printer tracks namespaces and checks that end
// tags match: it must to colour SOAP headers and faults, and does when it
// reads a document itself (Format). Fed by a reader that checks already
// (reply.Stream), it spares the work.
func (p *Printer) checked() bool { return p.pal != nil || !p.opt.Trusted }

func (p *Printer) push(t *xmltok.Token) error {
	if p.checked() {
		return p.scope.Push(t)
	}
	return nil
}

func (p *Printer) pop(t *xmltok.Token) error {
	if p.checked() {
		return p.scope.Pop(t)
	}
	return nil
}

// release recycles a closed element's frame, unless a held token may still
// point to it.
func (p *Printer) release(f *frame) {
	if len(p.pending) == 0 {
		p.free = append(p.free, f)
	} else {
		p.limbo = append(p.limbo, f)
	}
}

func preserve(t *xmltok.Token) bool {
	attrs, _ := t.Attrs(nil)
	for _, a := range attrs {
		if string(a.Name) == "xml:space" && string(a.Value) == "preserve" {
			return true
		}
	}
	return false
}

// classify finds SOAP Header and Body elements, header entries and faults.
func (p *Printer) classify(parent, f *frame, t *xmltok.Token) {
	prefix, local := xmltok.Split(t.Name)
	uri, _ := p.scope.URI(prefix)
	soap := uri == nsSOAP11 || uri == nsSOAP12
	switch {
	// Depth 1 too: a Header or Body may be printed on its own, out of its envelope.
	case soap && f.depth <= 2 && string(local) == "Header":
		f.isHeader = true
	case soap && f.depth <= 2 && string(local) == "Body":
		f.isBody = true
	}
	if p.pal == nil {
		return
	}
	switch {
	case parent.isHeader:
		f.style = &p.pal.Header
	case string(local) == "Fault" && (soap || parent.isBody):
		f.style = &p.pal.Fault
	}
}

// put prints a token placed in frame f, or holds it while f is undecided.
func (p *Printer) put(t *xmltok.Token, f *frame, style *Style) error {
	if len(p.pending) == 0 && f.mode != undecided {
		return p.emit(t.Kind, t.Raw, len(t.Name), f, style)
	}
	// Filled in place: a pend made on the stack and copied in costs a stall
	// per token (its fields are stored one by one, then loaded 16 bytes at
	// a time).
	p.pending = append(grow(p.pending, 1), pend{})
	pd := &p.pending[len(p.pending)-1]
	pd.kind, pd.name, pd.frame, pd.style = t.Kind, int32(len(t.Name)), f, style
	pd.from = int32(len(p.arena))
	p.arena = append(grow(p.arena, len(t.Raw)+len(p.ws)), t.Raw...)
	pd.to = int32(len(p.arena))
	if len(p.ws) > 0 {
		pd.dfrom = pd.to
		p.arena = append(p.arena, p.ws...)
		pd.dto = int32(len(p.arena))
	}
	if len(p.arena) > arenaLimit {
		for _, o := range p.open {
			if o.mode == undecided {
				o.mode = elementOnly
			}
		}
	}
	if p.pending[0].frame.mode == undecided {
		return nil // drain would stop at once
	}
	return p.drain()
}

// grow returns s with room for n more elements, doubling its capacity when
// it must grow: append grows a large slice by a quarter at a time, and the
// held tokens' slices grow from nothing to megabytes at the start of a
// large document, which made five times their size in garbage.
func grow[E any](s []E, n int) []E {
	if len(s)+n <= cap(s) {
		return s
	}
	return append(make([]E, 0, max(2*cap(s), len(s)+n, 256)), s...)
}

// drain prints the held tokens whose frames are decided, in order.
func (p *Printer) drain() error {
	i := 0
	for ; i < len(p.pending); i++ {
		pd := &p.pending[i]
		m := pd.frame.mode
		if m == undecided {
			break
		}
		if pd.dto > pd.dfrom && m == raw {
			p.w.Write(p.arena[pd.dfrom:pd.dto])
		}
		if err := p.emitAs(m, pd.kind, p.arena[pd.from:pd.to], int(pd.name), pd.frame, pd.style); err != nil {
			return err
		}
	}
	if i == len(p.pending) {
		p.pending = p.pending[:0]
		p.arena = p.arena[:0]
		p.free = append(p.free, p.limbo...)
		p.limbo = p.limbo[:0]
		return nil
	}
	if i > 0 {
		p.pending = append(p.pending[:0], p.pending[i:]...)
	}
	return nil
}

// emit writes a token: indentation where its frame is element-only, then the
// token, coloured.
func (p *Printer) emit(kind xmltok.Kind, b []byte, nameLen int, f *frame, style *Style) error {
	return p.emitAs(f.mode, kind, b, nameLen, f, style)
}

func (p *Printer) emitAs(m mode, kind xmltok.Kind, b []byte, nameLen int, f *frame, style *Style) error {
	if m == elementOnly {
		depth := f.depth
		if kind == xmltok.EndTag {
			depth--
		} else if kind == xmltok.Text {
			// white space between children gives way to indentation
			p.ws = append(p.ws[:0], b...)
			return nil
		}
		if p.wrote {
			p.w.Write(p.indent(depth))
		}
	}
	p.wrote = true
	p.ws = p.ws[:0]
	if p.pal == nil {
		_, err := p.w.Write(b)
		return err
	}
	return p.colour(kind, b, nameLen, style)
}

// indent is a newline and depth levels of indentation, no more than
// maxLvl of them (see maxIndent).
func (p *Printer) indent(depth int) []byte {
	depth = min(depth, p.maxLvl)
	for len(p.indents) <= depth {
		n := len(p.indents)
		p.indents = append(p.indents, []byte("\n"+strings.Repeat(p.opt.Indent, n)))
	}
	return p.indents[depth]
}

// Flush writes out what is buffered, without ending the document.
func (p *Printer) Flush() error { return p.w.Flush() }

// Close prints what is held and checks the document is complete.
func (p *Printer) Close() error {
	if p.failed != nil {
		p.w.Flush()
		return p.failed
	}
	for _, o := range p.open {
		if o.mode == undecided {
			o.mode = elementOnly
		}
	}
	err := p.drain()
	if err == nil && len(p.open) > 0 {
		err = errors.New("the document ends with an element still open")
		if p.checked() {
			err = errors.New("the document ends with <" + string(p.scope.Open()) + "> still open")
		}
	}
	if p.opt.Pretty && p.wrote {
		p.w.WriteByte('\n')
	}
	if ferr := p.w.Flush(); err == nil {
		err = ferr
	}
	return err
}
