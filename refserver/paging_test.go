package refserver

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/soapsess/soapsess/ldapcontrol"
)

const (
	pagedOID = "1.2.840.113556.1.4.319"
	// everything is the filter of the paging tests.
	everything = `<present name="objectClass"/>`
)

// search is one searchRequest of a test.
type search struct {
	base, scope, filter string
	controls            string // control elements, written before the filter
	attrs               string // extra searchRequest attributes
}

func usersSearch() search {
	return search{base: DSMLUsersDN, scope: "singleLevel", filter: everything}
}

func (s search) xml() string {
	return `<searchRequest dn="` + xmlAttr(s.base) + `" scope="` + s.scope + `" ` + s.attrs + `>` + s.controls +
		`<filter>` + s.filter + `</filter></searchRequest>`
}

// pagedControl writes a paged results control by hand, so the value's
// base64 and the XML around it do not depend on the server's own helpers.
func pagedControl(value []byte, critical bool) string {
	return `<control type="` + pagedOID + `" criticality="` + fmt.Sprint(critical) + `">` +
		`<controlValue xsi:type="xsd:base64Binary">` + base64.StdEncoding.EncodeToString(value) + `</controlValue></control>`
}

func (s search) paged(size int, cookie []byte) search {
	s.controls += pagedControl(ldapcontrol.Paged{Size: size, Cookie: cookie}.Encode(), true)
	return s
}

