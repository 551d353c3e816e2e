package reply

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
)

// XPathError is an expression the XPath library could not compile or
// evaluate; its message is the library's, for the caller to put the
// expression in context.
type XPathError struct {
	Expr string
	Err  error
}

func (e *XPathError) Error() string { return e.Err.Error() }
func (e *XPathError) Unwrap() error { return e.Err }

// CompileXPath compiles an XPath 1.0 expression with prefixes bound by ns.
// The XPath library is not known never to panic on odd input: a panic is
// returned as an error.
func CompileXPath(expr string, ns map[string]string) (e *xpath.Expr, err error) {
	defer func() {
		if r := recover(); r != nil {
			e, err = nil, &XPathError{Expr: expr, Err: fmt.Errorf("%v", r)}
		}
	}()
	e, err = xpath.CompileWithNS(expr, ns)
	if err != nil {
		return nil, &XPathError{Expr: expr, Err: err}
	}
	return e, nil
}

// Values evaluates e over a whole document: the string value of each node
// it selects, or its one number, boolean or string.
func Values(doc []byte, e *xpath.Expr) ([]string, error) {
	root, err := xmlquery.Parse(bytes.NewReader(bytes.TrimPrefix(doc, bom)))
	if err != nil {
		return nil, err
	}
	return values(root, e)
}

// Values evaluates e over the reply, as the package function does.
func (r *Reply) Values(e *xpath.Expr) ([]string, error) { return values(r.doc, e) }

// Matches reports whether e holds for the reply, as XPath's boolean()
// has it: a node-set that is not empty, a number not 0, a string not "".
func (r *Reply) Matches(e *xpath.Expr) (ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			ok, err = false, &XPathError{Expr: e.String(), Err: fmt.Errorf("%v", p)}
		}
	}()
	switch v := e.Evaluate(xmlquery.CreateXPathNavigator(r.doc)).(type) {
	case *xpath.NodeIterator:
		return v.MoveNext(), nil
	case float64:
		return v != 0 && v == v, nil
	case bool:
		return v, nil
	case string:
		return v != "", nil
	}
	return false, nil
}

func values(root *xmlquery.Node, e *xpath.Expr) (out []string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, &XPathError{Expr: e.String(), Err: fmt.Errorf("%v", r)}
		}
	}()
	switch v := e.Evaluate(xmlquery.CreateXPathNavigator(root)).(type) {
	case *xpath.NodeIterator:
		for v.MoveNext() {
			out = append(out, v.Current().Value())
		}
	case float64:
		out = append(out, strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		out = append(out, strconv.FormatBool(v))
	case string:
		out = append(out, v)
	default:
		out = append(out, fmt.Sprint(v))
	}
	return out, nil
}
