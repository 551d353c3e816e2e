package reply

import (
	"bytes"
	"slices"
	"strings"

	"github.com/soapsess/soapsess/xmltok"
)

// streamEval evaluates a plan over a document's tokens. It gives what the
// XPath library gives over the document's tree (see Query), which the
// tests check against it: the library evaluates a path as nested loops,
// so a node reached along two chains of steps (//a//b with a inside a) is
// selected twice, and the selection is ordered by its chain, not by the
// document. A selection is therefore kept with its chain, the positions of
// the nodes each step matched, and sorted by it at the end; count() only
// counts the chains.
type streamEval struct {
	pl   *plan
	n    int   // element steps
	lim  int64 // bytes the selection may hold
	held int64
	err  error

	ord    int64 // position of the next node in the document
	frames []qframe
	// Per frame and step (frame*(n+1)+step): the chains that end at the
	// frame's element with that step, how many, and how many end at it or
	// an ancestor. Frame 0 is the document node, which ends chain 0.
	chains [][]*chain
	count  []float64
	below  []float64
	active [][]int // per step, the frames whose chains are not empty, outermost first

	// The text of the elements whose values are wanted, while one is open.
	acc     []byte
	wanting int // open elements whose value is wanted

	// The run of character data being read, and its text node's results.
	inText    bool
	textDec   textDecoder
	textBuf   []byte
	textCDL   bool // the run starts like a CDATA section: the tree types it so
	textRes   []int
	textOrd   int64
	textRaw   bool // not read for its text: only checked
	textFirst bool // the run is its parent's first child

	results []qresult
	best    int // fnString: the result that comes first so far, -1 if none
	total   float64

	// encoding/xml's namespace bindings, and the tree's map of namespace
	// URI to prefix, never unwound (the prefix a name test compares).
	bind   []binding
	prefix map[string]prefixOf

	root  bool // an element was seen
	attrs []rawAttr
	view  []attrView
}

type qframe struct {
	binds    int  // len(bind) before the element's declarations
	children bool // the element has a child node already
	valStart int  // where its text starts in acc; -1 when its value is not wanted
	waiting  []int
	ord      int64
}

type chain struct {
	prev *chain
	ord  int64
}

type qresult struct {
	key []int64
	val string
	ok  bool // the value is in, and (text) the node counts
}

type binding struct{ prefix, uri string }

type prefixOf struct {
	name  string
	level int
}

// attrView is an attribute as the tree has it.
type attrView struct {
	local  []byte
	space  string // namespace URI, or the prefix when it is not declared
	prefix string // what the library calls the prefix: space mapped back through prefix
	raw    []byte // value as written
	line   int
}

// Bytes a selection is charged, besides its values: a rough size of what
// holds it.
const (
	resultCost = 48
	chainCost  = 24
)

func newStreamEval(pl *plan, limit int64) *streamEval {
	n := len(pl.steps)
	e := &streamEval{pl: pl, n: n, lim: limit, best: -1,
		prefix: map[string]prefixOf{nsXML: {name: "xml"}}}
	e.frames = append(e.frames, qframe{valStart: -1, ord: -1})
	e.count = make([]float64, n+1)
	e.below = make([]float64, n+1)
	e.count[0], e.below[0] = 1, 1
	if pl.fn != fnCount {
		e.chains = make([][]*chain, n+1)
		e.chains[0] = []*chain{nil}
		e.active = make([][]int, n+1)
		e.active[0] = []int{0}
	}
	return e
}

func (e *streamEval) charge(n int64) {
	e.held += n
	if e.held > e.lim && e.err == nil {
		e.err = &LimitError{Limit: e.lim}
	}
}

// Write takes the document's next token.
func (e *streamEval) Write(t *xmltok.Token) error {
	if e.err != nil {
		return nil // the error is reported by values; the reader goes on
	}
	if t.Kind != xmltok.Text && e.inText {
		e.endText()
	}
	switch t.Kind {
	case xmltok.StartTag, xmltok.EmptyTag:
		e.root = true
		e.start(t)
		if t.Kind == xmltok.EmptyTag {
			e.end()
		}
	case xmltok.EndTag:
		e.end()
	case xmltok.Text:
		raw := t.Raw
		if !e.root && bytes.HasPrefix(raw, bom) {
			raw = raw[len(bom):]
		}
		if len(raw) > 0 && len(e.frames) > 1 {
			e.text(raw, t.Line)
		}
	case xmltok.CData:
		if len(e.frames) > 1 {
			e.cdata(t)
		}
	case xmltok.Comment:
		e.child()
	case xmltok.PI:
		e.child()
		if string(t.Name) != "xml" { // the XML declaration is not an element in the tree
			e.pi(t)
		}
	case xmltok.Directive:
		if len(e.frames) > 1 {
			e.opaqueText() // the tree keeps a declaration as a text node, whose value is ""
		}
	}
	return nil
}