// dsmlSend posts a batchRequest of ops, in session id ("" for a stateless request).
func dsmlSend(t *testing.T, srv *Server, id string, ops ...string) *xdoc {
	t.Helper()
	hdr := ""
	if id != "" {
		hdr = dsmlHdr("Session", id)
	}
	body := `<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		strings.Join(ops, "") + `</batchRequest>`
	return ok(t, post(t, srv, "/dsml", dsmlEnv(hdr, body)))
}

// page is what a test reads from a searchResponse.
type page struct {
	dns       []string
	code      string
	message   string
	hasCookie bool   // the searchResultDone carries a paged results control
	cookie    []byte // its cookie
	value     string // its controlValue text
}

func readPage(t *testing.T, doc *xdoc) page {
	t.Helper()
	if e := doc.all(dsmlCoreNS, "errorResponse"); len(e) > 0 {
		msg := ""
		if m := doc.all(dsmlCoreNS, "message"); len(m) > 0 {
			msg = m[0].text
		}
		t.Fatalf("errorResponse where a searchResponse was expected: %s", msg)
	}
	var p page
	for _, e := range doc.all(dsmlCoreNS, "searchResultEntry") {
		dn, _ := e.attr("", "dn")
		p.dns = append(p.dns, dn)
	}
	done := doc.one(t, dsmlCoreNS, "searchResultDone")
	for i, c := range done.children {
		switch c.name.Local {
		case "control":
			if i != 0 || c.name.Space != dsmlCoreNS {
				t.Fatalf("searchResultDone: control must come first, in the DSML namespace")
			}
			if typ, _ := c.attr("", "type"); typ != pagedOID {
				t.Fatalf("searchResultDone control type %q", typ)
			}
			if len(c.children) != 1 || c.children[0].name != xmlName(dsmlCoreNS, "controlValue") {
				t.Fatalf("searchResultDone control without one controlValue")
			}
			v := c.children[0]
			xt, _ := v.attr("http://www.w3.org/2001/XMLSchema-instance", "type")
			if got := v.qnameIn(xt); got != xmlName("http://www.w3.org/2001/XMLSchema", "base64Binary") {
				t.Fatalf("controlValue xsi:type = %v, want xsd:base64Binary", got)
			}
			p.value = v.text
			pv, err := ldapcontrol.DecodePagedBase64(v.text)
			if err != nil {
				t.Fatalf("response control value %q: %v", v.text, err)
			}
			p.hasCookie, p.cookie = true, pv.Cookie
		case "resultCode":
			p.code, _ = c.attr("", "code")
		case "errorMessage":
			p.message = c.text
		}
	}
	return p
}

func xmlName(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }

func newPagingServer(t *testing.T, entries int) (*Server, *fakeClock) {
	t.Helper()
	srv, clock := newTestServer(Options{DSMLEntries: entries})
	return srv, clock
}

// pageAll pages s through in session id with the given size and returns the
// DNs of all pages and the number of requests.
func pageAll(t *testing.T, srv *Server, id string, s search, size int) ([]string, int) {
	t.Helper()
	var all []string
	var cookie []byte
	seen := map[string]bool{}
	for n := 1; ; n++ {
		p := readPage(t, dsmlSend(t, srv, id, s.paged(size, cookie).xml()))
		if p.code != "0" || !p.hasCookie {
			t.Fatalf("page %d: resultCode %s (%s), control %v", n, p.code, p.message, p.hasCookie)
		}
		if len(p.dns) > size {
			t.Fatalf("page %d holds %d entries, more than the page size %d", n, len(p.dns), size)
		}
		all = append(all, p.dns...)
		if len(p.cookie) == 0 {
			return all, n
		}
		if seen[string(p.cookie)] {
			t.Fatalf("page %d: cookie reused", n)
		}
		seen[string(p.cookie)] = true
		if len(p.dns) < size {
			t.Fatalf("page %d is short (%d) but carries a cookie", n, len(p.dns))
		}
		if got := srv.Cursors(); got != 1 {
			t.Fatalf("page %d: Cursors() = %d, want 1", n, got)
		}
		cookie = p.cookie
	}
}

func TestDSMLGeneratedDirectory(t *testing.T) {
	srv, _ := newPagingServer(t, 3)
	want := []string{
		"cn=User 00001,cn=Users,dc=example,dc=com",
		"cn=User 00002,cn=Users,dc=example,dc=com",
		"cn=User 00003,cn=Users,dc=example,dc=com",
	}
	if got := srv.DSMLEntryDNs(DSMLUsersDN, "singleLevel"); !slices.Equal(got, want) {
		t.Fatalf("DSMLEntryDNs = %q, want %q", got, want)
	}
	all := srv.DSMLEntryDNs("dc=example,dc=com", "wholeSubtree")
	if len(all) != 8 || all[4] != DSMLUsersDN || !slices.Equal(all[5:], want) {
		t.Fatalf("whole directory = %q", all)
	}
	if got := srv.DSMLEntryDNs("dc=nowhere", "wholeSubtree"); got != nil {
		t.Fatalf("DSMLEntryDNs of a missing base = %q", got)
	}

	// A generated user is an ordinary entry: found by DN and by filter,
	// deleted, and its DN free for an add, which goes to the end.
	doc := dsmlSend(t, srv, "", search{base: "CN=user 00002, cn=users,dc=example,dc=com", scope: "baseObject", filter: everything}.xml())
	got := entries(doc)["cn=User 00002,cn=Users,dc=example,dc=com"]
	wantAttrs := map[string][]string{
		"objectClass": {"top", "person", "organizationalPerson", "user"}, "cn": {"User 00002"}, "sn": {"00002"},
		"sAMAccountName": {"user00002"}, "mail": {"user00002@example.com"},
	}
	if len(got) != len(wantAttrs) {
		t.Fatalf("generated entry = %v, want %v", got, wantAttrs)
	}
	for k, v := range wantAttrs {
		if !slices.Equal(got[k], v) {
			t.Fatalf("generated entry %s = %v, want %v", k, got[k], v)
		}
	}
	doc = dsmlSend(t, srv, "", search{base: "dc=example,dc=com", scope: "wholeSubtree", filter: `<equalityMatch name="mail"><value>USER00003@example.com</value></equalityMatch>`}.xml())
	if dns := readPage(t, doc).dns; !slices.Equal(dns, want[2:]) {
		t.Fatalf("search by mail found %q", dns)
	}
	for _, step := range []struct{ op, elem, code string }{
		{`<delRequest dn="cn=Users,dc=example,dc=com"/>`, "delResponse", "66"},
		{`<delRequest dn="cn=User 00002,cn=Users,dc=example,dc=com"/>`, "delResponse", "0"},
		{`<delRequest dn="cn=User 00002,cn=Users,dc=example,dc=com"/>`, "delResponse", "32"},
		{`<delRequest dn="cn=User 00004,cn=Users,dc=example,dc=com"/>`, "delResponse", "32"},
		{`<addRequest dn="cn=User 00001,cn=Users,dc=example,dc=com"/>`, "addResponse", "68"},
		{`<addRequest dn="cn=User 00002,cn=Users,dc=example,dc=com"><attr name="objectClass"><value>user</value></attr></addRequest>`, "addResponse", "0"},
	} {
		doc := dsmlSend(t, srv, "", step.op)
		if code, _ := doc.one(t, dsmlCoreNS, step.elem).children[0].attr("", "code"); code != step.code {
			t.Fatalf("%s: resultCode %s, want %s", step.op, code, step.code)
		}
	}
	want = []string{want[0], want[2], want[1]}
	if got := srv.DSMLEntryDNs(DSMLUsersDN, "singleLevel"); !slices.Equal(got, want) {
		t.Fatalf("after delete and add, DSMLEntryDNs = %q, want %q", got, want)
	}
}

// Without DSMLEntries the directory is the small one, without cn=Users.
func TestDSMLNoGeneratedEntries(t *testing.T) {
	srv, _ := newPagingServer(t, 0)
	if got := srv.DSMLEntryDNs("dc=example,dc=com", "wholeSubtree"); len(got) != 4 {
		t.Fatalf("small directory = %q", got)
	}
	if got := srv.DSMLEntryDNs(DSMLUsersDN, "baseObject"); got != nil {
		t.Fatalf("cn=Users exists without DSMLEntries: %q", got)
	}
}

// 100,000 users cost a bitmap, not 100,000 entries.
func TestDSMLGeneratedDirectoryIsCompact(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	srv := New(Options{DSMLEntries: 100_000})
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
		t.Fatalf("a server with 100,000 users allocated %d bytes", n)
	}
	runtime.KeepAlive(srv)
}

func TestDSMLPagedSearch(t *testing.T) {
	srv, _ := newPagingServer(t, 5000)
	want := srv.DSMLEntryDNs(DSMLUsersDN, "singleLevel")
	if len(want) != 5000 {
		t.Fatalf("DSMLEntryDNs lists %d users, want 5000", len(want))
	}
	id := dialects[0].beginSession(t, srv)
	got, requests := pageAll(t, srv, id, usersSearch(), 500)
	if !slices.Equal(got, want) {
		t.Fatalf("pages hold %d entries, want the directory's 5000 in order (first %q)", len(got), got[:min(3, len(got))])
	}
	// Ten full pages, each with a cookie (Active Directory cannot know a
	// full page is the last), then an empty one without.
	if requests != 11 {
		t.Fatalf("%d requests, want 11", requests)
	}
	if n := srv.Cursors(); n != 0 {
		t.Fatalf("Cursors() after the last page = %d, want 0", n)
	}

	// The same through the whole tree with a filter, with pages that do
	// not divide the count.
	s := search{base: "dc=example,dc=com", scope: "wholeSubtree", filter: `<equalityMatch name="objectClass"><value>user</value></equalityMatch>`}
	got, requests = pageAll(t, srv, id, s, 999)
	if !slices.Equal(got, want) || requests != 6 {
		t.Fatalf("filtered paging: %d entries in %d requests", len(got), requests)
	}
}

// Paging the small directory in pages of 2, and the page size cut to 1,000.
func TestDSMLPageSizes(t *testing.T) {
	srv, _ := newPagingServer(t, 0)
	id := dialects[0].beginSession(t, srv)
	s := search{base: "dc=example,dc=com", scope: "wholeSubtree", filter: everything}
	got, requests := pageAll(t, srv, id, s, 2)
	if want := srv.DSMLEntryDNs("dc=example,dc=com", "wholeSubtree"); !slices.Equal(got, want) || requests != 3 {
		t.Fatalf("pages of 2: %q in %d requests, want %q in 3", got, requests, want)
	}
	got, requests = pageAll(t, srv, id, s, 3)
	if len(got) != 4 || requests != 2 {
		t.Fatalf("pages of 3: %d entries in %d requests", len(got), requests)
	}

	srv, _ = newPagingServer(t, 2500)
	id = dialects[0].beginSession(t, srv)
	p := readPage(t, dsmlSend(t, srv, id, usersSearch().paged(5000, nil).xml()))
	if len(p.dns) != 1000 || len(p.cookie) == 0 || p.code != "0" {
		t.Fatalf("page size 5000: %d entries, code %s, cookie %x; want 1000 (MaxPageSize) and a cookie", len(p.dns), p.code, p.cookie)
	}
}

// Windows writes BER lengths in long form; the server reads them, and its
// last page carries an empty cookie.
func TestDSMLPagedWindowsEncoding(t *testing.T) {
	srv, _ := newPagingServer(t, 3)
	id := dialects[0].beginSession(t, srv)
	// SEQUENCE (length 5 in four bytes) { INTEGER 2, OCTET STRING "" }, as
	// Windows' BER encoder writes it.
	value, _ := hex.DecodeString("3084000000050201020400")
	s := usersSearch()
	s.controls = pagedControl(value, true)
	p := readPage(t, dsmlSend(t, srv, id, s.xml()))
	if len(p.dns) != 2 || len(p.cookie) == 0 {
		t.Fatalf("long-form page size 2: %d entries, cookie %x", len(p.dns), p.cookie)
	}
	p = readPage(t, dsmlSend(t, srv, id, usersSearch().paged(2, p.cookie).xml()))
	// SEQUENCE { INTEGER 0, OCTET STRING "" }: 30 05 02 01 00 04 00.
	if len(p.dns) != 1 || p.value != "MAUCAQAEAA==" {
		t.Fatalf("last page: %d entries, control value %q, want 1 and MAUCAQAEAA==", len(p.dns), p.value)
	}
}

func TestDSMLUnpagedSizeLimit(t *testing.T) {
	srv, _ := newPagingServer(t, 1500)
	want := srv.DSMLEntryDNs(DSMLUsersDN, "singleLevel")
	id := dialects[0].beginSession(t, srv)
	for _, sess := range []string{"", id} {
		p := readPage(t, dsmlSend(t, srv, sess, usersSearch().xml()))
		if !slices.Equal(p.dns, want[:1000]) || p.code != "4" || p.hasCookie {
			t.Fatalf("unpaged search of 1500 (session %q): %d entries, resultCode %s, control %v; want the first 1000, 4 (sizeLimitExceeded), none",
				sess, len(p.dns), p.code, p.hasCookie)
		}
		if descr, _ := doc1(t, srv, sess).attr("", "descr"); descr != "sizeLimitExceeded" {
			t.Fatalf("descr = %q", descr)
		}
	}
	s := usersSearch()
	s.attrs = `sizeLimit="750"`
	if p := readPage(t, dsmlSend(t, srv, "", s.xml())); !slices.Equal(p.dns, want[:750]) || p.code != "4" {
		t.Fatalf("sizeLimit 750: %d entries, resultCode %s", len(p.dns), p.code)
	}
	s.attrs = `sizeLimit="1500"`
	if p := readPage(t, dsmlSend(t, srv, "", s.xml())); len(p.dns) != 1000 || p.code != "4" {
		t.Fatalf("sizeLimit 1500: %d entries, resultCode %s", len(p.dns), p.code)
	}

	srv, _ = newPagingServer(t, 1000)
	if p := readPage(t, dsmlSend(t, srv, "", usersSearch().xml())); len(p.dns) != 1000 || p.code != "0" {
		t.Fatalf("unpaged search of exactly 1000: %d entries, resultCode %s, want 1000 and success", len(p.dns), p.code)
	}
}

func doc1(t *testing.T, srv *Server, id string) *xelem {
	t.Helper()
	return dsmlSend(t, srv, id, usersSearch().xml()).one(t, dsmlCoreNS, "resultCode")
}

// refused checks a page refused for its cookie: no entries, no control, and
// the result code for a critical control.
func refused(t *testing.T, doc *xdoc, what string) page {
	t.Helper()
	p := readPage(t, doc)
	if len(p.dns) != 0 || p.hasCookie || p.code != "12" || !strings.HasPrefix(p.message, "00000057: LdapErr: ") || !strings.Contains(p.message, "Error processing control") {
		t.Fatalf("%s: %d entries, control %v, resultCode %s, message %q; want none, none, 12 and AD's control error",
			what, len(p.dns), p.hasCookie, p.code, p.message)
	}
	return p
}

func TestDSMLCookieReplayedInAnotherSession(t *testing.T) {
	srv, _ := newPagingServer(t, 50)
	a := dialects[0].beginSession(t, srv)
	b := dialects[0].beginSession(t, srv)
	first := readPage(t, dsmlSend(t, srv, a, usersSearch().paged(20, nil).xml()))
	p := refused(t, dsmlSend(t, srv, b, usersSearch().paged(20, first.cookie).xml()), "cookie of session A in session B")
	if strings.Contains(p.message, "different search") {
		t.Fatalf("session B learns that the cookie exists elsewhere: %q", p.message)
	}
	// Session B's attempt took nothing from A.
	if n := srv.Cursors(); n != 1 {
		t.Fatalf("Cursors() = %d, want A's 1", n)
	}
	next := readPage(t, dsmlSend(t, srv, a, usersSearch().paged(20, first.cookie).xml()))
	if want := srv.DSMLEntryDNs(DSMLUsersDN, "singleLevel")[20:40]; !slices.Equal(next.dns, want) {
		t.Fatalf("A's second page = %q", next.dns)
	}
	// A consumed cookie is spent: replaying it in its own session fails too.
	refused(t, dsmlSend(t, srv, a, usersSearch().paged(20, first.cookie).xml()), "a spent cookie")
}

func TestDSMLCookieAfterEndSession(t *testing.T) {
	srv, _ := newPagingServer(t, 50)
	a := dialects[0].beginSession(t, srv)
	first := readPage(t, dsmlSend(t, srv, a, usersSearch().paged(20, nil).xml()))
	ok(t, post(t, srv, "/dsml", dsmlEnv(dsmlHdr("EndSession", a), emptyBatch)))
	if n := srv.Cursors(); n != 0 {
		t.Fatalf("Cursors() after EndSession = %d, want 0", n)
	}
	// Under the ended session's ID: the session is gone (a fault, MS-DSML §3.1.4.2).
	body := `<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		usersSearch().paged(20, first.cookie).xml() + `</batchRequest>`
	dialects[0].badSession(t, post(t, srv, "/dsml", dsmlEnv(dsmlHdr("Session", a), body)))
	// In a new session: the cookie is unknown there.
	b := dialects[0].beginSession(t, srv)
	refused(t, dsmlSend(t, srv, b, usersSearch().paged(20, first.cookie).xml()), "cookie of an ended session")
	// Statelessly: the control itself is refused.
	s := usersSearch().paged(20, first.cookie)
	s.attrs = `requestID="r1"`
	controlRefused(t, dsmlSend(t, srv, "", s.xml()), pagedOID)
}

