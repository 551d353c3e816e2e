package reply

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/soapsess/soapsess/xmltok"
)

// TokenWriter takes a stream of tokens, e.g. a printer.Printer.
type TokenWriter interface {
	Write(*xmltok.Token) error
}

// StreamOptions says where the parts of a streamed document go.
type StreamOptions struct {
	// Document receives every token as read.
	Document TokenWriter
	// Header receives the SOAP Header element, standing alone.
	Header TokenWriter
	// Body receives each element of the SOAP Body, standing alone (the
	// namespace declarations in scope added to its start tag), each followed
	// by a newline.
	Body TokenWriter
	// RequireSOAP stops at once when the document is not a SOAP envelope.
	// Everything read is then copied to NotSOAP, with the rest of the input,
	// so nothing the server sent is lost, and a NotSOAPError is returned.
	RequireSOAP bool
	NotSOAP     io.Writer
	// Async tokenizes on a goroutine of its own, so a large document is read
	// on two cores. The input must then be left alone until it ends (a file,
	// a pipe); not with RequireSOAP, which reads the rest of it itself.
	Async bool
	// Errors are the conventions by which the server reports errors inside
	// a successful reply, e.g. a dialect's (envelope.Dialect.Errors). SOAP
	// faults are always read; with no rules, nothing else is.
	Errors []ErrorRule
}

// Streamed is what was learnt from a document while it streamed by.
type Streamed struct {
	Version  string    // "1.1" or "1.2"; "" when the document is not a SOAP envelope
	Problems []Problem // faults, and errors and warnings reported in the body
	Elements int       // elements in the SOAP Body (or, for other XML, in the document)
}

// captureLimit bounds the bytes kept of one element holding a problem.
const captureLimit = 1 << 20

// Stream reads a document token by token in constant memory, passing its
// parts to the writers in opt and capturing the elements that report
// problems (faults, and those opt.Errors read; see Watch) to summarise them.
func Stream(r io.Reader, opt StreamOptions) (*Streamed, error) {
	rec := &recorder{r: r, on: opt.RequireSOAP}
	s := &streamer{opt: opt, res: &Streamed{}, rec: rec, watch: watchNames(opt.Errors)}
	var err error
	if opt.Async && !opt.RequireSOAP {
		lx := xmltok.NewAsyncLexer(r)
		defer lx.Close()
		err = s.run(lx)
	} else {
		err = s.run(xmltok.NewLexer(rec))
	}
	var ns *NotSOAPError
	if errors.As(err, &ns) && opt.RequireSOAP && rec.on {
		if opt.NotSOAP != nil {
			if _, werr := opt.NotSOAP.Write(rec.buf); werr != nil {
				return s.res, werr
			}
			if _, werr := io.Copy(opt.NotSOAP, r); werr != nil {
				return s.res, werr
			}
		}
	}
	return s.res, err
}

// recorder keeps what was read until the document is known to be SOAP.
type recorder struct {
	r   io.Reader
	on  bool
	buf []byte
}

// recordLimit bounds what is held before the root element shows whether
// the reply is SOAP; past it the reply is taken as not SOAP, and what was
// held is still written out with the rest.
const recordLimit = 4 << 20

var errLongProlog = fmt.Errorf("more than %d MiB before the root element", recordLimit>>20)

func (rc *recorder) Read(p []byte) (int, error) {
	if rc.on && len(rc.buf) >= recordLimit {
		return 0, errLongProlog
	}
	n, err := rc.r.Read(p)
	if rc.on {
		rc.buf = append(rc.buf, p[:n]...)
	}
	return n, err
}

func (rc *recorder) stop() { rc.on, rc.buf = false, nil }

type streamer struct {
	opt   StreamOptions
	rec   *recorder
	res   *Streamed
	scope xmltok.Scope
	// The local names of the open elements, back to back in names, ending
	// at the offsets in path; strings are made only for Watch.
	names []byte
	path  []int
	strs  []string
	watch []string // the local names Watch may want: Fault and the rules'
	env   string   // envelope namespace
	root  bool

	header, body int // depth of the Header/Body element while inside it, else 0

	tok xmltok.Token // the current token, reused so that none escapes to the heap

	capDepth int // depth of the element being captured, 0 when none
	capBuf   []byte
	capPath  []string // where it is, for ProblemsIn
	capOver  bool
	err      error // the first error of a writer
}

// pathStrings is the local names of the open elements, root first.
func (s *streamer) pathStrings() []string {
	s.strs = s.strs[:0]
	from := 0
	for _, to := range s.path {
		s.strs = append(s.strs, string(s.names[from:to]))
		from = to
	}
	return s.strs
}

// watchNames is the local names Watch may want, each once: Fault and those
// of the rules' elements.
func watchNames(rules []ErrorRule) []string {
	out := []string{"Fault"}
	for i := range rules {
		for _, n := range rules[i].names {
			if !slices.Contains(out, n.local) {
				out = append(out, n.local)
			}
		}
	}
	return out
}

