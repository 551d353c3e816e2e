package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/antchfx/xmlquery"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/ldapcontrol"
	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/xmltok"
)

// Page sizes of a paged search.
const (
	DefaultPageSize = 500
	// MaxPageSize is Active Directory's MaxPageSize: it returns no more
	// entries per page, nor to a search without paging.
	MaxPageSize = 1000
)

const dsmlCoreNS = "urn:oasis:names:tc:DSML:2:0:core"

// Paging says how SendAllPages pages.
type Paging struct {
	// Size is the number of entries asked for per page, 1 to MaxPageSize; 0
	// asks for DefaultPageSize.
	Size int
	// Progress, when set, is told after each page.
	Progress func(pages, entries int)
}

// PageSizeError is a page size out of 1..MaxPageSize.
type PageSizeError struct{ Size int }

func (e *PageSizeError) Error() string {
	return fmt.Sprintf("page size %d: want 1 to %d (Active Directory returns at most %d entries a page)", e.Size, MaxPageSize, MaxPageSize)
}

// NotPageableError is a body SendAllPages cannot page: it must be a DSML
// batchRequest holding one searchRequest, or just the searchRequest.
type NotPageableError struct{ Why string }

func (e *NotPageableError) Error() string {
	return "the body cannot be paged: " + e.Why + "; want a DSML searchRequest, alone or as the one request of a batchRequest"
}

// SendAllPages runs a DSML search page by page inside the session, with
// the paged results control (RFC 2696): each page's cookie goes with the
// next request, until the server returns none. r.Reply.Body receives one
// batchResponse holding one searchResponse with every entry of every page,
// each as soon as it is complete, and at the end the last page's
// searchResultDone without its control. When a page fails or ctx ends, the
// search is abandoned on the server (the cookie sent back with size 0),
// the document is closed after the last complete entry, and the page's
// error (an *InterruptedError for ctx) is returned.
func (s *Session) SendAllPages(ctx context.Context, r Request, p Paging) (*Result, error) {
	size := p.Size
	if size == 0 {
		size = DefaultPageSize
	}
	if size < 1 || size > MaxPageSize {
		return nil, &PageSizeError{Size: p.Size}
	}
	if r.Reply.Raw != nil || r.DryRun {
		return nil, &NotPageableError{Why: "a raw copy or a dry run of many pages is not one reply"}
	}
	body, release, err := s.turn(ctx, r.Body) // the whole search is one turn: its cookies would not survive another request
	if err != nil {
		return nil, err
	}
	defer release()
	_, b, err := s.prepare(envelope.Session, r, body)
	if err != nil {
		return nil, err
	}
	search, err := pageable(b)
	if err != nil {
		return nil, err
	}
	m := &merger{out: r.Reply.Body}
	total := &Result{Session: s}
	var cookie []byte
	notSOAP, empty := r.Reply.NotSOAP, 0
	for page := 1; ; page++ {
		m.startPage()
		// A page on its way when ctx ends is let finish, for a while: the
		// server has moved its search on, and only that page's cookie can
		// abandon it.
		pageCtx, stop := finishing(ctx, PageGrace)
		res, err := s.sendLocked(pageCtx, Request{
			Body:  Body{R: bytes.NewReader(search.page(ldapcontrol.Paged{Size: size, Cookie: cookie})), Name: r.Body.Name},
			Vars:  r.Vars,
			Reply: Sinks{Body: m, NotSOAP: notSOAP, Arrived: r.Reply.Arrived, Reading: r.Reply.Reading},
		})
		stop()
		notSOAP = nil // after the first page, stdout is the merged document: the error says what came
		if res != nil {
			total.Reply, total.SOAP = res.Reply, res.SOAP
			total.Problems = append(total.Problems, res.Problems...)
		}
		if err == nil {
			err = m.err
		}
		if err == nil {
			if err = m.pageDone(); err != nil {
				var fe *FaultError
				if errors.As(err, &fe) {
					total.Problems = append(total.Problems, fe.Problem) // for the caller to show, as a reply's own
				} else {
					err = &ReplyError{URL: s.State.URL, Reason: res.Reply.Reason, ContentType: res.Reply.Header.Get("Content-Type"), Err: err}
				}
			}
		}
		if err == nil && len(m.cookie) > 0 && m.onPage == 0 {
			if empty++; empty > 1 { // a server that would keep us asking forever
				err = &ReplyError{URL: s.State.URL, Reason: res.Reply.Reason, Err: errors.New("two pages in a row with no entries and a cookie for more")}
			}
		} else {
			empty = 0
		}
		if err == nil {
			cookie = m.cookie
			total.Pages, total.Entries = page, m.entries
			if p.Progress != nil {
				p.Progress(page, m.entries)
			}
		}
		var ie *InterruptedError
		if ctx.Err() != nil && (err == nil || errors.As(err, &ie)) {
			err = &InterruptedError{URL: s.State.URL, While: "paging through", Err: ctx.Err()}
		}
		if err != nil {
			if len(cookie) > 0 {
				total.AbandonErr = s.abandon(ctx, search, r, cookie)
			}
			m.close(false)
			return total, err
		}
		if len(cookie) == 0 {
			return total, m.close(true)
		}
	}
}