func TestDSMLCookieAfterExpiry(t *testing.T) {
	srv, clock := newPagingServer(t, 50)
	a := dialects[0].beginSession(t, srv)
	first := readPage(t, dsmlSend(t, srv, a, usersSearch().paged(20, nil).xml()))
	clock.Advance(idleTimeout)
	if n := srv.Cursors(); n != 0 {
		t.Fatalf("Cursors() after the session expired = %d, want 0", n)
	}
	b := dialects[0].beginSession(t, srv)
	refused(t, dsmlSend(t, srv, b, usersSearch().paged(20, first.cookie).xml()), "cookie of an expired session")
}

func TestDSMLCookieForAnotherSearch(t *testing.T) {
	srv, _ := newPagingServer(t, 50)
	id := dialects[0].beginSession(t, srv)
	first := readPage(t, dsmlSend(t, srv, id, usersSearch().paged(20, nil).xml()))
	others := map[string]search{
		"filter": {base: DSMLUsersDN, scope: "singleLevel", filter: `<present name="cn"/>`},
		"base":   {base: "dc=example,dc=com", scope: "singleLevel", filter: everything},
		"scope":  {base: DSMLUsersDN, scope: "wholeSubtree", filter: everything},
		"value":  {base: DSMLUsersDN, scope: "singleLevel", filter: `<equalityMatch name="cn"><value>x</value></equalityMatch>`},
	}
	for name, s := range others {
		p := refused(t, dsmlSend(t, srv, id, s.paged(20, first.cookie).xml()), "cookie for another "+name)
		if !strings.Contains(p.message, "different search") {
			t.Fatalf("another %s: message %q does not say why", name, p.message)
		}
	}
	// The same search spelt differently is the same search, and the cookie
	// is still good for it.
	same := search{base: "CN=Users, DC=Example,dc=com", scope: "singleLevel", filter: `<present name="OBJECTCLASS"/>`}
	p := readPage(t, dsmlSend(t, srv, id, same.paged(20, first.cookie).xml()))
	if want := srv.DSMLEntryDNs(DSMLUsersDN, "singleLevel")[20:40]; !slices.Equal(p.dns, want) {
		t.Fatalf("second page after refusals = %q", p.dns)
	}
}

