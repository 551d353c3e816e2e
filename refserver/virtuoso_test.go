package refserver

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// What /xmla/virtuoso does, as OpenLink Virtuoso 7.2.5.1 does on its wire
// (notes xmla.md §14); each expected value below was measured there.

const xmlaDiscoverDatasources = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions><RestrictionList/></Restrictions><Properties><PropertyList/></Properties></Discover>`

// virtuosoEmpty is an Execute with an empty Statement and the given properties.
func virtuosoEmpty(props string) string {
	return `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement/></Command><Properties><PropertyList>` + props + `</PropertyList></Properties></Execute>`
}

// virtuosoProps is a DISCOVER_PROPERTIES with the given properties: it
// lists the session's kept DataSourceInfo and Catalog, so it shows whether
// a request ran with its session's state.
func virtuosoProps(props string) string {
	return `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_PROPERTIES</RequestType><Restrictions/><Properties><PropertyList>` + props + `</PropertyList></Properties></Discover>`
}

// virtuosoUnreported checks how Virtuoso answers a request naming a session
// it does not have: as any other, HTTP 200, without a Header.
func virtuosoUnreported(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	doc := ok(t, rec)
	if n := len(doc.all(soapEnvNS, "Header")); n != 0 {
		t.Fatalf("a request naming no live session got a reply with a Header:\n%s", rec.Body)
	}
}

// catalogOf returns the Catalog value a DISCOVER_PROPERTIES reply lists,
// and whether it lists one.
func catalogOf(t *testing.T, doc *xdoc) (string, bool) {
	t.Helper()
	for _, r := range doc.all(xmlaRowsetNS, "row") {
		var name, value string
		var has bool
		for _, c := range r.children {
			switch c.name.Local {
			case "PropertyName":
				name = c.text
			case "Value":
				value, has = c.text, true
			}
		}
		if name == "Catalog" {
			return value, has
		}
	}
	t.Fatalf("DISCOVER_PROPERTIES lists no Catalog")
	return "", false
}

func virtuosoBegin(t *testing.T, h *Server, body string) string {
	t.Helper()
	doc := ok(t, post(t, h, PathXMLAVirtuoso, xmlaEnv(dialects[2].begin, body)))
	return xmlaSessionID(t, doc, "SessionID")
}

// wantVirtuosoFault checks Virtuoso's XMLA fault: HTTP 500, faultcode
// XMLAnalysisError and the ErrorCode in hex, the fixed faultstring, and the
// SQLSTATE-derived ErrorCode with "[SQLSTATE] message" in detail/Error.
func wantVirtuosoFault(t *testing.T, rec *httptest.ResponseRecorder, faultcode, errorCode, description string) *xdoc {
	t.Helper()
	doc := fault(t, rec)
	fc := doc.local(t, "faultcode")
	if fc.text != faultcode || fc.name.Space != "" {
		t.Fatalf("faultcode = {%s}%q, want unqualified %q", fc.name.Space, fc.text, faultcode)
	}
	if got := doc.local(t, "faultstring").text; got != "The XML for Analysis provider encountered an error" {
		t.Fatalf("faultstring = %q", got)
	}
	e := doc.one(t, "", "Error")
	for attr, want := range map[string]string{"ErrorCode": errorCode, "Description": description, "Source": "XML for Analysis Provider", "HelpFile": ""} {
		if got, _ := e.attr("", attr); got != want {
			t.Fatalf("detail/Error/@%s = %q, want %q", attr, got, want)
		}
	}
	return doc
}

const (
	virtuosoHT042 = `[22023] HT042: Not valid user id ""`
	virtuoso00002 = `[00002] Unable to process the request, because the UserName property is not set or incorrect`
	virtuosoSR014 = `[22023] SR014: Function sql_parse needs a string as argument 1, not an arg of type DB_NULL (204)`
)

// The begin body Excel and ADOMD use to end a session, and soapsess used to
// begin one: Virtuoso faults on it, and the fault still names the new session.
func TestVirtuosoEmptyStatementBegin(t *testing.T) {
	srv, _ := newTestServer(Options{})
	rec := post(t, srv, PathXMLAVirtuoso, xmlaEnv(dialects[2].begin, virtuosoEmpty(`<Catalog>Sales</Catalog>`)))
	doc := wantVirtuosoFault(t, rec, "XMLAnalysisError.0x00005607", "22023", virtuosoHT042)
	id := xmlaSessionID(t, doc, "SessionID")
	if !dialects[2].idPattern.MatchString(id) {
		t.Fatalf("SessionID %q does not match %s", id, dialects[2].idPattern)
	}
	if n := srv.ActiveSessions(); n != 1 {
		t.Fatalf("ActiveSessions after the faulting begin = %d, want 1: the session is open", n)
	}
	// It is a session like any other, with the begin's properties.
	doc = ok(t, post(t, srv, PathXMLAVirtuoso, xmlaEnv(xmlaHdr("Session", "SessionID", id), virtuosoProps(""))))
	if c, _ := catalogOf(t, doc); c != "Sales" {
		t.Fatalf("the session's Catalog = %q, want Sales", c)
	}

	// With a UserName the login passes and the empty statement's parse fails.
	rec = post(t, srv, PathXMLAVirtuoso, xmlaEnv(dialects[2].begin, virtuosoEmpty(`<UserName>dba</UserName><Password>dba</Password>`)))
	doc = wantVirtuosoFault(t, rec, "XMLAnalysisError.0x00005607", "22023", virtuosoSR014)
	xmlaSessionID(t, doc, "SessionID")
	if n := srv.ActiveSessions(); n != 2 {
		t.Fatalf("ActiveSessions = %d, want 2", n)
	}
	// The SSAS-like endpoint answers the same begin with an empty root.
	doc = ok(t, post(t, srv, PathXMLA, xmlaEnv(dialects[1].begin, virtuosoEmpty(""))))
	xmlaSessionID(t, doc, "SessionId")
	doc.one(t, xmlaEmptyNS, "root")
}

// An empty statement faults in a session, at end (which still ends the
// session) and outside any session alike; only the begin's fault has a Header.
func TestVirtuosoEmptyStatementElsewhere(t *testing.T) {
	srv, _ := newTestServer(Options{})
	id := virtuosoBegin(t, srv, xmlaDiscoverDatasources)
	for _, tc := range []struct {
		name, header, errorCode, description, faultcode string
	}{
		{"use", xmlaHdr("Session", "SessionID", id), "22023", virtuosoHT042, "XMLAnalysisError.0x00005607"},
		{"unknown use", xmlaHdr("Session", "SessionID", "0000"), "22023", virtuosoHT042, "XMLAnalysisError.0x00005607"},
		{"outside", "", "2", virtuoso00002, "XMLAnalysisError.0x00000002"},
		{"unknown end", xmlaHdr("EndSession", "SessionID", "0000"), "2", virtuoso00002, "XMLAnalysisError.0x00000002"},
		{"end", xmlaHdr("EndSession", "SessionID", id), "2", virtuoso00002, "XMLAnalysisError.0x00000002"},
	} {
		doc := wantVirtuosoFault(t, post(t, srv, PathXMLAVirtuoso, xmlaEnv(tc.header, virtuosoEmpty(""))), tc.faultcode, tc.errorCode, tc.description)
		if n := len(doc.all(soapEnvNS, "Header")); n != 0 {
			t.Fatalf("%s: the fault has a Header", tc.name)
		}
		if want := map[bool]int{true: 0, false: 1}[tc.name == "end"]; srv.ActiveSessions() != want {
			t.Fatalf("%s: ActiveSessions = %d, want %d", tc.name, srv.ActiveSessions(), want)
		}
	}
}

// A Session or EndSession naming no live session is never reported: the
// request runs without the session's state.
func TestVirtuosoUnknownSessions(t *testing.T) {
	srv, _ := newTestServer(Options{})
	id := virtuosoBegin(t, srv, virtuosoProps(`<Catalog>Sales</Catalog>`))
	use := func(hdr string, opts ...reqOption) (catalog string, has bool) {
		t.Helper()
		rec := post(t, srv, PathXMLAVirtuoso, xmlaEnv(hdr, virtuosoProps("")), opts...)
		virtuosoUnreported(t, rec)
		return catalogOf(t, parseDoc(t, rec.Body.Bytes()))
	}
	if c, _ := use(xmlaHdr("Session", "SessionID", id)); c != "Sales" {
		t.Fatalf("in the session: Catalog %q, want Sales", c)
	}
	for name, hdr := range map[string]string{
		"unknown":         xmlaHdr("Session", "SessionID", "0000"),
		"swapped case":    xmlaHdr("Session", "SessionID", swapCase(id)),
		"SessionId":       xmlaHdr("Session", "SessionId", id), // Virtuoso reads only SessionID
		"no ID":           `<Session xmlns="urn:schemas-microsoft-com:xml-analysis" mustUnderstand="1"/>`,
		"unknown end":     xmlaHdr("EndSession", "SessionID", "0000"),
		"end, SessionId":  xmlaHdr("EndSession", "SessionId", id),
		"hostile unknown": xmlaHdr("Session", "SessionID", `a"<&'b`),
	} {
		if c, has := use(hdr); has {
			t.Fatalf("%s: the request ran with a session's Catalog %q", name, c)
		}
	}
	if c, has := use(xmlaHdr("Session", "SessionID", id), asUser("mallory")); has {
		t.Fatalf("another user's request ran with the session's Catalog %q", c)
	}
	if c, has := use(xmlaHdr("EndSession", "SessionID", id), asUser("mallory")); has {
		t.Fatalf("another user's end ran with the session's Catalog %q", c)
	}
	if n := srv.ActiveSessions(); n != 1 {
		t.Fatalf("ActiveSessions = %d, want the one live session", n)
	}
	// The end sees the session's state and carries no Header; after it the
	// ID is unknown, and unreported.
	if c, _ := use(xmlaHdr("EndSession", "SessionID", id)); c != "Sales" {
		t.Fatalf("the end: Catalog %q, want Sales", c)
	}
	if n := srv.ActiveSessions(); n != 0 {
		t.Fatalf("ActiveSessions after the end = %d", n)
	}
	if c, has := use(xmlaHdr("Session", "SessionID", id)); has {
		t.Fatalf("an ended session's state is still used: Catalog %q", c)
	}
	use(xmlaHdr("EndSession", "SessionID", id))
}