// child notes that the open element has a child node.
func (e *streamEval) child() { e.frames[len(e.frames)-1].children = true }

// element is what the tests look at: a start tag, or a processing
// instruction (the tree has it as an element without attributes).
type element struct {
	local  []byte
	uri    string
	prefix []byte // "" unless the tree gives one
	attrs  []attrView
}

func (e *streamEval) start(t *xmltok.Token) {
	e.child()
	depth := len(e.frames) // the new element's level in the tree
	f := qframe{binds: len(e.bind), valStart: -1, ord: e.ord}
	e.ord++
	el := element{}
	written, local := splitName(t.Name)
	el.local = local
	e.view = e.view[:0]
	if e.pl.attrs || bytes.Contains(t.Raw, []byte("xmlns")) {
		e.attrs = attrsOf(t, e.attrs[:0])
		e.declare(e.attrs)
		for _, a := range e.attrs {
			space, local := splitName(a.Name)
			e.view = append(e.view, attrView{local: local, space: e.attrSpace(space, local), raw: a.Value, line: t.Line})
		}
		for _, a := range e.view {
			switch {
			case string(a.local) == "xmlns":
				uri := e.decodeOrRaw(a)
				if p, ok := e.prefix[uri]; !ok || p.level >= depth {
					e.prefix[uri] = prefixOf{"", depth}
				}
			case a.space == "xmlns":
				e.prefix[e.decodeOrRaw(a)] = prefixOf{string(a.local), depth}
			}
		}
		for i := range e.view {
			e.view[i].prefix = e.view[i].space
			if p, ok := e.prefix[e.view[i].space]; ok {
				e.view[i].prefix = p.name
			}
		}
		el.attrs = e.view
	}
	el.uri = e.elementSpace(written, local)
	if el.uri != "" && len(written) > 0 {
		if p, ok := e.prefix[el.uri]; ok && p.name == string(written) {
			el.prefix = written
		}
	}
	e.frames = append(e.frames, f)
	e.match(&el)
}

// pi is a processing instruction, an element with no attributes or
// children and the value "".
func (e *streamEval) pi(t *xmltok.Token) {
	e.frames = append(e.frames, qframe{binds: len(e.bind), valStart: -1, ord: e.ord})
	e.ord++
	e.match(&element{local: t.Name})
	e.end()
}

// match works out the chains that end at the element just opened, and the
// selections it makes.
func (e *streamEval) match(el *element) {
	fi := len(e.frames) - 1
	w := e.n + 1
	e.count = slices.Grow(e.count, w)[:len(e.count)+w]
	e.below = slices.Grow(e.below, w)[:len(e.below)+w]
	cur, par := fi*w, (fi-1)*w
	for i := 1; i <= e.n; i++ {
		s := &e.pl.steps[i-1]
		c := 0.0
		if e.test(s, el) {
			if s.axis == axisChild {
				c = e.count[par+i-1]
			} else {
				c = e.below[par+i-1]
			}
		}
		e.count[cur+i] = c
		e.below[cur+i] = e.below[par+i] + c
	}
	e.count[cur], e.below[cur] = 0, 1
	if e.chains != nil {
		e.chains = slices.Grow(e.chains, w)[:len(e.chains)+w]
		for i := 1; i <= e.n; i++ {
			if e.count[cur+i] == 0 {
				e.chains[cur+i] = nil
				continue
			}
			var cs []*chain
			if e.pl.steps[i-1].axis == axisChild {
				cs = e.extend(cs, e.chains[par+i-1])
			} else {
				for _, a := range e.active[i-1] {
					cs = e.extend(cs, e.chains[a*w+i-1])
				}
			}
			e.chains[cur+i] = cs
			e.charge(int64(len(cs)) * chainCost)
		}
		e.chains[cur] = nil
		for i := 1; i <= e.n; i++ { // after all steps: // looks at ancestors only
			if e.chains[cur+i] != nil {
				e.active[i] = append(e.active[i], fi)
			}
		}
	}
	f := &e.frames[fi]
	switch e.pl.last {
	case lastElement:
		e.total += e.count[cur+e.n]
		if e.chains != nil {
			for _, c := range e.chains[cur+e.n] {
				if r := e.result(c); r >= 0 {
					if f.valStart < 0 {
						f.valStart = len(e.acc)
						e.wanting++
					}
					f.waiting = append(f.waiting, r)
				}
			}
		}
	case lastAttr:
		for j := range el.attrs {
			a := &el.attrs[j]
			if !e.testAttr(&e.pl.attr, a) {
				continue
			}
			if e.pl.lastAxis == axisChild {
				e.total += e.count[cur+e.n]
				if e.chains != nil {
					for _, c := range e.chains[cur+e.n] {
						e.attrResult(c, a, int64(j))
					}
				}
				continue
			}
			e.total += e.below[cur+e.n]
			if e.chains != nil {
				for _, fr := range e.active[e.n] {
					for _, c := range e.chains[fr*w+e.n] {
						e.attrResult(c, a, f.ord, int64(j))
					}
				}
			}
		}
	}
}