// RFC 2696 §3: size 0 with the cookie abandons the search.
func TestDSMLAbandonFreesTheCursor(t *testing.T) {
	srv, _ := newPagingServer(t, 50)
	id := dialects[0].beginSession(t, srv)
	first := readPage(t, dsmlSend(t, srv, id, usersSearch().paged(20, nil).xml()))
	if n := srv.Cursors(); n != 1 {
		t.Fatalf("Cursors() after the first page = %d, want 1", n)
	}
	p := readPage(t, dsmlSend(t, srv, id, usersSearch().paged(0, first.cookie).xml()))
	if p.code != "0" || len(p.dns) != 0 || !p.hasCookie || len(p.cookie) != 0 {
		t.Fatalf("abandon: resultCode %s, %d entries, control %v cookie %x; want success, none, an empty cookie", p.code, len(p.dns), p.hasCookie, p.cookie)
	}
	if n := srv.Cursors(); n != 0 {
		t.Fatalf("Cursors() after the abandon = %d, want 0", n)
	}
	refused(t, dsmlSend(t, srv, id, usersSearch().paged(20, first.cookie).xml()), "an abandoned cookie")
	// Size 0 without a cookie abandons nothing and opens nothing.
	p = readPage(t, dsmlSend(t, srv, id, usersSearch().paged(0, nil).xml()))
	if p.code != "0" || len(p.dns) != 0 || len(p.cookie) != 0 || srv.Cursors() != 0 {
		t.Fatalf("size 0 without a cookie: %+v, Cursors() %d", p, srv.Cursors())
	}
}