// How long an interrupted paging waits: for a page on its way to arrive
// (only its cookie can abandon the search the server moved on), and for the
// server to answer the abandon.
const (
	PageGrace   = 10 * time.Second
	AbandonWait = 10 * time.Second
)

// finishing is a context that ends grace after ctx does.
func finishing(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-t.C:
				cancel()
			case <-done:
			}
		case <-done:
		}
	}()
	return fctx, func() { close(done); cancel() }
}

// abandon sends the cookie back with size 0, so the server frees the
// search (RFC 2696 §3), even when ctx has ended; its reply is not shown.
func (s *Session) abandon(ctx context.Context, search *searchBody, r Request, cookie []byte) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), AbandonWait)
	defer cancel()
	_, err := s.sendLocked(ctx, Request{Body: Body{R: bytes.NewReader(search.page(ldapcontrol.Paged{Size: 0, Cookie: cookie}))}, Vars: r.Vars})
	if ctx.Err() != nil {
		return fmt.Errorf("no answer within %s", AbandonWait)
	}
	return err
}

// searchBody is a DSML batchRequest with one searchRequest, cut where the
// paged results control goes (the first child of the searchRequest, as
// DSML puts controls first), any such control of the caller's taken out.
type searchBody struct {
	head, tail []byte
	prefix     string // of the searchRequest's name, for the control's
}

func (sb *searchBody) page(p ldapcontrol.Paged) []byte {
	pf := sb.prefix
	if pf != "" {
		pf += ":"
	}
	var b bytes.Buffer
	b.Write(sb.head)
	fmt.Fprintf(&b, `<%scontrol type="%s" criticality="true"><%scontrolValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xsi:type="xsd:base64Binary">%s</%scontrolValue></%scontrol>`,
		pf, ldapcontrol.PagedResultsOID, pf, p.Base64(), pf, pf)
	b.Write(sb.tail)
	return b.Bytes()
}

