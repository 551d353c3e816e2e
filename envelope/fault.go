package envelope

import (
	"strings"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
)

// Fault is a SOAP fault, in either SOAP version's shape.
type Fault struct {
	Code     string   // faultcode, or Code/Value, as written
	Subcodes []string // SOAP 1.2 Subcode values, outermost first
	String   string   // faultstring, or the first Reason/Text
	Actor    string   // faultactor, or Node
	Detail   string   // the text of detail/Detail, white space collapsed
}

// Text is everything the fault says, on one line, for matching.
func (f *Fault) Text() string {
	parts := append([]string{f.Code}, f.Subcodes...)
	parts = append(parts, f.String, f.Actor, f.Detail)
	return strings.Join(parts, " ")
}

var faultPaths = []string{
	"/s11:Envelope/s11:Body/s11:Fault",
	"/s12:Envelope/s12:Body/s12:Fault",
	// Real stacks mix the versions' shapes and namespaces, so fall back to
	// local names (see notes/ecosystem.md §3.5).
	"/*[local-name()='Envelope']/*[local-name()='Body']/*[local-name()='Fault']",
}

var soapNS = map[string]string{"s11": NSSOAP11, "s12": NSSOAP12}

func findFault(doc *xmlquery.Node) *Fault {
	var n *xmlquery.Node
	for _, p := range faultPaths {
		e, err := xpath.CompileWithNS(p, soapNS)
		if err != nil {
			panic(err) // constant expressions
		}
		if n = xmlquery.QuerySelector(doc, e); n != nil {
			break
		}
	}
	if n == nil {
		return nil
	}
	f := &Fault{
		Code:   first(n, "faultcode", "Code/*[local-name()='Value']"),
		String: first(n, "faultstring", "Reason/*[local-name()='Text']"),
		Actor:  first(n, "faultactor", "Node"),
		Detail: collapse(first(n, "detail", "Detail")),
	}
	code := xmlquery.FindOne(n, "*[local-name()='Code']")
	for code != nil {
		sub := xmlquery.FindOne(code, "*[local-name()='Subcode']")
		if sub == nil {
			break
		}
		if v := xmlquery.FindOne(sub, "*[local-name()='Value' or local-name()='value']"); v != nil {
			f.Subcodes = append(f.Subcodes, strings.TrimSpace(v.InnerText()))
		}
		code = sub
	}
	return f
}

// first returns the text of the first child path (by local names) present.
func first(n *xmlquery.Node, paths ...string) string {
	for _, p := range paths {
		steps := strings.Split(p, "/")
		for i, s := range steps {
			if !strings.HasPrefix(s, "*") {
				steps[i] = "*[local-name()='" + s + "']"
			}
		}
		if c := xmlquery.FindOne(n, strings.Join(steps, "/")); c != nil {
			return strings.TrimSpace(c.InnerText())
		}
	}
	return ""
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
