package xmltok

import (
	"bytes"
	"fmt"
	"strings"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// Split splits a qualified name into prefix and local name.
func Split(qname []byte) (prefix, local []byte) {
	if i := bytes.IndexByte(qname, ':'); i >= 0 {
		return qname[:i], qname[i+1:]
	}
	return nil, qname
}

// Namespace URIs every XML document has bound.
const (
	NSXML = "http://www.w3.org/XML/1998/namespace"
)

// Binding is one namespace declaration.
type Binding struct {
	Prefix string // "" for the default namespace
	URI    string
}

// Scope tracks the namespace declarations in force while a document streams
// by: Push each start tag, Pop at each end tag (an empty-element tag is a
// Push and a Pop).
type Scope struct {
	frames []frame
	b      []Binding // declarations, innermost last
	names  []byte    // qualified names of the open elements, back to back
	attrs  []Attr
}

type frame struct{ bindings, name int }

// Push enters an element, taking its namespace declarations.
func (s *Scope) Push(t *Token) error {
	s.frames = append(s.frames, frame{len(s.b), len(s.names)})
	s.names = append(s.names, t.Name...)
	if rest := t.Raw[min(1+len(t.Name), len(t.Raw)):]; string(rest) == ">" || string(rest) == "/>" {
		return nil // no attributes: nothing declared, nothing to check
	}
	var err error
	if !bytes.Contains(t.Raw, []byte("xmlns")) { // the common case: nothing declared
		// Attributes are still checked, so that a tag is refused (or not)
		// whether or not anything prints it; one without any costs nothing.
		if len(t.Raw) > 1+len(t.Name) && bytes.ContainsFunc(t.Raw[1+len(t.Name):], func(r rune) bool {
			return r != ' ' && r != '\t' && r != '\r' && r != '\n' && r != '/' && r != '>'
		}) {
			s.attrs, err = t.Attrs(s.attrs[:0])
		}
		return err
	}
	s.attrs, err = t.Attrs(s.attrs[:0])
	if err != nil {
		return err
	}
	for _, a := range s.attrs {
		switch {
		case string(a.Name) == "xmlns":
			s.b = append(s.b, Binding{"", string(a.Value)})
		case bytes.HasPrefix(a.Name, []byte("xmlns:")):
			if len(a.Name) == len("xmlns:") { // not a QName (Namespaces in XML §3): it would rebind the default namespace
				return t.errorf("attribute xmlns: names no prefix")
			}
			if len(a.Value) == 0 {
				return t.errorf("namespace prefix %s bound to an empty URI", a.Name[6:])
			}
			s.b = append(s.b, Binding{string(a.Name[6:]), string(a.Value)})
		}
	}
	return nil
}

// Pop leaves the innermost element. For an end tag it checks that the tag
// closes the element that is open.
func (s *Scope) Pop(t *Token) error {
	n := len(s.frames)
	if n == 0 {
		return &SyntaxError{Line: t.Line, Msg: "end tag </" + string(t.Name) + "> without a start tag"}
	}
	f := s.frames[n-1]
	if t.Kind == EndTag && !bytes.Equal(s.names[f.name:], t.Name) {
		return &SyntaxError{Line: t.Line, Msg: "element <" + string(s.names[f.name:]) + "> closed by </" + string(t.Name) + ">"}
	}
	s.b = s.b[:f.bindings]
	s.names = s.names[:f.name]
	s.frames = s.frames[:n-1]
	return nil
}

// Open is the qualified name of the innermost open element.
func (s *Scope) Open() []byte {
	if n := len(s.frames); n > 0 {
		return s.names[s.frames[n-1].name:]
	}
	return nil
}

// Depth is the number of open elements.
func (s *Scope) Depth() int { return len(s.frames) }

// URI resolves a prefix ("" for the default namespace); ok is false for an
// undeclared prefix.
func (s *Scope) URI(prefix []byte) (uri string, ok bool) {
	if string(prefix) == "xml" {
		return NSXML, true
	}
	for i := len(s.b) - 1; i >= 0; i-- {
		if s.b[i].Prefix == string(prefix) {
			return s.b[i].URI, true
		}
	}
	return "", len(prefix) == 0
}

// InScope returns the declarations in force, one per prefix, innermost
// winning, in the order they were declared.
func (s *Scope) InScope() []Binding {
	var out []Binding
	seen := map[string]bool{}
	for i := len(s.b) - 1; i >= 0; i-- {
		if !seen[s.b[i].Prefix] {
			seen[s.b[i].Prefix] = true
			out = append(out, s.b[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Declare returns a start tag with declarations added for every binding in
// scope that the tag does not itself declare, so the element stands alone
// outside its ancestors. An unused default namespace of "" is left out.
func Declare(t *Token, scope []Binding) ([]byte, error) {
	attrs, err := t.Attrs(nil)
	if err != nil {
		return nil, err
	}
	own := map[string]bool{}
	for _, a := range attrs {
		switch {
		case string(a.Name) == "xmlns":
			own[""] = true
		case bytes.HasPrefix(a.Name, []byte("xmlns:")):
			own[string(a.Name[6:])] = true
		}
	}
	var extra bytes.Buffer
	for _, b := range scope {
		if own[b.Prefix] || (b.Prefix == "" && b.URI == "") {
			continue
		}
		// URIs are kept as written, entity references included, so they
		// are copied, not escaped; only the quote is chosen.
		q := `"`
		if strings.Contains(b.URI, `"`) {
			q = `'`
		}
		if b.Prefix == "" {
			extra.WriteString(` xmlns=` + q)
		} else {
			extra.WriteString(` xmlns:` + b.Prefix + `=` + q)
		}
		extra.WriteString(b.URI + q)
	}
	raw := t.Raw
	if extra.Len() == 0 {
		return raw, nil
	}
	cut := len(raw) - 1
	if t.Kind == EmptyTag {
		cut--
	}
	out := make([]byte, 0, len(raw)+extra.Len())
	out = append(out, bytes.TrimRight(raw[:cut], " \t\r\n")...)
	out = append(out, extra.Bytes()...)
	return append(out, raw[cut:]...), nil
}