// mayWatch is a cheap first look, on the bytes, at whether Watch could want
// the element ns:local, whose parent is the last open element: it is asked
// about every start tag of a large document, so it allocates nothing. For
// the rules' elements it is exact, so that a column that shares a name with
// one (<Messages> in a rowset row) costs nothing either.
func (s *streamer) mayWatch(ns string, local []byte) bool {
	named := false
	for _, w := range s.watch {
		if string(local) == w { // no allocation: the compiler compares the bytes
			named = true
			break
		}
	}
	switch {
	case !named:
		return false
	case string(local) == "Fault":
		return true // Watch looks at where it is
	}
	var parent []byte
	from := 0
	for i, to := range s.path {
		name := s.names[from:to]
		if i < 3 && string(name) == "Fault" {
			return false // see inFault
		}
		parent, from = name, to
	}
	inBody := len(s.path) >= 2 && string(s.names[:s.path[0]]) == "Envelope" && string(s.names[s.path[0]:s.path[1]]) == "Body"
	for i := range s.opt.Errors {
		if s.opt.Errors[i].watchesRaw(ns, local, parent, inBody) {
			return true
		}
	}
	return false
}

var (
	newline = &xmltok.Token{Kind: xmltok.Text, Raw: []byte("\n")}
	bom     = []byte("\xef\xbb\xbf")
)

// tokens is where the tokens come from: xmltok.Lexer or xmltok.AsyncLexer.
type tokens interface {
	Next() (xmltok.Token, error)
}

func (s *streamer) run(lx tokens) error {
	for {
		var err error
		s.tok, err = lx.Next()
		t := &s.tok
		if err == io.EOF {
			if !s.root {
				return s.notSOAP(errors.New("no root element"))
			}
			if d := s.scope.Depth(); d > 0 {
				return &stillOpen{name: string(s.scope.Open())}
			}
			return nil
		}
		if err != nil {
			if !s.root {
				return s.notSOAP(err)
			}
			return err
		}
		err = s.token(t)
		if err == nil {
			err = s.err
		}
		if err != nil {
			if !s.root {
				return s.notSOAP(err)
			}
			return err
		}
	}
}

// stillOpen is a document whose input ended with an element open: it
// wraps xmltok.ErrIncomplete, so that a caller who knows the input may
// have been cut (a connection that closed) can tell.
type stillOpen struct{ name string }

func (e *stillOpen) Error() string { return "the document ends with <" + e.name + "> still open" }
func (e *stillOpen) Unwrap() error { return xmltok.ErrIncomplete }

func (s *streamer) notSOAP(err error) error {
	if s.opt.RequireSOAP {
		return &NotSOAPError{err}
	}
	return err
}

func (s *streamer) token(t *xmltok.Token) error {
	if t.Kind == xmltok.Text && !s.root && bytes.HasPrefix(t.Raw, bom) {
		t.Raw = t.Raw[len(bom):] // a byte-order mark, as .NET stacks send
		if len(t.Raw) == 0 {
			return nil
		}
	}
	if s.opt.Document != nil {
		if err := s.opt.Document.Write(t); err != nil {
			return err
		}
	}
	switch t.Kind {
	case xmltok.StartTag, xmltok.EmptyTag:
		return s.start(t)
	case xmltok.PI:
		if string(t.Name) == "xml" && !s.root {
			if enc := xmltok.DeclaredEncoding(t.Raw); enc != "" && !xmltok.IsUTF8(enc) {
				return &xmltok.SyntaxError{Line: t.Line, Msg: fmt.Sprintf("the document declares encoding %s; only UTF-8 is supported", enc)}
			}
		}
	case xmltok.EndTag:
		return s.end(t)
	case xmltok.Text, xmltok.CData:
		if s.scope.Depth() == 0 && (t.Kind == xmltok.CData || !xmltok.IsSpace(t.Raw)) {
			return &xmltok.SyntaxError{Line: t.Line, Msg: "text outside the root element"}
		}
	case xmltok.Directive:
		if s.opt.RequireSOAP {
			return &xmltok.SyntaxError{Line: t.Line, Msg: "a DTD is not allowed in a SOAP message"}
		}
	}
	s.inside(t)
	return nil
}

// inside passes a token that is not a start tag to the capture and the
// Header/Body writers.
func (s *streamer) inside(t *xmltok.Token) {
	d := s.scope.Depth()
	if s.capDepth > 0 {
		s.capture(t.Raw)
	}
	if s.header > 0 && d >= s.header && s.opt.Header != nil {
		s.emit(s.opt.Header, t)
	}
	if s.body > 0 && s.opt.Body != nil && (d > s.body || d == s.body && (t.Kind == xmltok.Comment || t.Kind == xmltok.PI)) {
		s.emit(s.opt.Body, t)
	}
}

// emit passes a token to a writer, keeping the first error (a full disk, a
// closed pipe) to end the stream with.
func (s *streamer) emit(w TokenWriter, t *xmltok.Token) {
	if s.err == nil {
		s.err = w.Write(t)
	}
}

