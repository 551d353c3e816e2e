package reply

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"

	"github.com/antchfx/xmlquery"
)

// Kinds of the problems read here; the others come from the ErrorRules.
const (
	kindFault11 = "SOAP 1.1 fault"
	kindFault12 = "SOAP 1.2 fault"
)

// Severity of a Problem.
type Severity int

const (
	SeverityError Severity = iota
	SeverityWarning
)

// Problem is an error or warning a reply reports: a SOAP fault, or an error
// reported inside a successful body, as an ErrorRule reads it (the built-in
// dialects' rules give the kinds "DSML errorResponse", "XMLA error", "XMLA
// warning" and "SQL Server message").
type Problem struct {
	Kind     string   // "SOAP 1.1 fault", "SOAP 1.2 fault", or the rule's kind
	Severity Severity // SeverityWarning only as a rule says (e.g. XMLA warnings, SQL Server messages of class 10 or less)
	Code     string   // as written: faultcode / Code/Value text; the rule's code (DSML type, XMLA ErrorCode, SQL Number)
	CodeNS   string   // namespace URI the QName fault code's prefix resolves to in scope ("" if unprefixed or unresolvable)
	Subcodes []string // SOAP 1.2 Subcode values, outermost first (also the 1.2 fault SQL Server embeds in a 1.1 detail)
	Message  string   // faultstring / Reason/Text (first, or the one with xml:lang starting "en"); the rule's message
	Actor    string   // faultactor, or Node; Role appended as "role=…" when present
	Source   string   // Source of the XMLA Errors in a fault's detail; the rule's source
	Detail   string   // the fault's detail text, white space collapsed (XMLA Error descriptions joined "; "); the rule's detail
	Mixed    string   // non-empty when the shape does not match the envelope version, e.g. "1.1-shaped fault in a SOAP 1.2 envelope", or "lowercase value"

	// How Summary shows it, as the rule says (ErrorDecl.HRESULT,
	// DetailFirst, SourceWord).
	hresult, detailFirst bool
	sourceWord           string
}

// Summary is one line for humans, e.g.
//
//	SOAP 1.1 fault SOAP-ENV:Client ({http://schemas.xmlsoap.org/soap/envelope/}Client): SOAP Invalid Request [Bad Session Request]
//	XMLA error 3238658125 (0xC10A004D) from Microsoft SQL Server 2008 R2 Analysis Services: Query (1, 77) The Fiscal hierarchy ...
//	DSML errorResponse notAttempted: <message>
//	SQL Server message 208 (class 16, state 1) on Server=X Procedure=p Line=3: Invalid object name 'x'.
func (p Problem) Summary() string {
	var b strings.Builder
	b.WriteString(p.Kind)
	if p.Code != "" {
		b.WriteString(" " + collapse(p.Code))
	}
	if h := hresultHex(p); h != "" {
		b.WriteString(" (" + h + ")")
	}
	if p.CodeNS != "" {
		local := p.Code[strings.IndexByte(p.Code, ':')+1:]
		b.WriteString(" ({" + p.CodeNS + "}" + local + ")")
	}
	for _, s := range p.Subcodes {
		b.WriteString(" / " + s)
	}
	detail := p.Detail
	if p.detailFirst {
		if detail != "" {
			b.WriteString(" (" + detail + ")")
		}
		detail = ""
	}
	if p.Source != "" {
		word := p.sourceWord
		if word == "" {
			word = "from"
		}
		b.WriteString(" " + word + " " + collapse(p.Source))
	}
	if p.Actor != "" {
		b.WriteString(" at " + collapse(p.Actor))
	}
	msg := collapse(p.Message)
	if detail != "" && detail != msg {
		if msg == "" {
			msg = detail
		} else {
			msg += " [" + detail + "]"
		}
	}
	if msg != "" {
		b.WriteString(": " + msg)
	}
	if p.Mixed != "" {
		b.WriteString(" (" + p.Mixed + ")")
	}
	return b.String()
}

