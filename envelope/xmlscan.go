package envelope

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Namespace URIs the package knows by heart.
const (
	NSSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	NSSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
	nsXML    = "http://www.w3.org/XML/1998/namespace"
)

// token is one raw token of a document with the bytes it was read from.
type token struct {
	tok   xml.Token
	start int64 // offset of its first byte
	end   int64 // offset just past its last byte
	depth int   // element depth of a StartElement/EndElement (root = 1)
	// scope holds the namespace bindings in force on a StartElement, its
	// own declarations included (prefix -> URI, "" is the default namespace).
	scope map[string]string
}

// scanner walks a document with encoding/xml's raw tokenizer, so prefixes,
// attribute order and the original bytes stay available, and checks what the
// raw tokenizer does not: matching end tags and declared prefixes.
type scanner struct {
	src    []byte
	dec    *xml.Decoder
	names  []xml.Name
	scopes []map[string]string
	roots  int
}

func newScanner(src []byte) *scanner {
	d := xml.NewDecoder(bytes.NewReader(src))
	d.Strict = true
	return &scanner{src: src, dec: d, scopes: []map[string]string{{"xml": nsXML}}}
}

// next returns the next token, or io.EOF after a complete document.
func (s *scanner) next() (*token, error) {
	start := s.dec.InputOffset()
	t, err := s.dec.RawToken()
	if err == io.EOF {
		if len(s.names) > 0 {
			return nil, fmt.Errorf("line %d: element <%s> is not closed", s.line(start), qname(s.names[len(s.names)-1]))
		}
		if s.roots == 0 {
			return nil, errors.New("no root element")
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, err
	}
	tk := &token{tok: xml.CopyToken(t), start: start, end: s.dec.InputOffset()}
	switch t := t.(type) {
	case xml.StartElement:
		if len(s.names) == 0 {
			if s.roots++; s.roots > 1 {
				return nil, fmt.Errorf("line %d: more than one root element", s.line(start))
			}
		}
		scope := s.scopes[len(s.scopes)-1]
		own := false
		for _, a := range t.Attr {
			if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
				if !own {
					scope = clone(scope)
					own = true
				}
				prefix := ""
				if a.Name.Space == "xmlns" {
					prefix = a.Name.Local
				}
				scope[prefix] = a.Value
			}
		}
		if err := checkPrefix(t.Name.Space, scope); err != nil {
			return nil, fmt.Errorf("line %d: element <%s>: %w", s.line(start), qname(t.Name), err)
		}
		for _, a := range t.Attr {
			if a.Name.Space != "" && a.Name.Space != "xmlns" {
				if err := checkPrefix(a.Name.Space, scope); err != nil {
					return nil, fmt.Errorf("line %d: attribute %s: %w", s.line(start), qname(a.Name), err)
				}
			}
		}
		s.names = append(s.names, t.Name)
		s.scopes = append(s.scopes, scope)
		tk.depth = len(s.names)
		tk.scope = scope
	case xml.EndElement:
		if len(s.names) == 0 {
			return nil, fmt.Errorf("line %d: unexpected end tag </%s>", s.line(start), qname(t.Name))
		}
		open := s.names[len(s.names)-1]
		if open != t.Name {
			return nil, fmt.Errorf("line %d: element <%s> closed by </%s>", s.line(start), qname(open), qname(t.Name))
		}
		tk.depth = len(s.names)
		s.names = s.names[:len(s.names)-1]
		s.scopes = s.scopes[:len(s.scopes)-1]
	case xml.CharData:
		if len(s.names) == 0 && len(bytes.TrimSpace(t)) > 0 {
			return nil, fmt.Errorf("line %d: text outside the root element", s.line(start))
		}
	case xml.Directive:
		return nil, fmt.Errorf("line %d: DTDs and other <!...> declarations are not allowed in SOAP messages", s.line(start))
	}
	return tk, nil
}

func (s *scanner) line(off int64) int {
	if off > int64(len(s.src)) {
		off = int64(len(s.src))
	}
	return 1 + bytes.Count(s.src[:off], []byte("\n"))
}

func checkPrefix(prefix string, scope map[string]string) error {
	if prefix == "" || prefix == "xml" {
		return nil
	}
	if _, ok := scope[prefix]; !ok {
		return fmt.Errorf("namespace prefix %q is not declared", prefix)
	}
	return nil
}

// uri resolves the namespace of an element name in scope.
func uri(n xml.Name, scope map[string]string) string {
	return scope[n.Space]
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// stripProlog removes a byte-order mark, an XML declaration and surrounding
// white space, which cannot appear inside an envelope.
func stripProlog(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimSpace(b)
	if bytes.HasPrefix(b, []byte("<?xml")) && len(b) > 5 && strings.ContainsRune(" \t\r\n?", rune(b[5])) {
		if i := bytes.Index(b, []byte("?>")); i >= 0 {
			b = bytes.TrimSpace(b[i+2:])
		}
	}
	return b
}

// withDeclarations returns a start tag's bytes with xmlns declarations added
// for every binding in scope that the tag does not itself declare, so the
// element stands alone outside its ancestors.
func withDeclarations(tag []byte, own xml.StartElement, scope map[string]string) []byte {
	declared := map[string]bool{"xml": true}
	for _, a := range own.Attr {
		switch {
		case a.Name.Space == "xmlns":
			declared[a.Name.Local] = true
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			declared[""] = true
		}
	}
	var extra strings.Builder
	for _, p := range sortedKeys(scope) {
		if declared[p] {
			continue
		}
		if p == "" {
			if scope[p] == "" {
				continue // no default namespace in force
			}
			extra.WriteString(` xmlns="`)
		} else {
			extra.WriteString(` xmlns:` + p + `="`)
		}
		xml.EscapeText(&extra, []byte(scope[p]))
		extra.WriteString(`"`)
	}
	if extra.Len() == 0 {
		return tag
	}
	cut := len(tag) - 1 // before '>'
	if bytes.HasSuffix(tag, []byte("/>")) {
		cut = len(tag) - 2
	}
	out := make([]byte, 0, len(tag)+extra.Len())
	out = append(out, bytes.TrimRight(tag[:cut], " \t\r\n")...)
	out = append(out, extra.String()...)
	out = append(out, tag[cut:]...)
	return out
}
