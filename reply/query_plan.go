package reply

import (
	"unicode"
	"unicode/utf8"
)

// A plan is a location path simple enough to evaluate while the document
// streams by: absolute, of child (/) and descendant (//) steps with name
// tests and predicates that look only at the element itself, ending in an
// element, an attribute or text(); alone, or in count() or string().
type plan struct {
	steps    []step // the element steps, from the document node
	last     lastKind
	lastAxis axis     // lastAttr: axisChild (/@a) or axisSelfOrBelow (//@a); lastText: axisChild or axisBelow
	attr     nameTest // lastAttr's test
	fn       fnKind
	attrs    bool // some test looks at attributes
}

type axis uint8

const (
	axisChild       axis = iota
	axisBelow            // descendant
	axisSelfOrBelow      // descendant-or-self, before a final @
)

type lastKind uint8

const (
	lastElement lastKind = iota
	lastAttr
	lastText
)

type fnKind uint8

const (
	fnNone fnKind = iota
	fnCount
	fnString
)

type step struct {
	axis  axis
	test  nameTest
	preds []pred
}

// nameTest is a node test as the XPath library applies it: * matches any
// element (processing instructions too: the tree calls them elements), a
// prefixed name by local name and namespace URI, an unprefixed one by
// local name and an empty prefix.
type nameTest struct {
	any   bool
	local string
	uri   string
	ns    bool // prefixed: compare uri
}

type predKind uint8

const (
	predLocalName predKind = iota // [local-name() = 'x']
	predHasAttr                   // [@a]
	predAttrIs                    // [@a = 'x']
)

type pred struct {
	kind  predKind
	attr  nameTest
	value string // the local name or the attribute value compared with
}

// planOf reads src as a plan, or returns nil when it is not one. It is
// given only expressions the XPath library compiled, with the same
// prefixes, so it need not explain what it turns down.
func planOf(src string, ns map[string]string) *plan {
	p := &planner{src: src, ns: ns}
	p.next()
	pl := &plan{}
	switch {
	case p.is(tokName, "count") && p.peekIs('('):
		pl.fn = fnCount
	case p.is(tokName, "string") && p.peekIs('('):
		pl.fn = fnString
	}
	if pl.fn != fnNone {
		p.next()
		p.next()
	}
	if !p.path(pl) {
		return nil
	}
	if pl.fn != fnNone {
		if !p.is(tokPunct, ")") {
			return nil
		}
		p.next()
	}
	if p.tok != tokEOF {
		return nil
	}
	return pl
}

func (p *planner) path(pl *plan) bool {
	if !p.is(tokPunct, "/") && !p.is(tokPunct, "//") {
		return false
	}
	for p.is(tokPunct, "/") || p.is(tokPunct, "//") {
		below := p.text == "//"
		p.next()
		switch {
		case p.is(tokPunct, "@"):
			p.next()
			t, ok := p.nameTest()
			if !ok || (!below && len(pl.steps) == 0) {
				return false
			}
			pl.last, pl.attr, pl.attrs = lastAttr, t, true
			pl.lastAxis = axisChild
			if below {
				pl.lastAxis = axisSelfOrBelow
			}
			return !p.is(tokPunct, "/") && !p.is(tokPunct, "//") && !p.is(tokPunct, "[")
		case p.is(tokName, "text") && p.peekIs('('):
			p.next()
			p.next()
			if !p.is(tokPunct, ")") || len(pl.steps) == 0 {
				return false
			}
			p.next()
			pl.last = lastText
			pl.lastAxis = axisChild
			if below {
				pl.lastAxis = axisBelow
			}
			return !p.is(tokPunct, "/") && !p.is(tokPunct, "//") && !p.is(tokPunct, "[")
		}
		if p.tok == tokName && p.peekIs('(') {
			return false // node(), comment(), a function
		}
		t, ok := p.nameTest()
		if !ok {
			return false
		}
		s := step{axis: axisChild, test: t}
		if below {
			s.axis = axisBelow
		}
		for p.is(tokPunct, "[") {
			p.next()
			pr, ok := p.pred()
			if !ok || !p.is(tokPunct, "]") {
				return false
			}
			p.next()
			if pr.kind != predLocalName {
				pl.attrs = true
			}
			s.preds = append(s.preds, pr)
		}
		pl.steps = append(pl.steps, s)
	}
	return true
}