// hresultHex is a code the rule says is an HRESULT (XMLA's ErrorCode and
// WarningCode) as the 32-bit value it stands for, in hex. Servers write it in
// decimal: unsigned, as Analysis Services' "Handling Errors and Warnings
// (XMLA)" types it (SSAS 2008 R2: ErrorCode="3238658125" is 0xC10A004D), or
// signed, as newer SSAS and Tabular do (ErrorCode="-1055784777" is
// 0xC11200B7).
func hresultHex(p Problem) string {
	if !p.hresult {
		return ""
	}
	v, err := strconv.ParseInt(strings.TrimSpace(p.Code), 10, 64)
	if err != nil || v < -1<<31 || v > 1<<32-1 {
		return ""
	}
	return fmt.Sprintf("0x%08X", uint32(v))
}

// Watch reports whether the element with namespace URI ns and local name
// local, at the given path of ancestor local names from the root (path[0] is
// the root element's local name, e.g. ["Envelope","Body"]), is one the caller
// must capture and pass to ProblemsIn: a SOAP fault, or an element one of
// the rules reads. It must be cheap: it is called for every start tag of a
// large document whose local name is a Fault's or a rule's.
func Watch(rules []ErrorRule, ns, local string, path []string) bool {
	if local == "Fault" {
		// Any namespace: real stacks put either version's Fault in either
		// envelope (SOAP::Lite answers a 1.2 request with a 1.1-shaped
		// fault, node-soap's uncaught errors are 1.2-shaped in a 1.1
		// envelope). Directly under Envelope is the example published in
		// the XMLA documentation ("Handling Errors and Warnings (XMLA)"); a
		// bare Fault is a fragment.
		switch len(path) {
		case 0:
			return true
		case 1:
			return path[0] == "Envelope"
		case 2:
			return path[0] == "Envelope" && path[1] == "Body"
		}
		return false
	}
	if inFault(path) {
		return false
	}
	for i := range rules {
		if rules[i].watches(ns, local, path) {
			return true
		}
	}
	return false
}

// inFault reports whether path runs through a watched Fault: what is inside
// one is reported with the fault, not captured again.
func inFault(path []string) bool {
	for i := 0; i < len(path) && i < 3; i++ {
		if path[i] == "Fault" {
			return true
		}
	}
	return false
}

// ProblemsIn reads the problems out of one captured element, which Watch
// wanted at path: a fault, or an element the rules read. el is the element's
// bytes as the server sent them, standing alone: the namespace declarations
// in scope at the element have been added to its start tag. envVersion is
// "1.1" or "1.2" (the enclosing envelope's version), or "" when unknown
// (e.g. a bare fragment). A fault's detail is searched for the elements the
// rules read, too.
func ProblemsIn(rules []ErrorRule, el []byte, envVersion string, path []string) ([]Problem, error) {
	switch envVersion {
	case "", "1.1", "1.2":
	default:
		return nil, fmt.Errorf("read problems: unknown SOAP version %q", envVersion)
	}
	n, err := parseCaptured(el)
	if err != nil {
		return nil, fmt.Errorf("read problems: %w", err)
	}
	if n.Data == "Fault" {
		return faultProblems(n, envVersion, rules), nil
	}
	var out []Problem
	for i := range rules {
		if rules[i].watches(n.NamespaceURI, n.Data, path) {
			out = append(out, rules[i].problems(n)...)
		}
	}
	return out, nil
}

// parseCaptured parses one standalone element and returns it.
func parseCaptured(el []byte) (*xmlquery.Node, error) {
	if len(bytes.TrimSpace(el)) == 0 {
		return nil, errors.New("empty element")
	}
	doc, err := xmlquery.Parse(bytes.NewReader(el))
	if err != nil {
		return nil, err
	}
	var root *xmlquery.Node
	for c := doc.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != xmlquery.ElementNode {
			continue
		}
		if root != nil {
			return nil, errors.New("more than one element")
		}
		root = c
	}
	if root == nil {
		return nil, errors.New("no element")
	}
	return root, nil
}