func (e *streamEval) extend(dst, from []*chain) []*chain {
	ord := e.frames[len(e.frames)-1].ord
	for _, c := range from {
		dst = append(dst, &chain{prev: c, ord: ord})
	}
	return dst
}

// result adds a selection along c, then extra, and returns its index, or
// -1 when it cannot matter (string() has one that comes first already).
func (e *streamEval) result(c *chain, extra ...int64) int {
	k := 0
	for p := c; p != nil; p = p.prev {
		k++
	}
	key := make([]int64, k+len(extra))
	copy(key[k:], extra)
	for p := c; p != nil; p = p.prev {
		k--
		key[k] = p.ord
	}
	if e.pl.fn == fnString && e.best >= 0 && slices.Compare(key, e.results[e.best].key) >= 0 {
		return -1
	}
	e.results = append(e.results, qresult{key: key})
	e.charge(resultCost + 8*int64(len(key)))
	return len(e.results) - 1
}

func (e *streamEval) attrResult(c *chain, a *attrView, extra ...int64) {
	r := e.result(c, extra...)
	if r < 0 {
		return
	}
	v, err := decodeAttr(a.raw, a.line)
	if err != nil && e.err == nil {
		e.err = err
	}
	e.done(r, v)
}

// done gives a selection its value.
func (e *streamEval) done(r int, v string) {
	e.results[r].val, e.results[r].ok = v, true
	e.charge(int64(len(v)))
	if e.pl.fn == fnString && (e.best < 0 || slices.Compare(e.results[r].key, e.results[e.best].key) < 0) {
		e.best = r
	}
}

func (e *streamEval) end() {
	fi := len(e.frames) - 1
	if fi == 0 {
		return // not well-formed; the reader says so
	}
	f := &e.frames[fi]
	if f.valStart >= 0 {
		v := string(e.acc[f.valStart:])
		for _, r := range f.waiting {
			e.done(r, v)
		}
		if e.wanting--; e.wanting == 0 {
			e.charge(-int64(len(e.acc)))
			e.acc = e.acc[:0]
		}
	}
	e.bind = e.bind[:f.binds]
	w := e.n + 1
	if e.chains != nil {
		for i := 1; i <= e.n; i++ {
			if cs := e.chains[fi*w+i]; cs != nil {
				e.charge(-int64(len(cs)) * chainCost)
				e.active[i] = e.active[i][:len(e.active[i])-1]
			}
		}
		e.chains = e.chains[:fi*w]
	}
	e.count, e.below = e.count[:fi*w], e.below[:fi*w]
	e.frames[fi] = qframe{}
	e.frames = e.frames[:fi]
}

// text takes a piece of character data inside an element.
func (e *streamEval) text(raw []byte, line int) {
	if !e.inText {
		e.startText(line, raw)
	}
	if e.textRaw && bytes.IndexByte(raw, '&') < 0 && len(e.textDec.pending) == 0 {
		return
	}
	start := len(e.textBuf)
	var err error
	e.textBuf, err = e.textDec.write(e.textBuf, raw)
	if err == nil {
		err = checkChars(e.textBuf[start:], line)
	}
	if err != nil {
		e.err = err
		return
	}
	if e.textRaw {
		e.textBuf = e.textBuf[:0]
		return
	}
	if e.wanting > 0 {
		e.acc = append(e.acc, e.textBuf[start:]...)
		e.charge(int64(len(e.textBuf) - start))
	}
	if e.pl.last == lastText {
		e.charge(int64(len(e.textBuf) - start))
	} else {
		e.textBuf = e.textBuf[:0]
	}
}