// pageable checks a body is one DSML search and cuts it for paging.
func pageable(b *envelope.Body) (*searchBody, error) {
	if b.IsEnvelope() {
		return nil, &NotPageableError{Why: "it is a whole envelope"}
	}
	if b.Namespace != dsmlCoreNS || (b.Local != "batchRequest" && b.Local != "searchRequest") {
		return nil, &NotPageableError{Why: fmt.Sprintf("it is <%s> in namespace %q", b.Local, b.Namespace)}
	}
	src := b.XML
	if b.Local == "searchRequest" {
		src = append(append([]byte(`<batchRequest xmlns="`+dsmlCoreNS+`">`), src...), "</batchRequest>"...)
	}
	lx := xmltok.NewBytesLexer(src)
	var scope xmltok.Scope
	var (
		out      bytes.Buffer
		sb       searchBody
		searches int
		cut      = -1 // where the control goes, in out
		skip     = 0  // depth of a paged control being dropped, 0 when none
		attrs    []xmltok.Attr
	)
	for {
		t, err := lx.Next()
		if err != nil {
			break // the body was checked to be well-formed: this is its end
		}
		depth := scope.Depth()
		switch t.Kind {
		case xmltok.StartTag, xmltok.EmptyTag:
			if err := scope.Push(&t); err != nil {
				return nil, &NotPageableError{Why: err.Error()}
			}
			prefix, local := xmltok.Split(t.Name)
			ns, _ := scope.URI(prefix)
			switch {
			case skip > 0:
			case depth == 1 && (ns != dsmlCoreNS || string(local) != "searchRequest"):
				return nil, &NotPageableError{Why: fmt.Sprintf("the batchRequest holds a <%s>", local)}
			case depth == 1:
				searches++
				if t.Kind == xmltok.EmptyTag {
					return nil, &NotPageableError{Why: "the searchRequest has no filter"}
				}
				sb.prefix = string(prefix)
				out.Write(t.Raw)
				cut = out.Len()
				continue
			case depth == 2 && ns == dsmlCoreNS && string(local) == "control":
				if attrs, err = t.Attrs(attrs[:0]); err == nil && pagedControl(attrs) {
					if t.Kind == xmltok.StartTag {
						skip = depth + 1
					}
					if t.Kind == xmltok.EmptyTag {
						scope.Pop(&t)
					}
					continue
				}
			}
			if t.Kind == xmltok.EmptyTag {
				scope.Pop(&t)
			}
			if skip == 0 {
				out.Write(t.Raw)
			}
			continue
		case xmltok.EndTag:
			scope.Pop(&t)
			if skip > 0 {
				if depth == skip {
					skip = 0
				}
				continue
			}
		default:
			if skip > 0 {
				continue
			}
		}
		out.Write(t.Raw)
	}
	if searches != 1 {
		return nil, &NotPageableError{Why: fmt.Sprintf("it holds %d searchRequests", searches)}
	}
	all := out.Bytes()
	sb.head, sb.tail = all[:cut], all[cut:]
	return &sb, nil
}

// pagedControl reports whether a control's attributes make it the paged
// results control.
func pagedControl(attrs []xmltok.Attr) bool {
	for _, a := range attrs {
		if string(a.Name) == "type" && strings.TrimSpace(string(a.Value)) == ldapcontrol.PagedResultsOID {
			return true
		}
	}
	return false
}

// merger joins the batchResponses of the pages into one: the first page's
// batchResponse and searchResponse start tags, every entry of a DSML
// searchResponse (passed on only once complete), and the last page's
// searchResultDone without its paged control. Anything else a page holds
// (an errorResponse, another response) is not copied: the page's problems
// say what it was. An element from a page whose namespace declarations
// differ from the first page's gets its own.
type merger struct {
	out     reply.TokenWriter
	err     error // the first error of out
	started bool  // the merged document's start tags are written
	names   [2][]byte
	outer   map[string]string // the bindings in scope in the merged searchResponse

	scope    xmltok.Scope // of this page's body element and below
	search   bool         // inside this page's DSML searchResponse
	skip     int          // depth of an element not copied, 0 when none
	entry    []xmltok.Token
	inEntry  bool
	done     []xmltok.Token // this page's searchResultDone, standing alone
	inDone   bool
	last     []xmltok.Token // the last page's
	cookie   []byte
	entries  int // in all pages
	onPage   int // in this page
	searches int // searchResponses in this page
	attrs    []xmltok.Attr
}

func (m *merger) startPage() {
	m.scope = xmltok.Scope{}
	m.search, m.skip, m.inEntry, m.inDone = false, 0, false, false
	m.entry, m.done, m.cookie, m.onPage, m.searches = m.entry[:0], nil, nil, 0, 0
}

