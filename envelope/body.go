package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/xmltok"
)

const nsXML = xmltok.NSXML

// Body is a request body: one well-formed, namespace-well-formed XML element.
type Body struct {
	XML []byte // the element as given, without XML declaration or surrounding space
	// Prolog is the XML declaration as given, and the space after it; a
	// body that is a whole envelope is sent with it.
	Prolog    []byte
	Local     string // local name of the root element
	Namespace string // namespace URI of the root element
}

// IsEnvelope reports whether the body is itself a whole SOAP envelope.
func (b *Body) IsEnvelope() bool {
	return b.Local == "Envelope" && (b.Namespace == reply.NSSOAP11 || b.Namespace == reply.NSSOAP12)
}

// BodyError says why a request body was refused before anything was sent.
type BodyError struct {
	Err error
}

func (e *BodyError) Error() string { return "body is not usable: " + e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// ParseBody checks that src is one well-formed, namespace-well-formed XML
// element in UTF-8 (comments around it are allowed; a DTD or a processing
// instruction is not, as SOAP forbids them) and returns it ready to be placed
// in an envelope.
func ParseBody(src []byte) (*Body, error) {
	src, prolog, err := stripProlog(src)
	if err != nil {
		return nil, &BodyError{err}
	}
	if len(src) == 0 {
		return nil, &BodyError{errors.New("it is empty")}
	}
	b := &Body{XML: src, Prolog: prolog}
	if err := check(src, func(local, ns string) { b.Local, b.Namespace = local, ns }); err != nil {
		return nil, &BodyError{fmt.Errorf("not well-formed XML: %w", err)}
	}
	return b, nil
}

// stripProlog removes a byte-order mark, an XML declaration and surrounding
// white space, which cannot appear inside an envelope, and returns the
// declaration with the space after it apart. Only UTF-8 is taken.
func stripProlog(b []byte) (rest, prolog []byte, err error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimSpace(b)
	if bytes.HasPrefix(b, []byte("<?xml")) && len(b) > 5 && strings.ContainsRune(" \t\r\n?", rune(b[5])) {
		i := bytes.Index(b, []byte("?>"))
		if i < 0 {
			return nil, nil, errors.New("the XML declaration is not closed")
		}
		if enc := xmltok.DeclaredEncoding(b[:i]); enc != "" && !xmltok.IsUTF8(enc) {
			return nil, nil, fmt.Errorf("it declares encoding %s; only UTF-8 is supported (convert it: iconv -f %s -t UTF-8)", enc, enc)
		}
		rest = bytes.TrimSpace(b[i+2:])
		return rest, b[:len(b)-len(rest)], nil
	}
	return b, nil, nil
}

// check walks a document with the xmltok lexer and refuses anything that is
// not well-formed and namespace-well-formed; root reports the root element.
func check(src []byte, root func(local, ns string)) error {
	if !utf8.Valid(src) {
		return errors.New("it is not valid UTF-8")
	}
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRune(src[i:])
		if !xmlChar(r) {
			return &xmltok.SyntaxError{Line: 1 + bytes.Count(src[:i], []byte("\n")), Msg: fmt.Sprintf("character %U is not allowed in XML", r)}
		}
		i += n
	}
	lx := xmltok.NewBytesLexer(src)
	var scope xmltok.Scope
	var attrs []xmltok.Attr
	roots := 0
	for {
		t, err := lx.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch t.Kind {
		case xmltok.StartTag, xmltok.EmptyTag:
			if scope.Depth() == 0 {
				if roots++; roots > 1 {
					return &xmltok.SyntaxError{Line: t.Line, Msg: "more than one root element"}
				}
			}
			if attrs, err = t.Attrs(attrs[:0]); err != nil {
				return err
			}
			if err := scope.Push(&t); err != nil {
				return err
			}
			prefix, local := xmltok.Split(t.Name)
			ns, ok := scope.URI(prefix)
			if !ok {
				return &xmltok.SyntaxError{Line: t.Line, Msg: fmt.Sprintf("element <%s>: namespace prefix %q is not declared", t.Name, prefix)}
			}
			if scope.Depth() == 1 && root != nil {
				root(string(local), ns)
			}
			for _, a := range attrs {
				if err := checkAttr(&t, a, &scope); err != nil {
					return err
				}
			}
			if t.Kind == xmltok.EmptyTag {
				if err := scope.Pop(&t); err != nil {
					return err
				}
			}
		case xmltok.EndTag:
			if err := scope.Pop(&t); err != nil {
				return err
			}
		case xmltok.Text:
			if scope.Depth() == 0 && !xmltok.IsSpace(t.Raw) {
				return &xmltok.SyntaxError{Line: t.Line, Msg: "text outside the root element"}
			}
			if err := checkRefs(t.Raw); err != nil {
				return &xmltok.SyntaxError{Line: t.Line, Msg: err.Error()}
			}
		case xmltok.CData:
			if scope.Depth() == 0 {
				return &xmltok.SyntaxError{Line: t.Line, Msg: "a CDATA section outside the root element"}
			}
		case xmltok.PI:
			return &xmltok.SyntaxError{Line: t.Line, Msg: fmt.Sprintf("processing instruction <?%s?>: SOAP messages cannot carry them", t.Name)}
		case xmltok.Directive:
			return &xmltok.SyntaxError{Line: t.Line, Msg: "DTDs and other <!...> declarations are not allowed in SOAP messages"}
		}
	}
	if scope.Depth() > 0 {
		return fmt.Errorf("element <%s> is not closed", scope.Open())
	}
	if roots == 0 {
		return errors.New("no root element")
	}
	return nil
}

