package refserver

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

const (
	soapEnvNS = "http://schemas.xmlsoap.org/soap/envelope/"
	xmlNS     = "http://www.w3.org/XML/1998/namespace"

	// maxDepth bounds element nesting; no message of the three protocols comes close,
	// and it keeps hostile input from building absurd trees.
	maxDepth = 256
)

// node is one element of a parsed message with its names already resolved to
// namespace URIs. Only the text directly inside the element is kept, which is all
// the protocols here need (values, statements, request types).
type node struct {
	name     xml.Name
	attrs    []xml.Attr // namespace declarations removed
	children []*node
	text     string
}

func (n *node) is(space, local string) bool {
	return n.name.Space == space && n.name.Local == local
}

func (n *node) attr(space, local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// child returns the first child element with the given name, or nil.
func (n *node) child(space, local string) *node {
	for _, c := range n.children {
		if c.is(space, local) {
			return c
		}
	}
	return nil
}

func (n *node) hasText() bool {
	return strings.TrimSpace(n.text) != ""
}

// parseXML parses one XML document into a tree. It resolves namespace prefixes
// itself (from RawToken) so that an undeclared prefix is an error, as a
// namespace-aware SOAP stack would treat it, instead of being passed through the
// way encoding/xml's Token does.
func parseXML(data []byte) (*node, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true

	type frame struct {
		n    *node
		raw  xml.Name
		ns   map[string]string
		text strings.Builder
	}
	var stack []*frame
	var root *node

	lookup := func(decl map[string]string, prefix string) (string, bool) {
		if uri, ok := decl[prefix]; ok {
			return uri, true
		}
		for i := len(stack) - 1; i >= 0; i-- {
			if uri, ok := stack[i].ns[prefix]; ok {
				return uri, true
			}
		}
		switch prefix {
		case "":
			return "", true
		case "xml":
			return xmlNS, true
		}
		return "", false
	}

	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("parse XML: more than one root element")
			}
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("parse XML: elements nested deeper than %d", maxDepth)
			}
			decl := map[string]string{}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					if a.Value == "" {
						return nil, fmt.Errorf("parse XML: empty namespace for prefix %q", a.Name.Local)
					}
					decl[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					decl[""] = a.Value
				}
			}
			space, ok := lookup(decl, t.Name.Space)
			if !ok {
				return nil, fmt.Errorf("parse XML: undeclared prefix %q on element %s", t.Name.Space, t.Name.Local)
			}
			n := &node{name: xml.Name{Space: space, Local: t.Name.Local}}
			seen := map[xml.Name]bool{}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				// Unprefixed attributes are in no namespace: default namespaces
				// do not apply to them.
				aspace := ""
				if a.Name.Space != "" {
					if aspace, ok = lookup(decl, a.Name.Space); !ok {
						return nil, fmt.Errorf("parse XML: undeclared prefix %q on attribute %s", a.Name.Space, a.Name.Local)
					}
				}
				name := xml.Name{Space: aspace, Local: a.Name.Local}
				if seen[name] {
					return nil, fmt.Errorf("parse XML: duplicate attribute %s on element %s", a.Name.Local, t.Name.Local)
				}
				seen[name] = true
				n.attrs = append(n.attrs, xml.Attr{Name: name, Value: a.Value})
			}
			if len(stack) == 0 {
				root = n
			} else {
				parent := stack[len(stack)-1].n
				parent.children = append(parent.children, n)
			}
			stack = append(stack, &frame{n: n, raw: t.Name, ns: decl})
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("parse XML: unexpected end element %s", t.Name.Local)
			}
			top := stack[len(stack)-1]
			if top.raw != t.Name {
				return nil, fmt.Errorf("parse XML: element %s closed by %s", top.raw.Local, t.Name.Local)
			}
			top.n.text = top.text.String()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, errors.New("parse XML: text outside the root element")
				}
				continue
			}
			stack[len(stack)-1].text.Write(t)
		case xml.Directive:
			// SOAP 1.1 §3: a SOAP message must not contain a DTD.
			return nil, errors.New("parse XML: document type declarations are not allowed in SOAP messages")
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("parse XML: element %s is not closed", stack[len(stack)-1].raw.Local)
	}
	if root == nil {
		return nil, errors.New("parse XML: no root element")
	}
	return root, nil
}

// envelope is a parsed SOAP 1.1 message: the children of Header and Body.
type envelope struct {
	header   []*node
	body     []*node
	bodyText bool // non-whitespace text directly inside Body
}

// parseEnvelope parses a SOAP 1.1 message. Anything that is not well-formed XML,
// or not an Envelope in the SOAP 1.1 namespace with an optional Header followed
// by exactly one Body, is an error; every dialect answers it with its own
// "bad request" fault.
func parseEnvelope(data []byte) (*envelope, error) {
	root, err := parseXML(data)
	if err != nil {
		return nil, err
	}
	if !root.is(soapEnvNS, "Envelope") {
		return nil, fmt.Errorf("root element {%s}%s is not a SOAP 1.1 Envelope", root.name.Space, root.name.Local)
	}
	if root.hasText() {
		return nil, errors.New("text directly inside the SOAP Envelope")
	}
	env := &envelope{}
	var seenHeader, seenBody bool
	for _, c := range root.children {
		switch {
		case c.is(soapEnvNS, "Header"):
			if seenHeader || seenBody {
				return nil, errors.New("SOAP Header must come once, before the Body")
			}
			if c.hasText() {
				return nil, errors.New("text directly inside the SOAP Header")
			}
			seenHeader = true
			env.header = c.children
		case c.is(soapEnvNS, "Body"):
			if seenBody {
				return nil, errors.New("more than one SOAP Body")
			}
			seenBody = true
			env.body = c.children
			env.bodyText = c.hasText()
		default:
			return nil, fmt.Errorf("unexpected element {%s}%s in the SOAP Envelope", c.name.Space, c.name.Local)
		}
	}
	if !seenBody {
		return nil, errors.New("SOAP Envelope has no Body")
	}
	return env, nil
}

// mustUnderstand reports whether a header block demands to be understood. SOAP
// 1.1 puts the attribute in the envelope namespace; XMLA clients (Excel, Mondrian,
// MS-SSAS 3.1.3.1) mostly write it unqualified, so the XMLA endpoints also accept
// that spelling.
func mustUnderstand(h *node, unqualifiedToo bool) bool {
	if v, ok := h.attr(soapEnvNS, "mustUnderstand"); ok && isOne(v) {
		return true
	}
	if unqualifiedToo {
		if v, ok := h.attr("", "mustUnderstand"); ok && isOne(v) {
			return true
		}
	}
	return false
}

func isOne(v string) bool {
	v = strings.TrimSpace(v)
	return v == "1" || v == "true"
}

// parseXSBoolean parses an xs:boolean lexical value.
func parseXSBoolean(v string) (bool, error) {
	switch strings.TrimSpace(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not an xs:boolean", v)
}

// soleElement returns the single element child of a SOAP Body, or nil when the
// Body holds text, no element, or more than one.
func (e *envelope) soleElement() *node {
	if e.bodyText || len(e.body) != 1 {
		return nil
	}
	return e.body[0]
}

// xmlEscaper escapes for XML text and double-quoted attribute values. Unlike
// xml.EscapeText it leaves apostrophes alone, so SSAS's message texts read as
// they do on the wire; whitespace is escaped so attribute values survive
// attribute-value normalisation.
var xmlEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;",
	"\r", "&#xD;", "\n", "&#xA;", "\t", "&#x9;",
)

func esc(s string) string {
	return xmlEscaper.Replace(s)
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}