func TestDSMLEndSessionFreesCursors(t *testing.T) {
	srv, _ := newPagingServer(t, 50)
	a := dialects[0].beginSession(t, srv)
	b := dialects[0].beginSession(t, srv)
	for range 3 {
		readPage(t, dsmlSend(t, srv, a, usersSearch().paged(10, nil).xml()))
	}
	bFirst := readPage(t, dsmlSend(t, srv, b, usersSearch().paged(10, nil).xml()))
	if n := srv.Cursors(); n != 4 {
		t.Fatalf("Cursors() = %d, want 4", n)
	}
	ok(t, post(t, srv, "/dsml", dsmlEnv(dsmlHdr("EndSession", a), emptyBatch)))
	if n := srv.Cursors(); n != 1 {
		t.Fatalf("Cursors() after ending A = %d, want B's 1", n)
	}
	readPage(t, dsmlSend(t, srv, b, usersSearch().paged(10, bFirst.cookie).xml()))

	// A paged search in an EndSession's own body runs in the session, whose
	// cursors go with it.
	doc := ok(t, post(t, srv, "/dsml", dsmlEnv(dsmlHdr("EndSession", b),
		`<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`+
			usersSearch().paged(10, nil).xml()+`</batchRequest>`)))
	if p := readPage(t, doc); len(p.dns) != 10 {
		t.Fatalf("paged search in EndSession's body: %d entries", len(p.dns))
	}
	if n := srv.Cursors(); n != 0 {
		t.Fatalf("Cursors() after ending B = %d, want 0", n)
	}
}