// nameTest reads *, name or prefix:name.
func (p *planner) nameTest() (nameTest, bool) {
	switch {
	case p.is(tokPunct, "*"):
		p.next()
		return nameTest{any: true}, true
	case p.tok != tokName:
		return nameTest{}, false
	}
	first := p.text
	p.next()
	if !p.is(tokPunct, ":") || p.spaced {
		return nameTest{local: first}, true
	}
	p.next()
	if p.tok != tokName || p.spaced {
		return nameTest{}, false // prefix:*, or not a name
	}
	uri, ok := p.ns[first]
	if !ok || uri == "" {
		return nameTest{}, false
	}
	local := p.text
	p.next()
	return nameTest{local: local, uri: uri, ns: true}, true
}

// pred reads local-name() = 'x', @a, or @a = 'x' (either way round).
func (p *planner) pred() (pred, bool) {
	if p.tok == tokLiteral {
		lit := p.text
		p.next()
		if !p.is(tokPunct, "=") {
			return pred{}, false
		}
		p.next()
		pr, ok := p.predSubject()
		if !ok || pr.kind == predHasAttr && p.is(tokPunct, "=") {
			return pred{}, false
		}
		if pr.kind == predHasAttr {
			pr.kind = predAttrIs
		}
		pr.value = lit
		return pr, true
	}
	pr, ok := p.predSubject()
	if !ok || !p.is(tokPunct, "=") {
		return pr, ok && pr.kind == predHasAttr
	}
	p.next()
	if p.tok != tokLiteral {
		return pred{}, false
	}
	if pr.kind == predHasAttr {
		pr.kind = predAttrIs
	}
	pr.value = p.text
	p.next()
	return pr, true
}

// predSubject reads local-name() (kind predLocalName) or @a (predHasAttr).
func (p *planner) predSubject() (pred, bool) {
	switch {
	case p.is(tokName, "local-name") && p.peekIs('('):
		p.next()
		p.next()
		if !p.is(tokPunct, ")") {
			return pred{}, false
		}
		p.next()
		return pred{kind: predLocalName}, true
	case p.is(tokPunct, "@"):
		p.next()
		t, ok := p.nameTest()
		return pred{kind: predHasAttr, attr: t}, ok
	}
	return pred{}, false
}

// planner is a small XPath lexer for planOf.
type planner struct {
	src    string
	ns     map[string]string
	pos    int
	tok    tokKind
	text   string
	spaced bool // white space before the token
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokName
	tokLiteral
	tokPunct
	tokOther
)

func (p *planner) is(k tokKind, text string) bool { return p.tok == k && p.text == text }

// peekIs says whether the next token, after any white space, starts with c.
func (p *planner) peekIs(c byte) bool {
	i := p.pos
	for i < len(p.src) && isXPathSpace(p.src[i]) {
		i++
	}
	return i < len(p.src) && p.src[i] == c
}

func isXPathSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *planner) next() {
	start := p.pos
	for p.pos < len(p.src) && isXPathSpace(p.src[p.pos]) {
		p.pos++
	}
	p.spaced = p.pos > start
	if p.pos >= len(p.src) {
		p.tok, p.text = tokEOF, ""
		return
	}
	c := p.src[p.pos]
	switch {
	case c == '/' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '/':
		p.tok, p.text = tokPunct, "//"
		p.pos += 2
	case c == '/' || c == '@' || c == '*' || c == '[' || c == ']' || c == '(' || c == ')' || c == '=' || c == ':':
		p.tok, p.text = tokPunct, p.src[p.pos:p.pos+1]
		p.pos++
	case c == '"' || c == '\'':
		end := -1
		for i := p.pos + 1; i < len(p.src); i++ {
			if p.src[i] == c {
				end = i
				break
			}
		}
		if end < 0 {
			p.tok, p.text = tokOther, ""
			p.pos = len(p.src)
			return
		}
		p.tok, p.text = tokLiteral, p.src[p.pos+1:end]
		p.pos = end + 1
	default:
		n := ncNameLen(p.src[p.pos:])
		if n == 0 {
			p.tok, p.text = tokOther, ""
			p.pos = len(p.src)
			return
		}
		p.tok, p.text = tokName, p.src[p.pos:p.pos+n]
		p.pos += n
	}
}

// ncNameLen is the length of the NCName s starts with, 0 if none. Only
// letters, digits, '.', '-' and '_' are taken: a name with anything else
// is left to the XPath library.
func ncNameLen(s string) int {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		ok := r == '_' || unicode.IsLetter(r)
		if i > 0 {
			ok = ok || r == '-' || r == '.' || unicode.IsDigit(r)
		}
		if !ok || r == utf8.RuneError {
			break
		}
		i += size
	}
	return i
}