func checkAttr(t *xmltok.Token, a xmltok.Attr, scope *xmltok.Scope) error {
	prefix, local := xmltok.Split(a.Name)
	switch {
	case string(prefix) == "xmlns" && string(local) == "xml" && string(a.Value) != nsXML,
		string(prefix) == "xmlns" && string(local) == "xmlns":
		return &xmltok.SyntaxError{Line: t.Line, Msg: fmt.Sprintf("element <%s>: %s cannot be declared", t.Name, a.Name)}
	case len(prefix) > 0 && string(prefix) != "xmlns":
		if _, ok := scope.URI(prefix); !ok {
			return &xmltok.SyntaxError{Line: t.Line, Msg: fmt.Sprintf("attribute %s: namespace prefix %q is not declared", a.Name, prefix)}
		}
	}
	if err := checkRefs(a.Value); err != nil {
		return &xmltok.SyntaxError{Line: t.Line, Msg: fmt.Sprintf("attribute %s: %v", a.Name, err)}
	}
	return nil
}

var ref = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);`)
})

// checkRefs refuses entity references XML does not predefine (a SOAP
// message has no DTD to define them) and bare ampersands.
func checkRefs(b []byte) error {
	for i := bytes.IndexByte(b, '&'); i >= 0; {
		m := ref().Find(b[i:])
		if m == nil {
			end := min(len(b), i+12)
			if j := bytes.IndexByte(b[i:end], ';'); j > 0 {
				end = i + j + 1
			}
			return fmt.Errorf("%q is not a predefined entity or character reference", b[i:end])
		}
		if m[1] == '#' {
			num, base := string(m[2:len(m)-1]), 10
			if num[0] == 'x' {
				num, base = num[1:], 16
			}
			if v, err := strconv.ParseUint(num, base, 32); err != nil || v > utf8.MaxRune || !xmlChar(rune(v)) {
				return fmt.Errorf("%s refers to a character XML does not allow", m)
			}
		}
		b = b[i+len(m):]
		i = bytes.IndexByte(b, '&')
	}
	return nil
}

// xmlChar reports whether XML 1.0 allows r in a document (its Char
// production).
func xmlChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= utf8.MaxRune
}