// Active Directory keeps at most MaxResultSetsPerConn (10) paged searches per
// connection; storing another discards one.
func TestDSMLCursorsPerSession(t *testing.T) {
	srv, _ := newPagingServer(t, 50)
	id := dialects[0].beginSession(t, srv)
	other := dialects[0].beginSession(t, srv)
	readPage(t, dsmlSend(t, srv, other, usersSearch().paged(10, nil).xml()))
	var cookies [][]byte
	for range 11 {
		cookies = append(cookies, readPage(t, dsmlSend(t, srv, id, usersSearch().paged(10, nil).xml())).cookie)
	}
	if n := srv.Cursors(); n != 11 {
		t.Fatalf("Cursors() = %d, want 10 in the session and 1 in the other", n)
	}
	refused(t, dsmlSend(t, srv, id, usersSearch().paged(10, cookies[0]).xml()), "the discarded, least recently used cookie")
	// Continuing a search makes it recently used: the next one opened
	// discards cookies[2], not the continued cookies[1].
	c1 := readPage(t, dsmlSend(t, srv, id, usersSearch().paged(10, cookies[1]).xml())).cookie
	readPage(t, dsmlSend(t, srv, id, usersSearch().paged(10, nil).xml()))
	refused(t, dsmlSend(t, srv, id, usersSearch().paged(10, cookies[2]).xml()), "the next least recently used cookie")
	readPage(t, dsmlSend(t, srv, id, usersSearch().paged(10, c1).xml()))
	for _, c := range cookies[3:] {
		readPage(t, dsmlSend(t, srv, id, usersSearch().paged(10, c).xml()))
	}
}

// A non-critical paged control with a bad cookie: ignoring it would restart
// the search, so the server refuses with unwillingToPerform.
func TestDSMLNonCriticalBadCookie(t *testing.T) {
	srv, _ := newPagingServer(t, 50)
	id := dialects[0].beginSession(t, srv)
	s := usersSearch()
	s.controls = pagedControl(ldapcontrol.Paged{Size: 10, Cookie: []byte("forged")}.Encode(), false)
	if p := readPage(t, dsmlSend(t, srv, id, s.xml())); p.code != "53" || len(p.dns) != 0 {
		t.Fatalf("forged cookie, non-critical: resultCode %s, %d entries; want 53 and none", p.code, len(p.dns))
	}
	for name, value := range map[string]string{"not BER": "aGVsbG8=", "not base64": "!!!"} {
		s.controls = `<control type="` + pagedOID + `" criticality="true"><controlValue xsi:type="xsd:base64Binary">` + value + `</controlValue></control>`
		refused(t, dsmlSend(t, srv, id, s.xml()), name)
	}
}

