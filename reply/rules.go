package reply

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
)

// ErrorDecl declares how a server reports errors or warnings inside a
// successful reply: the element that reports them, and how to read Problems
// out of it with XPath expressions relative to that element. A dialect's
// manifest declares these as [[errors]] tables, with the keys of the toml
// tags. SOAP faults need no declaration.
type ErrorDecl struct {
	Kind        string `toml:"kind"`              // the Problem's Kind, e.g. "XMLA error" (required)
	WarningKind string `toml:"warning_kind"`      // the Kind of the problems that are warnings; Kind when ""
	Element     QNames `toml:"element"`           // the element: "prefix:local" with a prefix of the namespaces, or "local" for no namespace (required)
	Parent      string `toml:"parent"`            // only where the element's parent has this local name
	InBody      bool   `toml:"in_body"`           // only inside the SOAP Body (Envelope/Body)
	Each        string `toml:"each"`              // XPath selecting the elements that are one problem each; "" for one problem, the element itself
	Severity    string `toml:"severity"`          // "error" (when ""), "warning", or an XPath that is true for an error and false for a warning
	Code        string `toml:"code"`              // XPath for Problem.Code
	Message     string `toml:"message"`           // XPath for Problem.Message
	Detail      string `toml:"detail"`            // XPath for Problem.Detail
	Source      string `toml:"source"`            // XPath for Problem.Source
	HRESULT     bool   `toml:"hresult"`           // the code is an HRESULT in decimal: the summary shows it in hex too
	DetailFirst bool   `toml:"detail_after_code"` // the summary puts the detail in parentheses after the code, not after the message
	SourceWord  string `toml:"source_word"`       // the word before the source in the summary; "from" when ""
}

// QNames is one element name or several; in TOML a string or an array of
// strings.
type QNames []string

// UnmarshalTOML takes a string or an array of strings (toml.Unmarshaler).
func (q *QNames) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*q = QNames{v}
		return nil
	case []any:
		out := make(QNames, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("element: want a string or an array of strings, not an array holding %T", e)
			}
			out = append(out, s)
		}
		*q = out
		return nil
	}
	return fmt.Errorf("element: want a string or an array of strings, not %T", v)
}

// DeclError is a mistake in an ErrorDecl. Key names the field at fault by
// its manifest key (toml tag), e.g. "each".
type DeclError struct {
	Key string
	Err error
}

func (e *DeclError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *DeclError) Unwrap() error { return e.Err }

// ErrorRule is a checked ErrorDecl, ready for Stream (StreamOptions.Errors),
// Watch and ProblemsIn. It is safe for concurrent use.
type ErrorRule struct {
	decl  ErrorDecl
	names []qname
	sev   Severity // the fixed severity, when decl.Severity is not an XPath
	byXP  bool     // the severity is an XPath
	// Compiled expressions, one set per goroutine: an xpath.Expr keeps
	// state while it is evaluated.
	pool *sync.Pool
}

type qname struct{ ns, local string }

// exprs are a rule's compiled XPath expressions; nil where not declared.
type exprs struct {
	each, severity, code, message, detail, source *xpath.Expr
}

// isNCName reports whether s is a name without a colon, as the rules read
// it: a letter or _ first, then letters, digits, _ . - and U+00B7. (A
// loop, not a regexp: compiling the Unicode classes cost every run that
// loads a dialect 0.15 ms.)
func isNCName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (unicode.IsDigit(r) || unicode.IsNumber(r) || r == '.' || r == '-' || r == '\u00B7'):
		default:
			return false
		}
	}
	return s != ""
}

// NewErrorRule checks a declaration: its element names and their prefixes,
// which must be in namespaces, and its XPath expressions, whose prefixes are
// bound by namespaces too. Its error is a *DeclError.
func NewErrorRule(d ErrorDecl, namespaces map[string]string) (ErrorRule, error) {
	fail := func(key string, err error) (ErrorRule, error) { return ErrorRule{}, &DeclError{key, err} }
	ns := make(map[string]string, len(namespaces))
	for p, u := range namespaces {
		ns[p] = u
	}
	r := ErrorRule{decl: d}
	r.decl.Element = slices.Clone(d.Element)
	if strings.TrimSpace(d.Kind) == "" {
		return fail("kind", errors.New("a label for the summary is required, e.g. \"XMLA error\""))
	}
	if len(d.Element) == 0 {
		return fail("element", errors.New("the QName of the element that reports a problem is required"))
	}
	for _, el := range d.Element {
		prefix, local, found := strings.Cut(el, ":")
		if !found {
			prefix, local = "", el
		}
		if !isNCName(local) || found && !isNCName(prefix) {
			return fail("element", fmt.Errorf("%q is not a QName (prefix:local or local)", el))
		}
		if local == "Fault" {
			return fail("element", fmt.Errorf("%q: a Fault is read as a SOAP fault, whatever its namespace", el))
		}
		uri := ""
		if found {
			var ok bool
			if uri, ok = ns[prefix]; !ok {
				return fail("element", fmt.Errorf("%q: prefix %q is not in [namespaces]", el, prefix))
			}
		}
		r.names = append(r.names, qname{uri, local})
	}
	if d.Parent != "" && !isNCName(d.Parent) {
		return fail("parent", fmt.Errorf("%q is not a local name", d.Parent))
	}
	switch d.Severity {
	case "", "error":
		r.sev = SeverityError
	case "warning":
		r.sev = SeverityWarning
	default:
		r.byXP = true
	}
	sev := ""
	if r.byXP {
		sev = d.Severity
	}
	for _, x := range []struct{ key, expr string }{
		{"each", d.Each}, {"severity", sev}, {"code", d.Code}, {"message", d.Message}, {"detail", d.Detail}, {"source", d.Source},
	} {
		if x.expr == "" {
			continue
		}
		e, err := CompileXPath(x.expr, ns)
		if err != nil {
			return fail(x.key, fmt.Errorf("bad XPath %q: %w", x.expr, err))
		}
		if x.key == "each" {
			if _, ok := e.Evaluate(xmlquery.CreateXPathNavigator(&xmlquery.Node{Type: xmlquery.ElementNode, Data: "x"})).(*xpath.NodeIterator); !ok {
				return fail(x.key, fmt.Errorf("XPath %q selects no elements: it is a string, number or boolean", x.expr))
			}
		}
	}
	r.pool = &sync.Pool{New: func() any {
		var c exprs
		for _, x := range []struct {
			to   **xpath.Expr
			expr string
		}{{&c.each, d.Each}, {&c.severity, sev}, {&c.code, d.Code}, {&c.message, d.Message}, {&c.detail, d.Detail}, {&c.source, d.Source}} {
			if x.expr != "" {
				*x.to, _ = CompileXPath(x.expr, ns) // checked above
			}
		}
		return &c
	}}
	return r, nil
}

