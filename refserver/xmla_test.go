package refserver

import (
	"strings"
	"testing"
)

// withXMLAID fills Mondrian's ${session.id} placeholder, or replaces the
// MS-SSAS example GUID, with a live ID.
func withXMLAID(msg, id string) string {
	msg = strings.ReplaceAll(msg, "${session.id}", id)
	return strings.ReplaceAll(msg, "537C61C6-827C-4305-83A6-C8CE4A91001B", id)
}

func xmlaSessionID(t *testing.T, doc *xdoc, attr string) string {
	t.Helper()
	id, found := doc.one(t, xmlaNS, "Session").attr("", attr)
	if !found {
		t.Fatalf("reply Session header has no %s attribute", attr)
	}
	return id
}

func TestXMLACorpusSession(t *testing.T) {
	for _, end := range []string{
		"xmla/mondrian_excelxp_06_endsession_execute_request.xml",
		"xmla/msssas_4.2.4_endsession_request.xml", // soap:mustUnderstand
	} {
		t.Run(end, func(t *testing.T) {
			srv, _ := newTestServer(Options{})
			// Excel XP: BeginSession on an empty Execute.
			doc := ok(t, post(t, srv, "/xmla", readCorpus(t, "xmla/mondrian_excelxp_07_beginsession_execute_empty_request.xml")))
			id := xmlaSessionID(t, doc, "SessionId")
			if !dialects[1].idPattern.MatchString(id) {
				t.Fatalf("SessionId %q is not an uppercase GUID", id)
			}
			root := doc.one(t, xmlaEmptyNS, "root")
			if len(root.children) != 0 {
				t.Fatalf("empty statement: root has %d children", len(root.children))
			}

			doc = ok(t, post(t, srv, "/xmla", withXMLAID(readCorpus(t, end), id)))
			if len(doc.all(soapEnvNS, "Header")) != 0 {
				t.Fatalf("EndSession reply has a Header; SSAS (MS-SSAS 4.2.4) sends none")
			}
			doc.one(t, xmlaNS, "ExecuteResponse")
			doc.one(t, xmlaEmptyNS, "root")
			if n := srv.ActiveSessions(); n != 0 {
				t.Fatalf("ActiveSessions after EndSession = %d", n)
			}
		})
	}
}

func TestXMLACorpusUnknownSession(t *testing.T) {
	srv, _ := newTestServer(Options{})
	// MDX for Kylin's Excel-style request: Session without mustUnderstand still counts.
	doc := fault(t, post(t, srv, "/xmla", readCorpus(t, "xmla/kylin_mdx_excel_style_session_execute_request.xml")))
	const want = "The '8nblet191q' session ID cannot be found. Either the session doesn't exist or has already expired."
	if got := doc.local(t, "faultstring").text; got != want {
		t.Fatalf("faultstring = %q, want %q", got, want)
	}
	errEl := doc.local(t, "Error")
	if desc, _ := errEl.attr("", "Description"); desc != want {
		t.Fatalf("Error/@Description = %q", desc)
	}
	if src, _ := errEl.attr("", "Source"); src != "soapsess reference server" {
		t.Fatalf("Error/@Source = %q", src)
	}
	// SSAS shape: the Fault redeclares the SOAP namespace as default, so its
	// children are SOAP-namespaced.
	if fc := doc.local(t, "faultcode"); fc.name.Space != soapEnvNS {
		t.Fatalf("faultcode namespace = %q, want the SOAP envelope namespace", fc.name.Space)
	}
}

func TestXMLACorpusUnknownMustUnderstand(t *testing.T) {
	srv, _ := newTestServer(Options{})
	// Mondrian's testBadHeader01: unqualified mustUnderstand="1" on an unknown XMLA header.
	doc := fault(t, post(t, srv, "/xmla", readCorpus(t, "xmla/mondrian_error_unknown_mustunderstand_header_request.xml")))
	if got := doc.local(t, "faultcode").qnameValue(); got.Space != soapEnvNS || got.Local != "MustUnderstand" {
		t.Fatalf("faultcode = %v, want {soap}MustUnderstand", got)
	}
	// NamespaceCompatibility mustUnderstand="0" (Excel 2000) is ignored; the
	// Discover it rides on asks for a rowset this server does not have.
	doc = fault(t, post(t, srv, "/xmla", readCorpus(t, "xmla/mondrian_excel2000_02_beginsession_discover_request.xml")))
	if got := doc.local(t, "faultstring").text; !strings.Contains(got, "DISCOVER_SCHEMA_ROWSETS") {
		t.Fatalf("faultstring = %q, want the unsupported request type named", got)
	}
	if n := srv.ActiveSessions(); n != 0 {
		t.Fatalf("a faulting BeginSession left %d sessions", n)
	}
}