// controlRefused checks DSFW's errorResponse for a control in the wrong place.
func controlRefused(t *testing.T, doc *xdoc, oid string) {
	t.Helper()
	if n := len(doc.all(dsmlCoreNS, "searchResponse")) + len(doc.all(dsmlCoreNS, "addResponse")); n != 0 {
		t.Fatalf("control %s: the operation ran", oid)
	}
	e := doc.one(t, dsmlCoreNS, "errorResponse")
	if typ, _ := e.attr("", "type"); typ != "notAttempted" {
		t.Fatalf("control %s: errorResponse type %q, want notAttempted", oid, typ)
	}
	if rid, _ := e.attr("", "requestID"); rid != "r1" {
		t.Fatalf("control %s: errorResponse requestID %q, want r1", oid, rid)
	}
	if msg := doc.one(t, dsmlCoreNS, "message").text; !strings.Contains(msg, oid) {
		t.Fatalf("control %s: message %q does not name it", oid, msg)
	}
}

func TestDSMLControlsOutsideASession(t *testing.T) {
	srv, _ := newPagingServer(t, 50)
	ctl := func(oid string, critical bool) string {
		return `<control type="` + oid + `" criticality="` + fmt.Sprint(critical) + `"><controlValue xsi:type="xsd:base64Binary">MAA=</controlValue></control>`
	}
	withCtl := func(c string) search {
		s := usersSearch()
		s.controls, s.attrs = c, `requestID="r1"`
		return s
	}
	after := `<delRequest requestID="d1" dn="cn=User 00001,cn=Users,dc=example,dc=com"/>`
	for _, c := range []struct {
		oid      string
		critical bool
	}{
		{pagedOID, true},
		{pagedOID, false},
		{"2.16.840.1.113730.3.4.9", true}, // VLV
		{"2.16.840.1.113730.3.4.9", false},
		{"1.3.6.1.4.1.99999.1", true}, // unknown
		{"1.3.6.1.4.1.99999.1", false},
		{"1.2.840.113556.1.4.528", false}, // notification: forbidden
	} {
		s := withCtl(ctl(c.oid, c.critical))
		doc := dsmlSend(t, srv, "", s.xml(), after)
		controlRefused(t, doc, c.oid)
		// onError defaults to exit: the delete after it did not run.
		if len(doc.all(dsmlCoreNS, "delResponse")) != 0 {
			t.Fatalf("control %s: the batch went on after the errorResponse", c.oid)
		}
		add := `<addRequest requestID="r1" dn="cn=X,cn=Users,dc=example,dc=com">` + ctl(c.oid, c.critical) + `</addRequest>`
		controlRefused(t, dsmlSend(t, srv, "", add), c.oid)
	}
	if got := srv.DSMLEntryDNs(DSMLUsersDN, "singleLevel"); len(got) != 50 {
		t.Fatalf("refused operations changed the directory: %d users", len(got))
	}
	// Stateless controls are allowed, here accepted and ignored, critical or not.
	for _, oid := range []string{"1.2.840.113556.1.4.473", "1.2.840.113556.1.4.417", "1.2.840.113556.1.4.801"} {
		p := readPage(t, dsmlSend(t, srv, "", withCtl(ctl(oid, true)).xml()))
		if len(p.dns) != 50 || p.code != "0" {
			t.Fatalf("stateless control %s: %d entries, resultCode %s", oid, len(p.dns), p.code)
		}
	}
	// DSFW's own example: a sort control in a stateless request.
	s := withCtl(`<control type="1.2.840.113556.1.4.473" criticality="true"><controlValue xsi:type="xsd:base64Binary">MIQAAAAPMIQAAAAJBARuYW1lAQEA</controlValue></control>`)
	if p := readPage(t, dsmlSend(t, srv, "", s.xml())); len(p.dns) != 50 {
		t.Fatalf("DSFW's sort example: %d entries", len(p.dns))
	}
}

