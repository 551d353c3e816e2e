package envelope

import (
	"errors"
	"fmt"
	"slices"

	"github.com/antchfx/xpath"

	"github.com/soapsess/soapsess/reply"
)

// CaptureDecl is a [[captures]] table of a manifest: a value a reply
// carries that later requests need, kept as a session variable.
//
//	[[captures]]
//	name  = "transaction"                                        # the variable
//	value = "//tx:SqlTransaction[tx:Type='Begin']/tx:Descriptor" # XPath: its new value
//	clear = "//tx:SqlTransaction[tx:Type='Commit' or tx:Type='Rollback']" # XPath: when it goes
type CaptureDecl struct {
	Name  string `toml:"name"`
	Value string `toml:"value"`
	Clear string `toml:"clear"`
	// EndWarning is said when a session ends with the variable set (an
	// open transaction the server rolls back).
	EndWarning string `toml:"end_warning"`
}

// Capture is a compiled capture: after a reply, Clear (when set and true)
// removes the variable Name, and Value (when set and it selects something)
// sets it to the first value it selects.
type Capture struct {
	Name         string
	Value, Clear *xpath.Expr
	EndWarning   string
	// XPath and NS are Value's source and prefixes, for a capture given
	// with a request (see CompileCapture); kept to compile it again.
	XPath string
	NS    map[string]string
}

// CompileCapture is the capture that keeps the first value expr selects
// as variable name; ns binds expr's prefixes.
func CompileCapture(name, expr string, ns map[string]string) (Capture, error) {
	if err := CheckVarName(name); err != nil {
		return Capture{}, err
	}
	e, err := reply.CompileXPath(expr, ns)
	if err != nil {
		return Capture{}, err
	}
	return Capture{Name: name, Value: e, XPath: expr, NS: ns}, nil
}

// ErrBadVarName is wrapped by the error for a variable name templates
// cannot use.
var ErrBadVarName = errors.New("a variable name is letters, digits and _, starting with a letter or _")

// CheckVarName reports whether name can be a template variable
// ({{.Var.name}}).
func CheckVarName(name string) error {
	ok := name != ""
	for i, c := range name {
		ok = ok && (c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9')
	}
	if !ok {
		return fmt.Errorf("%q: %w", name, ErrBadVarName)
	}
	return nil
}

// compileCaptures checks the manifest's [[captures]] tables; an error
// names the file and line of the key at fault.
func (d *Dialect) compileCaptures(raw []byte, file string) error {
	m := &d.manifest
	for i, c := range m.Captures {
		at := func(key string) string { return fmt.Sprintf("%s:%d", file, tableLine(raw, "captures", i, key)) }
		if err := CheckVarName(c.Name); err != nil {
			return &DialectError{at("name"), fmt.Errorf("[[captures]] #%d: name %w", i+1, err)}
		}
		if c.Value == "" && c.Clear == "" {
			return &DialectError{at(""), fmt.Errorf("[[captures]] #%d: give value, clear or both", i+1)}
		}
		cp := Capture{Name: c.Name, EndWarning: c.EndWarning}
		for _, x := range []struct {
			key, expr string
			to        **xpath.Expr
		}{{"value", c.Value, &cp.Value}, {"clear", c.Clear, &cp.Clear}} {
			if x.expr == "" {
				continue
			}
			e, err := reply.CompileXPath(x.expr, m.Namespaces)
			if err != nil {
				return &DialectError{at(x.key), fmt.Errorf("[[captures]] #%d: %s: bad XPath %q: %w", i+1, x.key, x.expr, err)}
			}
			*x.to = e
		}
		d.captures = append(d.captures, cp)
	}
	return nil
}

// Captures are the dialect's own captures, applied after every reply of a
// session.
func (d *Dialect) Captures() []Capture { return append([]Capture(nil), d.captures...) }

// BeginOnly reports whether a variable belongs to the initiating request
// only (the manifest's [session] begin_only: login options).
func (d *Dialect) BeginOnly(name string) bool {
	return slices.Contains(d.manifest.Session.BeginOnly, name)
}