func TestXMLADiscoverDatasources(t *testing.T) {
	srv, _ := newTestServer(Options{})
	const discover = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions/><Properties><PropertyList/></Properties></Discover>`
	doc := ok(t, post(t, srv, "/xmla", xmlaEnv(dialects[1].begin, discover)))
	id := xmlaSessionID(t, doc, "SessionId")
	doc = ok(t, post(t, srv, "/xmla", xmlaEnv(dialects[1].use(id), discover)))
	if got := xmlaSessionID(t, doc, "SessionId"); got != id {
		t.Fatalf("in-session reply echoes %q, want %q", got, id)
	}
	doc.one(t, xmlaNS, "DiscoverResponse")
	want := map[string]string{
		"DataSourceName":     "soapsess",
		"DataSourceInfo":     "Provider=soapsess",
		"ProviderName":       "soapsess reference server",
		"ProviderType":       "MDP",
		"AuthenticationMode": "Unauthenticated",
		"URL":                "http://example.com/xmla",
	}
	row := doc.one(t, xmlaRowsetNS, "row")
	for _, c := range row.children {
		if c.name.Space != xmlaRowsetNS {
			t.Fatalf("row child %v not in the rowset namespace", c.name)
		}
		if w, found := want[c.name.Local]; found && c.text != w {
			t.Fatalf("%s = %q, want %q", c.name.Local, c.text, w)
		}
		delete(want, c.name.Local)
	}
	if len(want) != 0 {
		t.Fatalf("row lacks %v", want)
	}
}

func TestXMLAExecuteStatement(t *testing.T) {
	srv, _ := newTestServer(Options{})
	for _, cmd := range []string{
		`<Statement>SELECT FROM [Sales]</Statement>`,
		`<Statement><![CDATA[SELECT 1]]></Statement>`,
		`<Statement>   </Statement><Statement>x</Statement>`,
	} {
		body := `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command>` + cmd + `</Command><Properties/></Execute>`
		doc := ok(t, post(t, srv, "/xmla", xmlaEnv("", body)))
		root := doc.one(t, xmlaEmptyNS, "root")
		if len(root.children) != 2 {
			t.Fatalf("%s: root has %d children, want Exception and Messages", cmd, len(root.children))
		}
		doc.one(t, xmlaExceptionNS, "Exception")
		errEl := doc.one(t, xmlaExceptionNS, "Error")
		if code, _ := errEl.attr("", "ErrorCode"); code != "3238658057" {
			t.Fatalf("Error/@ErrorCode = %q", code)
		}
		if desc, _ := errEl.attr("", "Description"); desc != "The soapsess reference server does not execute statements." {
			t.Fatalf("Error/@Description = %q", desc)
		}
	}
}

func TestXMLABodyNotCorrectlyFormed(t *testing.T) {
	for name, body := range map[string]string{
		"empty Body":       ``,
		"two methods":      xmlaEmptyExecute + xmlaEmptyExecute,
		"wrong namespace":  `<Execute xmlns="urn:example"/>`,
		"other method":     `<Cancel xmlns="urn:schemas-microsoft-com:xml-analysis"/>`,
		"no Command":       `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Properties/></Execute>`,
		"no RequestType":   `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><Restrictions/></Discover>`,
		"unsupported type": `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>MDSCHEMA_CUBES</RequestType></Discover>`,
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := newTestServer(Options{})
			doc := fault(t, post(t, srv, "/xmla", xmlaEnv(dialects[1].begin, body)))
			if got := doc.local(t, "faultcode").text; got != "XMLAnalysisError.0xc10e0002" {
				t.Fatalf("faultcode = %q", got)
			}
			if code, _ := doc.local(t, "Error").attr("", "ErrorCode"); code != "3238920194" {
				t.Fatalf("ErrorCode = %q", code)
			}
			if n := srv.ActiveSessions(); n != 0 {
				t.Fatalf("a faulting BeginSession left %d sessions", n)
			}
		})
	}
}

func TestXMLAMissingSessionID(t *testing.T) {
	srv, _ := newTestServer(Options{})
	id := dialects[1].beginSession(t, srv)
	for _, hdr := range []string{
		`<Session xmlns="urn:schemas-microsoft-com:xml-analysis" mustUnderstand="1"/>`,
		`<EndSession xmlns="urn:schemas-microsoft-com:xml-analysis"/>`,
		// The Virtuoso spelling is just an unknown attribute to an SSAS-style server.
		`<Session xmlns="urn:schemas-microsoft-com:xml-analysis" SessionID="` + id + `"/>`,
	} {
		doc := fault(t, post(t, srv, "/xmla", xmlaEnv(hdr, xmlaEmptyExecute)))
		if got := doc.local(t, "faultstring").text; !strings.HasPrefix(got, "The session ID is missing") {
			t.Fatalf("faultstring = %q", got)
		}
	}
	if n := srv.ActiveSessions(); n != 1 {
		t.Fatalf("ActiveSessions = %d, want 1", n)
	}
}

func TestXMLAVirtuosoSpelling(t *testing.T) {
	srv, _ := newTestServer(Options{})
	doc := ok(t, post(t, srv, "/xmla/virtuoso", xmlaEnv(dialects[2].begin, xmlaDiscoverDatasources)))
	sess := doc.one(t, xmlaNS, "Session")
	id, found := sess.attr("", "SessionID")
	if !found {
		t.Fatalf("Virtuoso reply has no SessionID")
	}
	if _, has := sess.attr("", "SessionId"); has {
		t.Fatalf("Virtuoso reply also carries SessionId")
	}
	if mu, _ := sess.attr("", "mustUnderstand"); mu != "1" {
		t.Fatalf("Virtuoso reply Session/@mustUnderstand = %q, want 1", mu)
	}
	// Virtuoso ignores SessionId: the request runs outside the session.
	virtuosoUnreported(t, post(t, srv, "/xmla/virtuoso", xmlaEnv(xmlaHdr("Session", "SessionId", id), xmlaDiscoverDatasources)))
	// SessionID is the session's, and the reply says nothing of it.
	doc = ok(t, post(t, srv, "/xmla/virtuoso", xmlaEnv(xmlaHdr("Session", "SessionID", id), xmlaDiscoverDatasources)))
	if len(doc.all(soapEnvNS, "Header")) != 0 {
		t.Fatalf("Virtuoso echoed the Session header on an in-session reply")
	}
	if n := srv.ActiveSessions(); n != 1 {
		t.Fatalf("ActiveSessions = %d, want 1", n)
	}
}