func (e *streamEval) startText(line int, raw []byte) {
	e.inText = true
	e.textDec = textDecoder{line: line}
	e.textBuf = e.textBuf[:0]
	e.textOrd = e.ord
	e.ord++
	e.textCDL = len(raw) >= 8 && bytes.EqualFold(raw[:8], []byte("![CDATA["))
	e.textRes = e.textRes[:0]
	e.textRaw = e.wanting == 0 && e.pl.last != lastText
	f := &e.frames[len(e.frames)-1]
	first := !f.children
	f.children = true
	if e.pl.last == lastText {
		// Whether the node counts is known at its end: the tree skips a
		// text node of white space that is not its parent's first child.
		e.textFirst = first
	}
}

func (e *streamEval) endText() {
	e.inText = false
	if err := e.textDec.close(); err != nil {
		e.err = err
		return
	}
	if e.pl.last != lastText {
		return
	}
	ws := !e.textCDL && strings.TrimSpace(string(e.textBuf)) == ""
	if ws && !e.textFirst {
		e.charge(-int64(len(e.textBuf)))
		return
	}
	v := string(e.textBuf)
	if e.textCDL {
		v = "" // the library has no value for a CDATA node
	}
	e.charge(-int64(len(e.textBuf)))
	e.textNode(v)
}

// textNode selects a text node of the open element, whose value is v.
func (e *streamEval) textNode(v string) {
	fi := len(e.frames) - 1
	w := e.n + 1
	if e.pl.lastAxis == axisChild {
		e.total += e.count[fi*w+e.n]
		if e.chains != nil {
			for _, c := range e.chains[fi*w+e.n] {
				if r := e.result(c, e.textOrd); r >= 0 {
					e.done(r, v)
				}
			}
		}
		return
	}
	e.total += e.below[fi*w+e.n]
	if e.chains != nil {
		for _, a := range e.active[e.n] {
			for _, c := range e.chains[a*w+e.n] {
				if r := e.result(c, e.textOrd); r >= 0 {
					e.done(r, v)
				}
			}
		}
	}
}

// cdata is a CDATA section: part of its element's value, and a text node
// whose value the library gives as "".
func (e *streamEval) cdata(t *xmltok.Token) {
	e.child()
	e.ord++
	body := t.Raw[len("<![CDATA[") : len(t.Raw)-len("]]>")]
	if e.wanting > 0 {
		start := len(e.acc)
		d := textDecoder{line: t.Line}
		e.acc = normalizeCR(e.acc, body, &d)
		if err := checkChars(e.acc[start:], t.Line); err != nil {
			e.err = err
			return
		}
		e.charge(int64(len(e.acc) - start))
	}
	if e.pl.last == lastText {
		e.textOrd = e.ord - 1
		e.textNode("")
	}
}

// opaqueText is a node the library types as text with the value "".
func (e *streamEval) opaqueText() {
	e.child()
	e.ord++
	if e.pl.last == lastText {
		e.textOrd = e.ord - 1
		e.textNode("")
	}
}

func normalizeCR(dst, b []byte, d *textDecoder) []byte {
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			d.cr = false
			return append(dst, b...)
		}
		dst = append(dst, b[:i]...)
		if i > 0 {
			d.cr = false
		}
		switch {
		case b[i] == '\r':
			dst = append(dst, '\n')
			d.cr = true
		case !d.cr:
			dst = append(dst, '\n')
		default:
			d.cr = false
		}
		b = b[i+1:]
	}
	return dst
}