// Idle sessions do not expire; Options.IdleTimeouts naming the endpoint
// makes the server forget them (silently) all the same.
func TestVirtuosoNoIdleExpiry(t *testing.T) {
	srv, clock := newTestServer(Options{IdleTimeout: time.Minute})
	id := virtuosoBegin(t, srv, virtuosoProps(`<Catalog>Sales</Catalog>`))
	xmlaID := dialects[1].beginSession(t, srv)
	clock.Advance(30 * 24 * time.Hour)
	if n := srv.ActiveSessions(); n != 1 {
		t.Fatalf("ActiveSessions after 30 idle days = %d, want the Virtuoso one only", n)
	}
	doc := ok(t, post(t, srv, PathXMLAVirtuoso, xmlaEnv(xmlaHdr("Session", "SessionID", id), virtuosoProps(""))))
	if c, _ := catalogOf(t, doc); c != "Sales" {
		t.Fatalf("after 30 idle days: Catalog %q, want Sales", c)
	}
	xmlaBadSession(t, post(t, srv, PathXMLA, dialects[1].env(dialects[1].use(xmlaID))))

	srv, clock = newTestServer(Options{IdleTimeouts: map[string]time.Duration{PathXMLAVirtuoso: time.Minute}})
	id = virtuosoBegin(t, srv, virtuosoProps(`<Catalog>Sales</Catalog>`))
	clock.Advance(time.Minute)
	rec := post(t, srv, PathXMLAVirtuoso, xmlaEnv(xmlaHdr("Session", "SessionID", id), virtuosoProps("")))
	virtuosoUnreported(t, rec)
	if c, has := catalogOf(t, parseDoc(t, rec.Body.Bytes())); has {
		t.Fatalf("a forgotten session's state is still used: Catalog %q", c)
	}
}