func TestDSMLControlsInASession(t *testing.T) {
	srv, _ := newPagingServer(t, 50)
	id := dialects[0].beginSession(t, srv)
	ctl := func(oid string, critical bool) string {
		return `<control type="` + oid + `" criticality="` + fmt.Sprint(critical) + `"><controlValue xsi:type="xsd:base64Binary">MAA=</controlValue></control>`
	}
	for _, c := range []struct {
		oid      string
		critical bool
		code     string // "" => all entries
	}{
		{"2.16.840.1.113730.3.4.9", true, "12"}, // VLV: allowed, not implemented here
		{"2.16.840.1.113730.3.4.9", false, ""},
		{"1.3.6.1.4.1.99999.1", true, "12"},
		{"1.3.6.1.4.1.99999.1", false, ""},
		{"1.2.840.113556.1.4.473", true, ""},
	} {
		s := usersSearch()
		s.controls = ctl(c.oid, c.critical)
		p := readPage(t, dsmlSend(t, srv, id, s.xml()))
		switch {
		case c.code == "" && (p.code != "0" || len(p.dns) != 50):
			t.Fatalf("%s critical=%v in a session: resultCode %s, %d entries; want all", c.oid, c.critical, p.code, len(p.dns))
		case c.code != "" && (p.code != c.code || len(p.dns) != 0 || !strings.Contains(p.message, c.oid)):
			t.Fatalf("%s critical=%v in a session: resultCode %s (%q), %d entries; want %s", c.oid, c.critical, p.code, p.message, len(p.dns), c.code)
		}
	}
	// A critical paged control on an add cannot be honoured.
	doc := dsmlSend(t, srv, id, `<addRequest dn="cn=X,cn=Users,dc=example,dc=com">`+ctl(pagedOID, true)+`</addRequest>`)
	if code, _ := doc.one(t, dsmlCoreNS, "addResponse").children[0].attr("", "code"); code != "12" {
		t.Fatalf("critical paged control on an add: resultCode %s, want 12", code)
	}
	// Forbidden controls stay forbidden in a session.
	s := usersSearch()
	s.controls, s.attrs = ctl("1.2.840.113556.1.4.528", false), `requestID="r1"`
	controlRefused(t, dsmlSend(t, srv, id, s.xml()), "1.2.840.113556.1.4.528")
	// A control without a type is malformed.
	s.controls = `<control criticality="true"/>`
	doc = dsmlSend(t, srv, id, s.xml())
	if typ, _ := doc.one(t, dsmlCoreNS, "errorResponse").attr("", "type"); typ != "malformedRequest" {
		t.Fatalf("control without type: errorResponse %q, want malformedRequest", typ)
	}
}

// Two sessions page at once while cursors are counted: a workout for -race.
func TestDSMLConcurrentPaging(t *testing.T) {
	srv, _ := newPagingServer(t, 2000)
	want := srv.DSMLEntryDNs(DSMLUsersDN, "singleLevel")
	var wg sync.WaitGroup
	results := make([][]string, 4)
	ids := make([]string, len(results))
	for i := range ids {
		ids[i] = dialects[0].beginSession(t, srv)
	}
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cookie []byte
			for {
				rec := post(t, srv, "/dsml", dsmlEnv(dsmlHdr("Session", ids[i]),
					`<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`+
						usersSearch().paged(300, cookie).xml()+`</batchRequest>`))
				_ = srv.Cursors()
				body := rec.Body.Bytes()
				for _, dn := range bytes.Split(body, []byte(`<searchResultEntry dn="`))[1:] {
					results[i] = append(results[i], string(dn[:bytes.IndexByte(dn, '"')]))
				}
				i0 := bytes.Index(body, []byte(`base64Binary">`))
				if i0 < 0 {
					return // the comparison below fails
				}
				v := body[i0+len(`base64Binary">`):]
				p, err := ldapcontrol.DecodePagedBase64(string(v[:bytes.IndexByte(v, '<')]))
				if err != nil || len(p.Cookie) == 0 {
					return
				}
				cookie = p.Cookie
			}
		}()
	}
	wg.Wait()
	for i, got := range results {
		if !slices.Equal(got, want) {
			t.Fatalf("session %d paged %d entries, want the directory's %d in order", i, len(got), len(want))
		}
	}
	if n := srv.Cursors(); n != 0 {
		t.Fatalf("Cursors() = %d after every search ended", n)
	}
}

// Deleting and adding between pages neither repeats nor skips the entries
// that stay: a cursor is a position in the directory's order, not a copy.
func TestDSMLPagingAcrossChanges(t *testing.T) {
	srv, _ := newPagingServer(t, 30)
	id := dialects[0].beginSession(t, srv)
	first := readPage(t, dsmlSend(t, srv, id, usersSearch().paged(10, nil).xml()))
	dsmlSend(t, srv, id,
		`<delRequest dn="cn=User 00005,cn=Users,dc=example,dc=com"/>`, // already returned
		`<delRequest dn="cn=User 00015,cn=Users,dc=example,dc=com"/>`, // not yet returned
		`<addRequest dn="cn=Late,cn=Users,dc=example,dc=com"><attr name="objectClass"><value>user</value></attr></addRequest>`)
	var rest []string
	cookie := first.cookie
	for len(cookie) > 0 {
		p := readPage(t, dsmlSend(t, srv, id, usersSearch().paged(10, cookie).xml()))
		rest = append(rest, p.dns...)
		cookie = p.cookie
	}
	want := append(slices.Clone(first.dns), srv.DSMLEntryDNs(DSMLUsersDN, "singleLevel")[9:]...)
	all := append(slices.Clone(first.dns), rest...)
	if !slices.Equal(all, want) {
		t.Fatalf("paged across changes:\n got %q\nwant %q", all, want)
	}
}