// faultProblems reads a SOAP fault of either shape, whatever its namespace,
// plus the problems of the elements in its detail that the rules read (SQL
// Server puts a SqlMessage there).
func faultProblems(f *xmlquery.Node, envVersion string, rules []ErrorRule) []Problem {
	shape := faultShape(f, envVersion)
	p := Problem{Severity: SeverityError}
	var mixed []string
	if envVersion != "" && shape != envVersion {
		mixed = append(mixed, shape+"-shaped fault in a SOAP "+envVersion+" envelope")
	} else if v := soapVersionOf(f.NamespaceURI); envVersion == "" && v != "" && v != shape {
		mixed = append(mixed, shape+"-shaped fault in the SOAP "+v+" namespace")
	}
	var detail *xmlquery.Node
	if shape == "1.1" {
		p.Kind = kindFault11
		if c := childElem(f, "faultcode"); c != nil {
			p.Code = elemText(c)
			p.CodeNS = qnameNS(c, p.Code)
		}
		p.Message = elemText(childElem(f, "faultstring"))
		p.Actor = elemText(childElem(f, "faultactor"))
		detail = childElem(f, "detail", "Detail")
	} else {
		p.Kind = kindFault12
		code := childElem(f, "Code")
		if v := codeValue(code, &mixed); v != nil {
			p.Code = elemText(v)
			p.CodeNS = qnameNS(v, p.Code)
		}
		p.Subcodes = subcodes(code, &mixed)
		p.Message = reasonText(childElem(f, "Reason"))
		p.Actor = elemText(childElem(f, "Node"))
		if role := elemText(childElem(f, "Role")); role != "" {
			p.Actor = strings.TrimSpace(p.Actor + " role=" + role)
		}
		detail = childElem(f, "Detail", "detail")
	}
	p.Mixed = strings.Join(mixed, "; ")
	extra := readFaultDetail(detail, &p, rules)
	return append([]Problem{p}, extra...)
}

// faultShape tells the version by the children, since stacks write either
// shape in either envelope: SOAP::Lite 1.27 answers a SOAP 1.2 request with a
// 1.1-shaped fault in a 1.2 envelope, node-soap 1.13 an uncaught error with a
// 1.2-shaped fault in a 1.1 envelope.
func faultShape(f *xmlquery.Node, envVersion string) string {
	if childElem(f, "faultcode", "faultstring") != nil {
		return "1.1"
	}
	if childElem(f, "Code", "Reason") != nil {
		return "1.2"
	}
	if v := soapVersionOf(f.NamespaceURI); v != "" {
		return v
	}
	if envVersion != "" {
		return envVersion
	}
	return "1.1"
}

func soapVersionOf(ns string) string {
	switch ns {
	case NSSOAP11:
		return "1.1"
	case NSSOAP12:
		return "1.2"
	}
	return ""
}

// codeValue is the Value child of a 1.2 Code or Subcode; node-soap writes it
// in lowercase.
func codeValue(code *xmlquery.Node, mixed *[]string) *xmlquery.Node {
	if code == nil {
		return nil
	}
	if v := childElem(code, "Value"); v != nil {
		return v
	}
	v := childElem(code, "value")
	if v != nil && !slices.Contains(*mixed, "lowercase value") {
		*mixed = append(*mixed, "lowercase value")
	}
	return v
}

func subcodes(code *xmlquery.Node, mixed *[]string) []string {
	var out []string
	for sub := childElem(code, "Subcode"); sub != nil; sub = childElem(sub, "Subcode") {
		if v := codeValue(sub, mixed); v != nil {
			out = append(out, elemText(v))
		}
	}
	return out
}

// reasonText is the English Reason/Text, else the first (PHP omits xml:lang).
func reasonText(reason *xmlquery.Node) string {
	var first *xmlquery.Node
	for t := range childElems(reason) {
		if t.Data != "Text" {
			continue
		}
		if first == nil {
			first = t
		}
		for _, a := range t.Attr {
			if a.Name.Local == "lang" && (a.NamespaceURI == nsXML || a.Name.Space == "xml") &&
				strings.HasPrefix(strings.ToLower(a.Value), "en") {
				return elemText(t)
			}
		}
	}
	return elemText(first)
}