// Only SOAP-ENV:mustUnderstand="1" on a header Virtuoso does not know
// faults, with Virtuoso's own SOAP fault; the unprefixed attribute, which
// SSAS and Mondrian heed, is ignored.
func TestVirtuosoMustUnderstand(t *testing.T) {
	srv, _ := newTestServer(Options{})
	plain := `<x:Trace xmlns:x="urn:example:trace" mustUnderstand="1"/>`
	doc := ok(t, post(t, srv, PathXMLAVirtuoso, xmlaEnv(dialects[2].begin+plain, xmlaDiscoverDatasources)))
	xmlaSessionID(t, doc, "SessionID")
	ok(t, post(t, srv, PathXMLAVirtuoso, xmlaEnv(`<XA:Foo xmlns:XA="urn:schemas-microsoft-com:xml-analysis" mustUnderstand="1"/>`, xmlaDiscoverDatasources)))
	// SSAS-like /xmla still faults on it.
	fault(t, post(t, srv, PathXMLA, xmlaEnv(dialects[1].begin+plain, xmlaDiscoverDatasources)))

	before := srv.ActiveSessions()
	soapMU := `<x:Trace xmlns:x="urn:example:trace" soap:mustUnderstand="1"/>`
	doc = fault(t, post(t, srv, PathXMLAVirtuoso, xmlaEnv(dialects[2].begin+soapMU, xmlaDiscoverDatasources)))
	if got := doc.local(t, "faultcode").qnameValue(); got.Space != soapEnvNS || got.Local != "MustUnderstand" {
		t.Fatalf("faultcode = %v, want {soap}MustUnderstand", got)
	}
	if got := doc.local(t, "faultstring").text; got != "[Virtuoso SOAP server] Header not understood" {
		t.Fatalf("faultstring = %q", got)
	}
	if d := doc.local(t, "detail"); len(d.children) != 0 || strings.TrimSpace(d.text) != "" {
		t.Fatalf("detail is not empty")
	}
	if len(doc.all(soapEnvNS, "Header")) != 0 || srv.ActiveSessions() != before {
		t.Fatalf("a begin with a header not understood opened a session")
	}
}

