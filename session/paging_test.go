package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/antchfx/xmlquery"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/ldapcontrol"
	"github.com/soapsess/soapsess/printer"
	"github.com/soapsess/soapsess/refserver"
)

// pager is a DSML server that pages a directory of n entries as DSFW
// does, writing its replies with a dsml: prefix declared on the envelope
// (as MS-DSML's examples do). fail makes that page fail; block makes that
// page wait until the client gives up.
type pager struct {
	n, fail, block int
	// Odd replies: page 2 declares its prefix elsewhere (on searchResponse,
	// with another prefix); errorPage holds an errorResponse; rcPage a
	// failed result; stuck always answers the same cookie and no entries.
	odd, stuck        bool
	errorPage, rcPage int
	ref               http.Handler
	mu                sync.Mutex
	requests          []ldapcontrol.Paged // the paged controls received
	blocked           chan struct{}       // closed when the block page arrives
	release           chan struct{}       // closed to let it go on
}

var controlValue = regexp.MustCompile(`<controlValue[^>]*>([^<]*)</controlValue>`)

func (p *pager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !bytes.Contains(body, []byte("searchRequest")) { // begin and end: the reference server
		c := r.Clone(r.Context())
		c.Body = io.NopCloser(bytes.NewReader(body))
		p.ref.ServeHTTP(w, c)
		return
	}
	m := controlValue.FindSubmatch(body)
	ctl, err := ldapcontrol.DecodePagedBase64(string(m[1]))
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	p.mu.Lock()
	p.requests = append(p.requests, ctl)
	page := len(p.requests)
	p.mu.Unlock()
	if ctl.Size == 0 { // abandoned
		fmt.Fprint(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:dsml="urn:oasis:names:tc:DSML:2:0:core"><s:Body><dsml:batchResponse><dsml:searchResponse><dsml:searchResultDone><dsml:resultCode code="0"/></dsml:searchResultDone></dsml:searchResponse></dsml:batchResponse></s:Body></s:Envelope>`)
		return
	}
	if page == p.block {
		close(p.blocked)
		<-p.release
	}
	if page == p.fail {
		w.WriteHeader(500)
		fmt.Fprint(w, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>SOAP Invalid Request</faultstring><detail>Bad Request</detail></s:Fault></s:Body></s:Envelope>`)
		return
	}
	from := 0
	if len(ctl.Cookie) > 0 {
		fmt.Sscanf(string(ctl.Cookie), "next=%d", &from)
	}
	to := min(from+ctl.Size, p.n)
	next := ""
	if to < p.n {
		next = fmt.Sprintf("next=%d", to)
	}
	if p.stuck {
		to, next = from, string(ctl.Cookie)+"x"[:min(1, len(ctl.Cookie))]
		if next == "" {
			next = "again"
		}
	}
	pf, open := "dsml", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:dsml="urn:oasis:names:tc:DSML:2:0:core"><s:Body><dsml:batchResponse><dsml:searchResponse>`
	closing := `</dsml:searchResponse></dsml:batchResponse></s:Body></s:Envelope>`
	if p.odd && page == 2 {
		pf, open = "q", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><batchResponse xmlns="urn:oasis:names:tc:DSML:2:0:core"><searchResponse xmlns:q="urn:oasis:names:tc:DSML:2:0:core">`
		closing = `</searchResponse></batchResponse></s:Body></s:Envelope>`
	}
	var b strings.Builder
	b.WriteString(open)
	if page == p.errorPage {
		b.Reset()
		b.WriteString(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:dsml="urn:oasis:names:tc:DSML:2:0:core"><s:Body><dsml:batchResponse><dsml:errorResponse type="couldNotConnect"><dsml:message>LDAP connection lost</dsml:message></dsml:errorResponse></dsml:batchResponse></s:Body></s:Envelope>`)
		fmt.Fprint(w, b.String())
		return
	}
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `<%s:searchResultEntry dn="cn=u%05d,dc=x"><%s:attr name="cn"><%s:value>u%05d</%s:value></%s:attr></%s:searchResultEntry>`, pf, i, pf, pf, i, pf, pf, pf)
	}
	rc := `<%s:resultCode code="0" descr="success"/>`
	if page == p.rcPage {
		rc = `<%s:resultCode code="53" descr="unwillingToPerform"/><%s:errorMessage>00002024: busy</%s:errorMessage>`
	}
	fmt.Fprintf(&b, `<%s:searchResultDone><%s:control type="1.2.840.113556.1.4.474"><%s:controlValue>MAMKAQA=</%s:controlValue></%s:control><%s:control type="%s"><%s:controlValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xsd:base64Binary">%s</%s:controlValue></%s:control>`,
		pf, pf, pf, pf, pf, pf, ldapcontrol.PagedResultsOID, pf, ldapcontrol.Paged{Size: p.n, Cookie: []byte(next)}.Base64(), pf, pf)
	b.WriteString(strings.ReplaceAll(rc, "%s", pf))
	fmt.Fprintf(&b, `</%s:searchResultDone>`, pf)
	b.WriteString(closing)
	fmt.Fprint(w, b.String())
}