// readFaultDetail fills p.Detail (and Subcodes, Source, Message where the
// detail carries them) and returns the problems of the elements inside that
// the rules read, which are left out of p.Detail.
func readFaultDetail(d *xmlquery.Node, p *Problem, rules []ErrorRule) []Problem {
	if d == nil {
		return nil
	}
	// SSAS and other XMLA servers: detail holds Error elements.
	var descs []string
	for e := range childElems(d) {
		if e.Data != "Error" || (attrOrChild(e, "ErrorCode") == "" && attrOrChild(e, "Description") == "") {
			continue
		}
		if s := attrOrChild(e, "Description"); s != "" {
			descs = append(descs, s)
		}
		if p.Source == "" {
			p.Source = attrOrChild(e, "Source")
		}
	}
	if len(descs) > 0 {
		p.Detail = strings.Join(descs, "; ")
		return nil
	}
	// SQL Server: a whole SOAP 1.2 fault inside the 1.1 detail, so that 1.1
	// and 1.2 clients see the same ([MS-SSNWS] 4.2.7 SOAP Fault Response;
	// Books Online "SOAP Fault Message Structure"), possibly with a
	// SqlMessage in its Detail.
	skip := map[*xmlquery.Node]bool{}
	var extra []Problem
	if code := childElemNS(d, NSSOAP12, "Code"); code != nil && p.Kind == kindFault11 {
		var ignore []string
		p.Subcodes = append(p.Subcodes, subcodes(code, &ignore)...)
		for e := range childElems(d) {
			if e.NamespaceURI != NSSOAP12 {
				continue
			}
			switch e.Data {
			case "Code", "Node", "Role":
				skip[e] = true
			case "Reason":
				skip[e] = true
				if p.Message == "" {
					p.Message = reasonText(e)
				}
			}
		}
	}
	var walk func(*xmlquery.Node)
	walk = func(n *xmlquery.Node) {
		for c := range childElems(n) {
			var ps []Problem
			for i := range rules {
				if rules[i].watchesNode(c) {
					ps = append(ps, rules[i].problems(c)...)
				}
			}
			if len(ps) > 0 {
				extra = append(extra, ps...)
				skip[c] = true
				continue
			}
			walk(c)
		}
	}
	walk(d)
	p.Detail = textContent(d, skip)
	return extra
}

// qnameNS resolves the prefix of a QName written as text in element n
// against the declarations in scope there; xmlquery has no such lookup.
func qnameNS(n *xmlquery.Node, qn string) string {
	i := strings.IndexByte(qn, ':')
	if i <= 0 {
		return ""
	}
	prefix := qn[:i]
	if prefix == "xml" {
		return nsXML
	}
	for e := n; e != nil; e = e.Parent {
		if e.Type != xmlquery.ElementNode {
			continue
		}
		for _, a := range e.Attr {
			// encoding/xml leaves the "xmlns" prefix of a declaration as is.
			if a.NamespaceURI == "xmlns" && a.Name.Local == prefix {
				return a.Value
			}
		}
	}
	return ""
}

// childElems yields the element children of n (none for nil).
func childElems(n *xmlquery.Node) iter.Seq[*xmlquery.Node] {
	return func(yield func(*xmlquery.Node) bool) {
		if n == nil {
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == xmlquery.ElementNode && !yield(c) {
				return
			}
		}
	}
}

// childElem is the first child element with one of the local names, in any
// namespace.
func childElem(n *xmlquery.Node, locals ...string) *xmlquery.Node {
	for c := range childElems(n) {
		if slices.Contains(locals, c.Data) {
			return c
		}
	}
	return nil
}

func childElemNS(n *xmlquery.Node, ns, local string) *xmlquery.Node {
	for c := range childElems(n) {
		if c.Data == local && c.NamespaceURI == ns {
			return c
		}
	}
	return nil
}

func elemText(n *xmlquery.Node) string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.InnerText())
}

// textContent is the text below n with element boundaries read as white
// space (so <key>reason</key><value>test</value> is "reason test"),
// collapsed, leaving out the subtrees in skip.
func textContent(n *xmlquery.Node, skip map[*xmlquery.Node]bool) string {
	if n == nil {
		return ""
	}
	var parts []string
	var walk func(*xmlquery.Node)
	walk = func(n *xmlquery.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			switch c.Type {
			case xmlquery.TextNode, xmlquery.CharDataNode:
				parts = append(parts, c.Data)
			case xmlquery.ElementNode:
				if !skip[c] {
					walk(c)
				}
			}
		}
	}
	walk(n)
	return collapse(strings.Join(parts, " "))
}

// attrOrChild is an unqualified attribute, or else a child element's text:
// XMLA Error uses attributes, inline cell errors use child elements.
func attrOrChild(n *xmlquery.Node, local string) string {
	for _, a := range n.Attr {
		if a.Name.Local == local && a.NamespaceURI == "" {
			return strings.TrimSpace(a.Value)
		}
	}
	return elemText(childElem(n, local))
}

// Text is everything a problem says, on one line, for matching.
func (p Problem) Text() string {
	return strings.Join(append(append([]string{p.Code}, p.Subcodes...), p.Message, p.Detail, p.Actor), " ")
}