// Of several session headers Virtuoso heeds a Session, else a BeginSession,
// else an EndSession.
func TestVirtuosoSeveralSessionHeaders(t *testing.T) {
	srv, _ := newTestServer(Options{})
	id := virtuosoBegin(t, srv, virtuosoProps(`<Catalog>Sales</Catalog>`))
	send := func(hdr string) *xdoc {
		t.Helper()
		return ok(t, post(t, srv, PathXMLAVirtuoso, xmlaEnv(hdr, virtuosoProps(""))))
	}
	for name, hdr := range map[string]string{
		"Session, EndSession":   xmlaHdr("Session", "SessionID", id) + xmlaHdr("EndSession", "SessionID", id),
		"EndSession, Session":   xmlaHdr("EndSession", "SessionID", id) + xmlaHdr("Session", "SessionID", id),
		"BeginSession, Session": dialects[2].begin + xmlaHdr("Session", "SessionID", id),
	} {
		doc := send(hdr)
		if c, _ := catalogOf(t, doc); c != "Sales" || len(doc.all(soapEnvNS, "Header")) != 0 {
			t.Fatalf("%s: not a plain use of the session (Catalog %q)", name, c)
		}
	}
	if n := srv.ActiveSessions(); n != 1 {
		t.Fatalf("ActiveSessions = %d, want 1", n)
	}
	other := xmlaSessionID(t, send(xmlaHdr("EndSession", "SessionID", id)+dialects[2].begin), "SessionID")
	xmlaSessionID(t, send(dialects[2].begin+dialects[2].begin), "SessionID")
	if other == id || srv.ActiveSessions() != 3 {
		t.Fatalf("EndSession+BeginSession and two BeginSessions: %d sessions, want 3 (one new each, none ended)", srv.ActiveSessions())
	}
}

// The fault's ErrorCode is the SQLSTATE with letters as their ASCII codes.
func TestVirtuosoErrorCode(t *testing.T) {
	for sqlstate, want := range map[string]uint32{"42S02": 428302, "22023": 22023, "00002": 2} {
		if got := virtuosoErrorCode(sqlstate); got != want {
			t.Errorf("virtuosoErrorCode(%q) = %d, want %d", sqlstate, got, want)
		}
	}
}