const search = `<searchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" dn="dc=x" scope="singleLevel" derefAliases="neverDerefAliases"><filter><present name="cn"/></filter></searchRequest>`

func pagedFixture(t *testing.T, p *pager) (*fixture, *Session) {
	t.Helper()
	f := newFixture(t)
	p.ref, p.blocked, p.release = refserver.New(refserver.Options{}), make(chan struct{}), make(chan struct{})
	f.h.set(p)
	res, err := f.m.Begin(context.Background(), BeginOptions{Name: "s", URL: f.srv.URL + "/dsml", Dialect: dialect(t, "dsml")})
	if err != nil {
		t.Fatal(err)
	}
	return f, res.Session
}

func dns(t *testing.T, doc []byte) []string {
	t.Helper()
	root, err := xmlquery.Parse(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("the merged document is not well-formed: %v\n%s", err, doc)
	}
	var out []string
	for _, e := range xmlquery.Find(root, "/*[local-name()='batchResponse']/*[local-name()='searchResponse']/*[local-name()='searchResultEntry']") {
		out = append(out, e.SelectAttr("dn"))
	}
	return out
}

// Seven entries in pages of three: three requests, the cookie carried from
// page to page, one batchResponse with every entry once in order, and the
// last searchResultDone without its control.
func TestSendAllPages(t *testing.T) {
	p := &pager{n: 7}
	f, s := pagedFixture(t, p)
	var out bytes.Buffer
	pr := printer.New(&out, printer.Options{Trusted: true})
	var progress []string
	res, err := s.SendAllPages(context.Background(), Request{Body: body(search), Reply: Sinks{Body: pr}},
		Paging{Size: 3, Progress: func(pages, entries int) { progress = append(progress, fmt.Sprint(pages, entries)) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Close(); err != nil {
		t.Fatal(err)
	}
	got := dns(t, out.Bytes())
	if len(got) != 7 || got[0] != "cn=u00000,dc=x" || got[6] != "cn=u00006,dc=x" || res.Pages != 3 || res.Entries != 7 {
		t.Errorf("%d pages, %d entries: %q", res.Pages, res.Entries, got)
	}
	if strings.Count(out.String(), "searchResultDone>") != 2 || strings.Contains(out.String(), ldapcontrol.PagedResultsOID) ||
		!strings.Contains(out.String(), "1.2.840.113556.1.4.474") || strings.Count(out.String(), "<dsml:batchResponse") != 1 {
		t.Errorf("want one batchResponse and one searchResultDone without its paged control (and with its sort control):\n%s", out.String())
	}
	cookies := []string{}
	for _, r := range p.requests {
		cookies = append(cookies, fmt.Sprintf("%d:%s", r.Size, r.Cookie))
	}
	if strings.Join(cookies, " ") != "3: 3:next=3 3:next=6" || strings.Join(progress, " ") != "1 3 2 6 3 7" {
		t.Errorf("requests %q, progress %q", cookies, progress)
	}
	if n := f.requests(); n != 4 {
		t.Errorf("requests = %d, want a begin and 3 pages", n)
	}
}

// A failing page abandons the search (its cookie sent back with size 0),
// and the document ends after the last complete entry, without a
// searchResultDone that would claim a result.
func TestSendAllPagesFailingPage(t *testing.T) {
	p := &pager{n: 10, fail: 3}
	_, s := pagedFixture(t, p)
	var out bytes.Buffer
	pr := printer.New(&out, printer.Options{Trusted: true})
	res, err := s.SendAllPages(context.Background(), Request{Body: body(search), Reply: Sinks{Body: pr}}, Paging{Size: 3})
	pr.Close()
	var fe *FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v; want the page's fault", err)
	}
	if got := dns(t, out.Bytes()); len(got) != 6 || strings.Contains(out.String(), "searchResultDone") {
		t.Errorf("after a failing third page: %q\n%s", got, out.String())
	}
	last := p.requests[len(p.requests)-1]
	if len(p.requests) != 4 || last.Size != 0 || string(last.Cookie) != "next=6" || res.AbandonErr != nil {
		t.Errorf("requests %+v (abandon: %v); want the search abandoned with the last cookie", p.requests, res.AbandonErr)
	}
}

// Ctrl-C while a page is on its way lets that page arrive (the server has
// moved on: only its cookie can abandon the search), then abandons the
// search with it, and says the paging was interrupted.
func TestSendAllPagesInterrupted(t *testing.T) {
	p := &pager{n: 20, block: 2}
	_, s := pagedFixture(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-p.blocked; cancel(); close(p.release) }()
	var out bytes.Buffer
	pr := printer.New(&out, printer.Options{Trusted: true})
	_, err := s.SendAllPages(ctx, Request{Body: body(search), Reply: Sinks{Body: pr}}, Paging{Size: 4})
	pr.Close()
	var ie *InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v; want InterruptedError", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	last := p.requests[len(p.requests)-1]
	if len(p.requests) != 3 || last.Size != 0 || string(last.Cookie) != "next=8" {
		t.Errorf("requests %+v; want the search abandoned with the cookie of the page on its way", p.requests)
	}
	if got := dns(t, out.Bytes()); len(got) != 8 {
		t.Errorf("entries written: %q", got)
	}
}

// Only a DSML search can be paged; a control of the caller's is replaced.
func TestPageable(t *testing.T) {
	for _, src := range []string{
		`<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"/>`,
		`<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core"><addRequest dn="cn=x"/></batchRequest>`,
		`<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core">` + search + search + `</batchRequest>`,
		`<searchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" dn="dc=x"/>`,
	} {
		b, err := readBody(dialect(t, "dsml"), envelope.Session, body(src), envelope.Values{})
		if err == nil {
			_, err = pageable(b)
		}
		var np *NotPageableError
		if !errors.As(err, &np) {
			t.Errorf("%s: %v; want NotPageableError", src, err)
		}
	}
	src := `<d:batchRequest xmlns:d="urn:oasis:names:tc:DSML:2:0:core"><d:searchRequest dn="dc=x"><d:control type="1.2.840.113556.1.4.319"><d:controlValue>MAYCAgH0BAA=</d:controlValue></d:control><d:control type="1.2.840.113556.1.4.417"/><d:filter><d:present name="cn"/></d:filter></d:searchRequest></d:batchRequest>`
	b, err := readBody(dialect(t, "dsml"), envelope.Session, body(src), envelope.Values{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := pageable(b)
	if err != nil {
		t.Fatal(err)
	}
	got := string(sb.page(ldapcontrol.Paged{Size: 9}))
	if strings.Count(got, "1.2.840.113556.1.4.319") != 1 || !strings.Contains(got, `<d:control type="1.2.840.113556.1.4.319" criticality="true"><d:controlValue`) ||
		!strings.Contains(got, `<d:control type="1.2.840.113556.1.4.417"/>`) || !strings.Contains(got, ldapcontrol.Paged{Size: 9}.Base64()) {
		t.Errorf("paged body:\n%s", got)
	}
	if _, err := readBody(dialect(t, "dsml"), envelope.Session, body(got), envelope.Values{}); err != nil {
		t.Errorf("the paged body is not a body: %v", err)
	}
}

// Replies a server may legitimately vary: page 2 declares the DSML
// namespace elsewhere and with another prefix. The merged document still
// resolves every prefix.
func TestSendAllPagesPrefixesChange(t *testing.T) {
	p := &pager{n: 7, odd: true}
	_, s := pagedFixture(t, p)
	var out bytes.Buffer
	pr := printer.New(&out, printer.Options{Trusted: true})
	if _, err := s.SendAllPages(context.Background(), Request{Body: body(search), Reply: Sinks{Body: pr}}, Paging{Size: 3}); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	root, err := xmlquery.Parse(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	n := 0
	for _, e := range xmlquery.Find(root, "//*[local-name()='searchResultEntry']") {
		if e.NamespaceURI != dsmlCoreNS {
			t.Errorf("entry %s in namespace %q", e.SelectAttr("dn"), e.NamespaceURI)
		}
		n++
	}
	if n != 7 {
		t.Errorf("%d entries:\n%s", n, out.String())
	}
}

// What a page holds besides its search result is not copied; a failed
// result fails the paging as a problem of the reply, and the search is
// abandoned.
func TestSendAllPagesOddPages(t *testing.T) {
	for _, tt := range []struct {
		name    string
		p       *pager
		kind    string
		entries int // written: a failed result's page streamed its entries before its end
	}{
		{"errorResponse", &pager{n: 10, errorPage: 2}, "DSML errorResponse", 3},
		{"resultCode", &pager{n: 10, rcPage: 2}, "DSML searchResultDone", 6},
	} {
		_, s := pagedFixture(t, tt.p)
		var out bytes.Buffer
		pr := printer.New(&out, printer.Options{Trusted: true})
		res, err := s.SendAllPages(context.Background(), Request{Body: body(search), Reply: Sinks{Body: pr}}, Paging{Size: 3})
		pr.Close()
		var fe *FaultError
		if !errors.As(err, &fe) || fe.Problem.Kind != tt.kind || len(res.Problems) == 0 || res.Problems[len(res.Problems)-1].Kind != tt.kind {
			t.Errorf("%s: err %v, problems %+v", tt.name, err, res.Problems)
		}
		if strings.Contains(out.String(), "message") || strings.Contains(out.String(), "busy") || len(dns(t, out.Bytes())) != tt.entries {
			t.Errorf("%s: stdout:\n%s", tt.name, out.String())
		}
		if last := tt.p.requests[len(tt.p.requests)-1]; last.Size != 0 {
			t.Errorf("%s: not abandoned: %+v", tt.name, tt.p.requests)
		}
	}
}

// A server that answers no entries and a cookie for more, again and again,
// is not asked forever.
func TestSendAllPagesStuckServer(t *testing.T) {
	p := &pager{n: 10, stuck: true}
	_, s := pagedFixture(t, p)
	_, err := s.SendAllPages(context.Background(), Request{Body: body(search)}, Paging{Size: 3})
	var re *ReplyError
	if !errors.As(err, &re) || len(p.requests) > 4 {
		t.Errorf("err %v after %d requests", err, len(p.requests))
	}
}

// readBody loads and builds a body, as a call does.
func readBody(d *envelope.Dialect, p envelope.Phase, b Body, v envelope.Values) (*envelope.Body, error) {
	l, err := load(b)
	if err != nil {
		return nil, err
	}
	return l.build(d, p, v)
}