// test says whether an element passes a step's name test and predicates.
func (e *streamEval) test(s *step, el *element) bool {
	if !s.test.any {
		if string(el.local) != s.test.local {
			return false
		}
		if s.test.ns && el.uri != s.test.uri || !s.test.ns && len(el.prefix) > 0 {
			return false
		}
	}
	for i := range s.preds {
		p := &s.preds[i]
		switch p.kind {
		case predLocalName:
			if string(el.local) != p.value {
				return false
			}
		case predHasAttr, predAttrIs:
			found := false
			for j := range el.attrs {
				a := &el.attrs[j]
				if !e.testAttr(&p.attr, a) {
					continue
				}
				if p.kind == predHasAttr {
					found = true
					break
				}
				v, err := decodeAttr(a.raw, a.line)
				if err != nil && e.err == nil {
					e.err = err
				}
				if v == p.value {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

func (e *streamEval) testAttr(t *nameTest, a *attrView) bool {
	if t.any {
		return true
	}
	if string(a.local) != t.local {
		return false
	}
	if t.ns {
		return a.space == t.uri
	}
	return a.prefix == ""
}

// splitName splits a qualified name as encoding/xml does: at its colon
// when there is one with something either side.
func splitName(q []byte) (prefix, local []byte) {
	i := bytes.IndexByte(q, ':')
	if i <= 0 || i == len(q)-1 || bytes.IndexByte(q[i+1:], ':') >= 0 {
		return nil, q
	}
	return q[:i], q[i+1:]
}

// rawAttr is an attribute as written.
type rawAttr struct{ Name, Value []byte }

// attrsOf reads the attributes of a tag as encoding/xml does, which is
// less strict than xmltok.Token.Attrs: no white space is needed between
// them, and a name may come twice. It stops at what encoding/xml refuses
// (the tree is then not built, and what the query gives does not matter).
func attrsOf(t *xmltok.Token, dst []rawAttr) []rawAttr {
	raw := t.Raw[1+len(t.Name):]
	for {
		raw = bytes.TrimLeft(raw, " \t\r\n")
		i := bytes.IndexAny(raw, " \t\r\n=/>")
		if i <= 0 {
			return dst
		}
		a := rawAttr{Name: raw[:i]}
		raw = bytes.TrimLeft(raw[i:], " \t\r\n")
		if len(raw) == 0 || raw[0] != '=' {
			return dst
		}
		raw = bytes.TrimLeft(raw[1:], " \t\r\n")
		if len(raw) == 0 || raw[0] != '"' && raw[0] != '\'' {
			return dst
		}
		j := bytes.IndexByte(raw[1:], raw[0])
		if j < 0 {
			return dst
		}
		a.Value = raw[1 : 1+j]
		dst = append(dst, a)
		raw = raw[2+j:]
	}
}

// declare takes an element's namespace declarations, as encoding/xml
// does before it resolves the element's names.
func (e *streamEval) declare(attrs []rawAttr) {
	for _, a := range attrs {
		prefix, local := splitName(a.Name)
		switch {
		case string(prefix) == "xmlns":
			e.bind = append(e.bind, binding{string(local), e.decodeURI(a.Value)})
		case prefix == nil && string(local) == "xmlns":
			e.bind = append(e.bind, binding{"", e.decodeURI(a.Value)})
		}
	}
}

func (e *streamEval) decodeURI(raw []byte) string {
	v, _ := decodeAttr(raw, 0) // a bad reference: the tree is not built; anything will do
	return v
}

func (e *streamEval) decodeOrRaw(a attrView) string { return e.decodeURI(a.raw) }

func (e *streamEval) lookup(prefix string) (string, bool) {
	for i := len(e.bind) - 1; i >= 0; i-- {
		if e.bind[i].prefix == prefix {
			return e.bind[i].uri, true
		}
	}
	return "", false
}

// elementSpace is the namespace encoding/xml gives an element.
func (e *streamEval) elementSpace(prefix, local []byte) string {
	switch {
	case string(prefix) == "xmlns":
		return "xmlns"
	case string(prefix) == "xml":
		return nsXML
	case prefix == nil && string(local) == "xmlns":
		return ""
	}
	if uri, ok := e.lookup(string(prefix)); ok {
		return uri
	}
	return string(prefix)
}

// attrSpace is the namespace encoding/xml gives an attribute.
func (e *streamEval) attrSpace(prefix, local []byte) string {
	switch {
	case string(prefix) == "xmlns":
		return "xmlns"
	case prefix == nil:
		return ""
	case string(prefix) == "xml":
		return nsXML
	}
	if uri, ok := e.lookup(string(prefix)); ok {
		return uri
	}
	return string(prefix)
}

// values ends the evaluation.
func (e *streamEval) values() ([]string, error) {
	if e.inText {
		e.endText()
	}
	if e.err != nil {
		return nil, e.err
	}
	switch e.pl.fn {
	case fnCount:
		return []string{formatNumber(e.total)}, nil
	case fnString:
		if e.best < 0 {
			return []string{""}, nil
		}
		return []string{e.results[e.best].val}, nil
	}
	res := e.results[:0]
	for _, r := range e.results {
		if r.ok {
			res = append(res, r)
		}
	}
	slices.SortStableFunc(res, func(a, b qresult) int { return slices.Compare(a.key, b.key) })
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = r.val
	}
	return out, nil
}