func clone(t *xmltok.Token) xmltok.Token {
	return xmltok.Token{Kind: t.Kind, Raw: bytes.Clone(t.Raw), Name: bytes.Clone(t.Name), Line: t.Line}
}

func (m *merger) emit(t *xmltok.Token) {
	if m.err == nil && m.out != nil {
		m.err = m.out.Write(t)
	}
}

// alone is a start tag with the declarations it needs where it is put in
// the merged document: those of its page that the merged searchResponse
// does not already make.
func (m *merger) alone(t *xmltok.Token) xmltok.Token {
	c := clone(t)
	var missing []xmltok.Binding
	for _, b := range m.scope.InScope() {
		if uri, ok := m.outer[b.Prefix]; !ok || uri != b.URI {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		if raw, err := xmltok.Declare(t, missing); err == nil {
			c.Raw = raw
		}
	}
	return c
}

// Write takes the tokens of a page's Body, as reply.Stream passes them.
func (m *merger) Write(t *xmltok.Token) error {
	switch t.Kind {
	case xmltok.StartTag, xmltok.EmptyTag:
		d := m.scope.Depth()
		if err := m.scope.Push(t); err != nil {
			return err
		}
		m.start(t, d)
		if t.Kind == xmltok.EmptyTag {
			m.end(t, d)
			return m.scope.Pop(t)
		}
	case xmltok.EndTag:
		d := m.scope.Depth() - 1
		m.end(t, d)
		return m.scope.Pop(t)
	default:
		m.hold(t)
	}
	return nil // the page streams on; m.err ends the paging after it
}

// hold keeps a token of the entry or searchResultDone being read, and
// drops one inside an element not copied; it reports whether it took it.
func (m *merger) hold(t *xmltok.Token) bool {
	switch {
	case m.skip > 0:
	case m.inEntry:
		m.entry = append(m.entry, clone(t))
	case m.inDone:
		m.done = append(m.done, clone(t))
	default:
		return false
	}
	return true
}

// start takes a start tag at depth d (0: the page's batchResponse).
func (m *merger) start(t *xmltok.Token, d int) {
	prefix, local := xmltok.Split(t.Name)
	ns, _ := m.scope.URI(prefix)
	dsml := func(name string) bool { return ns == dsmlCoreNS && string(local) == name }
	if m.hold(t) {
		return
	}
	switch {
	case d == 0 && dsml("batchResponse"), d == 1 && dsml("searchResponse"):
		if d == 1 {
			m.search = true
			m.searches++
		}
		if !m.started {
			m.names[d] = bytes.Clone(t.Name)
			m.emit(t)
			if d == 1 {
				m.started, m.outer = true, map[string]string{}
				for _, b := range m.scope.InScope() {
					m.outer[b.Prefix] = b.URI
				}
			}
		}
	case d == 2 && m.search && dsml("searchResultDone"):
		m.done = append(m.done[:0], m.alone(t))
		m.inDone = t.Kind == xmltok.StartTag
	case d == 2 && m.search && (dsml("searchResultEntry") || dsml("searchResultReference")):
		m.entry = append(m.entry[:0], m.alone(t))
		m.inEntry = t.Kind == xmltok.StartTag
	default: // not part of a search's result: not copied
		m.skip = d + 1
	}
}

// end takes the end of the element at depth d.
func (m *merger) end(t *xmltok.Token, d int) {
	switch {
	case m.skip > 0:
		if d+1 == m.skip {
			m.skip = 0
		}
	case m.inEntry:
		if t.Kind == xmltok.EndTag {
			m.entry = append(m.entry, clone(t))
		}
		if d == 2 {
			m.inEntry = false
			m.flushEntry()
		}
	case m.inDone:
		if t.Kind == xmltok.EndTag {
			m.done = append(m.done, clone(t))
		}
		if d == 2 {
			m.inDone = false
		}
	case d == 1:
		m.search = false
	}
}

func (m *merger) flushEntry() {
	for i := range m.entry {
		m.emit(&m.entry[i])
	}
	if localIs(m.entry[0].Name, "searchResultEntry") {
		m.entries++
		m.onPage++
	}
	m.entry = m.entry[:0]
}

// pageDone checks the page's searchResultDone: a result code other than
// success fails the paging; its paged control's cookie asks for the next.
func (m *merger) pageDone() error {
	if m.searches != 1 || len(m.done) == 0 {
		return errors.New("the page holds no DSML searchResponse ending in a searchResultDone")
	}
	var raw bytes.Buffer
	for _, t := range m.done {
		raw.Write(t.Raw)
	}
	// Standing alone but for the merged root's declarations: put those
	// around it to parse it.
	wrap := &xmltok.Token{Kind: xmltok.StartTag, Raw: []byte("<w>"), Name: []byte("w")}
	var bs []xmltok.Binding
	for p, u := range m.outer {
		bs = append(bs, xmltok.Binding{Prefix: p, URI: u})
	}
	open, err := xmltok.Declare(wrap, bs)
	if err != nil {
		return err
	}
	doc, err := xmlquery.Parse(io.MultiReader(bytes.NewReader(open), &raw, strings.NewReader("</w>")))
	if err != nil {
		return fmt.Errorf("searchResultDone: %w", err)
	}
	rc := xmlquery.FindOne(doc, "/w/*[local-name()='searchResultDone']/*[local-name()='resultCode']")
	if rc == nil {
		return errors.New("searchResultDone without a resultCode")
	}
	if code := rc.SelectAttr("code"); strings.TrimSpace(code) != "0" {
		msg := ""
		if em := xmlquery.FindOne(doc, "/w/*[local-name()='searchResultDone']/*[local-name()='errorMessage']"); em != nil {
			msg = em.InnerText()
		}
		return &FaultError{Problem: reply.Problem{Kind: "DSML searchResultDone", Severity: reply.SeverityError,
			Code: strings.TrimSpace(strings.TrimSpace(code) + " " + rc.SelectAttr("descr")), Message: msg}}
	}
	m.cookie = nil
	for _, c := range xmlquery.Find(doc, "/w/*[local-name()='searchResultDone']/*[local-name()='control']") {
		if strings.TrimSpace(c.SelectAttr("type")) != ldapcontrol.PagedResultsOID {
			continue
		}
		v := xmlquery.FindOne(c, "*[local-name()='controlValue']")
		if v == nil {
			continue
		}
		p, err := ldapcontrol.DecodePagedBase64(strings.TrimSpace(v.InnerText()))
		if err != nil {
			return fmt.Errorf("searchResultDone: paged results control: %w", err)
		}
		m.cookie = p.Cookie
	}
	m.last = m.done
	return nil
}

// close ends the merged document: after the last page with its
// searchResultDone (its paged control taken out); after a failure right
// after the last complete entry, with no searchResultDone, which would
// claim a result.
func (m *merger) close(complete bool) error {
	if !m.started {
		return m.err
	}
	if complete {
		skip := 0
		for i := range m.last {
			t := &m.last[i]
			if skip > 0 {
				if t.Kind == xmltok.StartTag {
					skip++
				} else if t.Kind == xmltok.EndTag {
					skip--
				}
				continue
			}
			if i > 0 && (t.Kind == xmltok.StartTag || t.Kind == xmltok.EmptyTag) && localIs(t.Name, "control") {
				if m.attrs, _ = t.Attrs(m.attrs[:0]); pagedControl(m.attrs) {
					if t.Kind == xmltok.StartTag {
						skip = 1
					}
					continue
				}
			}
			m.emit(t)
		}
	}
	for _, name := range [][]byte{m.names[1], m.names[0]} {
		m.emit(&xmltok.Token{Kind: xmltok.EndTag, Raw: []byte("</" + string(name) + ">"), Name: name})
	}
	m.emit(&xmltok.Token{Kind: xmltok.Text, Raw: []byte("\n")})
	return m.err
}

func localIs(qname []byte, local string) bool {
	_, l := xmltok.Split(qname)
	return string(l) == local
}