func (r *ErrorRule) named(ns, local string) bool {
	for _, n := range r.names {
		if n.local == local && n.ns == ns {
			return true
		}
	}
	return false
}

// watches reports whether the rule reads the element ns:local at path (the
// local names of its ancestors, root first).
func (r *ErrorRule) watches(ns, local string, path []string) bool {
	if !r.named(ns, local) {
		return false
	}
	if r.decl.Parent != "" && (len(path) == 0 || path[len(path)-1] != r.decl.Parent) {
		return false
	}
	if r.decl.InBody && (len(path) < 2 || path[0] != "Envelope" || path[1] != "Body") {
		return false
	}
	return true
}

// watchesRaw is watches on the bytes of the local names, for the streamer:
// parent is the parent's local name (nil at the root), inBody whether the
// element is below Envelope/Body.
func (r *ErrorRule) watchesRaw(ns string, local, parent []byte, inBody bool) bool {
	named := false
	for _, n := range r.names {
		if string(local) == n.local && n.ns == ns {
			named = true
			break
		}
	}
	return named && (r.decl.Parent == "" || parent != nil && string(parent) == r.decl.Parent) && (!r.decl.InBody || inBody)
}

// watchesNode is watches for an element inside a fault's detail, which
// stands in the Body.
func (r *ErrorRule) watchesNode(n *xmlquery.Node) bool {
	if !r.named(n.NamespaceURI, n.Data) {
		return false
	}
	return r.decl.Parent == "" || n.Parent != nil && n.Parent.Type == xmlquery.ElementNode && n.Parent.Data == r.decl.Parent
}

// problems reads the problems out of an element the rule watches.
func (r *ErrorRule) problems(el *xmlquery.Node) []Problem {
	c := r.pool.Get().(*exprs)
	defer r.pool.Put(c)
	nodes := []*xmlquery.Node{el}
	if c.each != nil {
		nodes = nodes[:0]
		it := c.each.Select(xmlquery.CreateXPathNavigator(el))
		for it.MoveNext() {
			if nav, ok := it.Current().(*xmlquery.NodeNavigator); ok && nav.NodeType() == xpath.ElementNode {
				nodes = append(nodes, nav.Current())
			}
		}
	}
	var out []Problem
	for _, n := range nodes {
		p := Problem{Kind: r.decl.Kind, Severity: r.sev, hresult: r.decl.HRESULT, detailFirst: r.decl.DetailFirst, sourceWord: r.decl.SourceWord}
		if r.byXP && !truth(c.severity.Evaluate(xmlquery.CreateXPathNavigator(n))) {
			p.Severity = SeverityWarning
		}
		if p.Severity == SeverityWarning && r.decl.WarningKind != "" {
			p.Kind = r.decl.WarningKind
		}
		p.Code = value(c.code, n)
		p.Message = value(c.message, n)
		p.Detail = value(c.detail, n)
		p.Source = value(c.source, n)
		out = append(out, p)
	}
	return out
}

// value is what an expression says of n, white space collapsed: the first
// node it selects (an element's text with its child elements' boundaries
// read as white space), or its string, number or boolean value.
func value(e *xpath.Expr, n *xmlquery.Node) string {
	if e == nil {
		return ""
	}
	switch v := e.Evaluate(xmlquery.CreateXPathNavigator(n)).(type) {
	case *xpath.NodeIterator:
		if !v.MoveNext() {
			return ""
		}
		nav := v.Current()
		if x, ok := nav.(*xmlquery.NodeNavigator); ok && nav.NodeType() == xpath.ElementNode {
			return textContent(x.Current(), nil)
		}
		return collapse(nav.Value())
	case string:
		return collapse(v)
	case float64:
		switch {
		case math.IsNaN(v):
			return "NaN"
		case math.IsInf(v, 1):
			return "Infinity"
		case math.IsInf(v, -1):
			return "-Infinity"
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// truth is XPath's boolean() of an expression's result.
func truth(v any) bool {
	switch v := v.(type) {
	case *xpath.NodeIterator:
		return v.MoveNext()
	case string:
		return v != ""
	case float64:
		return v != 0 && !math.IsNaN(v)
	case bool:
		return v
	}
	return false
}