func (s *streamer) capture(b []byte) {
	if s.capOver {
		return
	}
	if len(s.capBuf)+len(b) > captureLimit {
		s.capOver = true
		return
	}
	s.capBuf = append(s.capBuf, b...)
}

func (s *streamer) start(t *xmltok.Token) error {
	if s.root && s.scope.Depth() == 0 {
		return &xmltok.SyntaxError{Line: t.Line, Msg: "more than one root element"}
	}
	if err := s.scope.Push(t); err != nil {
		return err
	}
	depth := s.scope.Depth()
	prefix, localB := xmltok.Split(t.Name)
	ns, ok := s.scope.URI(prefix)
	if !ok && s.opt.RequireSOAP {
		return &xmltok.SyntaxError{Line: t.Line, Msg: fmt.Sprintf("namespace prefix %q is not declared", prefix)}
	}
	watch := s.mayWatch(ns, localB)
	local := "" // made only when needed
	if depth <= 2 || watch {
		local = string(localB)
	}
	if depth == 1 {
		s.root = true
		if local == "Envelope" && (ns == NSSOAP11 || ns == NSSOAP12) {
			s.env = ns
			s.res.Version = "1.1"
			if ns == NSSOAP12 {
				s.res.Version = "1.2"
			}
			s.rec.stop()
		} else if s.opt.RequireSOAP {
			return &NotSOAPError{fmt.Errorf("root element is <%s>", t.Name)}
		}
	}
	var standalone *xmltok.Token // the tag with its namespace declarations, when needed
	alone := func() (*xmltok.Token, error) {
		if standalone == nil {
			raw, err := xmltok.Declare(t, s.scope.InScope())
			if err != nil {
				return nil, err
			}
			c := *t
			c.Raw = raw
			standalone = &c
		}
		return standalone, nil
	}
	switch {
	case s.capDepth > 0:
		s.capture(t.Raw)
	case watch && Watch(s.opt.Errors, ns, local, s.pathStrings()):
		a, err := alone()
		if err != nil {
			return err
		}
		s.capDepth, s.capOver = depth, false
		s.capPath = append(s.capPath[:0], s.strs...)
		s.capBuf = append(s.capBuf[:0], a.Raw...)
	}
	if s.env != "" && depth == 2 && ns == s.env {
		switch local {
		case "Header":
			s.header = depth
			if s.opt.Header != nil {
				a, err := alone()
				if err != nil {
					return err
				}
				s.emit(s.opt.Header, a)
			}
		case "Body":
			s.body = depth
		}
	} else if s.header > 0 && s.opt.Header != nil {
		s.emit(s.opt.Header, t)
	} else if s.body > 0 {
		if depth == s.body+1 {
			s.res.Elements++
		}
		if s.opt.Body != nil {
			w := t
			if depth == s.body+1 {
				a, err := alone()
				if err != nil {
					return err
				}
				w = a
			}
			s.emit(s.opt.Body, w)
		}
	} else if s.env == "" {
		s.res.Elements++
	}
	if t.Kind == xmltok.EmptyTag {
		return s.close(t, depth)
	}
	s.names = append(s.names, localB...)
	s.path = append(s.path, len(s.names))
	return nil
}

func (s *streamer) end(t *xmltok.Token) error {
	depth := s.scope.Depth()
	if s.capDepth > 0 {
		s.capture(t.Raw)
	}
	if s.header > 0 && s.opt.Header != nil {
		s.emit(s.opt.Header, t)
	}
	if s.body > 0 && depth > s.body && s.opt.Body != nil {
		s.emit(s.opt.Body, t)
	}
	if err := s.close(t, depth); err != nil {
		return err
	}
	s.path = s.path[:len(s.path)-1]
	if n := len(s.path); n > 0 {
		s.names = s.names[:s.path[n-1]]
	} else {
		s.names = s.names[:0]
	}
	return nil
}

// close ends the element at depth: captures, sections, scope.
func (s *streamer) close(t *xmltok.Token, depth int) error {
	if depth == s.capDepth {
		s.capDepth = 0
		if s.capOver {
			// Too big to read back, but it still says something went wrong.
			name := string(t.Name)
			s.res.Problems = append(s.res.Problems, Problem{Kind: "reply problem", Severity: SeverityError,
				Message: fmt.Sprintf("a <%s> of more than %d MiB, too large to sum up; it is in the output", name, captureLimit>>20)})
		} else {
			ps, err := ProblemsIn(s.opt.Errors, bytes.Clone(s.capBuf), s.res.Version, s.capPath)
			if err != nil {
				return err
			}
			s.res.Problems = append(s.res.Problems, ps...)
		}
	}
	switch depth {
	case s.header:
		s.header = 0
		if s.opt.Header != nil {
			s.emit(s.opt.Header, newline)
		}
	case s.body:
		s.body = 0
	case s.body + 1:
		if s.body > 0 && s.opt.Body != nil {
			s.emit(s.opt.Body, newline)
		}
	}
	return s.scope.Pop(t)
}
