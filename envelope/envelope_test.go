package envelope

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/xmltok"
)

const corpus = "../testdata/corpus"

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fromDocs turns a SQL Server Books Online header fragment into what a real
// server sends: the pages print every namespace with https://, even the SOAP
// envelope's (a docs-wide link rewrite that broke XML namespaces,
// https://github.com/MicrosoftDocs/sql-docs/issues/1457; [MS-SSNWS] writes
// http://), and show only the SOAP-ENV:Header.
func fromDocs(t *testing.T, name string) []byte {
	t.Helper()
	b := bytes.ReplaceAll(read(t, name), []byte("https://schemas."), []byte("http://schemas."))
	if bytes.Contains(b, []byte("<SOAP-ENV:Envelope")) {
		return b
	}
	b = stripComments(b)
	return []byte(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">` +
		string(b) + `<SOAP-ENV:Body/></SOAP-ENV:Envelope>`)
}

func stripComments(b []byte) []byte {
	for {
		i := bytes.Index(b, []byte("<!--"))
		if i < 0 {
			return b
		}
		j := bytes.Index(b[i:], []byte("-->"))
		b = append(b[:i:i], b[i+j+3:]...)
	}
}

func dialect(t *testing.T, name string) *Dialect {
	t.Helper()
	d, err := Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSessionIDInRealReplies(t *testing.T) {
	tests := []struct {
		dialect, file string
		docs          bool // a Books Online fragment, see fromDocs
		id, idName    string
		timeout       int
		fault         string // faultcode when the reply is a fault
		rejected      bool
	}{
		{dialect: "dsml", file: "dsml/02-msdsml-beginsession.response.xml", id: "12345", idName: "SessionID"},
		{dialect: "dsml", file: "dsml/04-msdsml-session-search.response.xml", id: "12345", idName: "SessionID"},
		{dialect: "dsml", file: "dsml/06-msdsml-endsession.response.xml", id: "12345", idName: "SessionID"},
		{dialect: "dsml", file: "dsml/07-msdsml-fault-bad-session-request.response.xml", fault: "SOAP:Client", rejected: true},
		{dialect: "dsml", file: "dsml/08-msdsml-fault-bad-request.response.xml", fault: "SOAP:Client"},
		{dialect: "dsml", file: "dsml/09-msdsml-fault-internal-server-error.response.xml", fault: "SOAP:Server"},
		{dialect: "dsml", file: "dsml/11-dsee62-add.response.xml"},
		{dialect: "dsml", file: "dsml/12-dsee62-errorresponse-notattempted.response.xml"},
		{dialect: "xmla", file: "xmla/mondrian_excelxp_02_beginsession_discover_response.xml", id: "${session.id}", idName: "SessionId"},
		{dialect: "xmla", file: "xmla/mondrian_excelxp_03_session_discover_response.xml", id: "${session.id}", idName: "SessionId"},
		{dialect: "xmla", file: "xmla/mondrian_excelxp_06_endsession_execute_response.xml", id: "${session.id}", idName: "SessionId"},
		{dialect: "xmla", file: "xmla/mondrian_excel2007_session_execute_response.xml", id: "${session.id}", idName: "SessionId"},
		{dialect: "xmla", file: "xmla/msssas_4.2.4_endsession_response.xml"},
		{dialect: "xmla", file: "xmla/ssas_discover_mdschema_cubes_response.xml"},
		{dialect: "xmla", file: "xmla/daanse_discover_response_nil_session_header.xml"}, // Session header without an ID
		{dialect: "sqlsoap", file: "sqlsoap/02-initiate-response.header.xml", docs: true, id: "AAAAADreaLE=", idName: "sessionId", timeout: 12},
		{dialect: "sqlsoap", file: "sqlsoap/05-terminate-response.header.xml", docs: true, id: "AAAAADreaLE=", idName: "sessionId"},
		{dialect: "sqlsoap", file: "sqlsoap/08-fault-sessionidisinvalid.response.xml", fault: "SOAP-ENV:Client", rejected: true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d := dialect(t, tt.dialect)
			raw := read(t, tt.file)
			if tt.docs {
				raw = fromDocs(t, tt.file)
			}
			r, err := reply.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			info, err := d.Session(r)
			switch {
			case tt.id == "" && !errors.Is(err, ErrNoSessionID):
				t.Errorf("Session() = %+v, %v; want ErrNoSessionID", info, err)
			case tt.id != "" && err != nil:
				t.Errorf("Session(): %v", err)
			case info.ID != tt.id || info.IDName != tt.idName || info.Timeout != tt.timeout:
				t.Errorf("Session() = %+v; want ID %q in %q, timeout %d", info, tt.id, tt.idName, tt.timeout)
			}
			st, err := reply.Stream(bytes.NewReader(raw), reply.StreamOptions{RequireSOAP: true})
			if err != nil {
				t.Fatal(err)
			}
			var fault *reply.Problem
			for i, p := range st.Problems {
				if strings.Contains(p.Kind, "fault") {
					fault = &st.Problems[i]
				}
			}
			switch {
			case tt.fault == "" && fault != nil:
				t.Errorf("unexpected fault %+v", fault)
			case tt.fault != "" && fault == nil:
				t.Errorf("fault %s not found", tt.fault)
			case tt.fault != "":
				if fault.Code != tt.fault {
					t.Errorf("fault code %q, want %q", fault.Code, tt.fault)
				}
				if got := d.Rejected(*fault); got != tt.rejected {
					t.Errorf("Rejected() = %v, want %v for %q", got, tt.rejected, fault.Text())
				}
			}
		})
	}
}

// Whatever prefix the server picks, or none, the DSML ID is found, as the .NET
// client finds it (DsmlSoapHttpConnection.ExtractSessionID: @ad:SessionID,
// then @SessionID, prefixes bound by namespace URI).
func TestDSMLIDWithAnyPrefix(t *testing.T) {
	const ad = "urn:schema-microsoft-com:activedirectory:dsmlv2"
	for header, want := range map[string]string{
		`<q:Session xmlns:q="` + ad + `" q:SessionID="7"/>`:   "7",
		`<Session xmlns="` + ad + `" SessionID="8"/>`:         "8",
		`<ad:Session xmlns:ad="` + ad + `" SessionID="9"/>`:   "9",
		`<ad:Session xmlns:ad="urn:other" ad:SessionID="0"/>`: "",
	} {
		r, err := reply.Parse([]byte(`<S:Envelope xmlns:S="` + reply.NSSOAP11 + `"><S:Header>` + header + `</S:Header><S:Body/></S:Envelope>`))
		if err != nil {
			t.Fatal(err)
		}
		info, _ := dialect(t, "dsml").Session(r)
		if info.ID != want {
			t.Errorf("%s: ID %q, want %q", header, info.ID, want)
		}
	}
}

func TestEndConfirmation(t *testing.T) {
	sql := dialect(t, "sqlsoap")
	for file, want := range map[string]bool{
		"sqlsoap/05-terminate-response.header.xml": true, // terminate="true" echoed
		"sqlsoap/02-initiate-response.header.xml":  false,
	} {
		r, err := reply.Parse(fromDocs(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if got := sql.EndConfirmed(r); got != want {
			t.Errorf("sqlsoap EndConfirmed(%s) = %v, want %v", file, got, want)
		}
	}
	// XMLA asks for no confirmation: SSAS ends a session with a reply that has no Header.
	r, err := reply.Parse(read(t, "xmla/msssas_4.2.4_endsession_response.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !dialect(t, "xmla").EndConfirmed(r) {
		t.Error("xmla: the SSAS EndSession reply without a Session header must count as ended")
	}
}

func TestRecognizeRealRequests(t *testing.T) {
	tests := []struct {
		dialect, file string
		docs          bool
		phase         Phase // "" when the request has no session header
		id            string
	}{
		{"dsml", "dsml/01-msdsml-beginsession.request.xml", false, Begin, ""},
		{"dsml", "dsml/03-msdsml-session-search.request.xml", false, Session, "12345"},
		{"dsml", "dsml/05-msdsml-endsession-add.request.xml", false, End, "12345"},
		{"dsml", "dsml/10-opends-test-search.request.xml", false, "", ""},
		{"xmla", "xmla/msssas_3.1.3.1_beginsession_request.xml", false, Begin, ""},
		{"xmla", "xmla/mondrian_excelxp_02_beginsession_discover_request.xml", false, Begin, ""},
		{"xmla", "xmla/mondrian_excel2000_02_beginsession_discover_request.xml", false, Begin, ""},
		{"xmla", "xmla/mondrian_excelxp_07_beginsession_execute_empty_request.xml", false, Begin, ""},
		{"xmla", "xmla/mondrian_excelxp_03_session_discover_request.xml", false, Session, "${session.id}"},
		{"xmla", "xmla/mondrian_excel2007_session_execute_request.xml", false, Session, "${session.id}"},
		{"xmla", "xmla/kylin_mdx_excel_style_session_execute_request.xml", false, Session, "8nblet191q"},
		{"xmla", "xmla/mondrian_excelxp_06_endsession_execute_request.xml", false, End, "${session.id}"},
		{"xmla", "xmla/msssas_4.2.4_endsession_request.xml", false, End, "537C61C6-827C-4305-83A6-C8CE4A91001B"},
		{"xmla", "xmla/msssas_3.1.3.2_begingetsessiontoken_request.xml", false, "", ""},
		{"xmla", "xmla/mondrian_error_unknown_mustunderstand_header_request.xml", false, "", ""},
		{"sqlsoap", "sqlsoap/01-initiate-request.header.xml", true, Begin, ""},
		{"sqlsoap", "sqlsoap/03-enlist-request.header.xml", true, Session, "AAAAADreaLE="},
		{"sqlsoap", "sqlsoap/04-terminate-request.header.xml", true, End, "AAAAADreaLE="},
		{"sqlsoap", "sqlsoap/06-initiate-with-options-sqlbatch.request.xml", true, Begin, ""},
		{"sqlsoap", "sqlsoap/07-sqlbatch-with-soapaction.request.xml", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := read(t, tt.file)
			if tt.docs {
				raw = fromDocs(t, tt.file)
			}
			phase, id, err := dialect(t, tt.dialect).recognize(raw)
			if tt.phase == "" {
				if !errors.Is(err, ErrNoSessionHeader) {
					t.Errorf("Recognize() = %q %q %v; want ErrNoSessionHeader", phase, id, err)
				}
				return
			}
			if err != nil || phase != tt.phase || id != tt.id {
				t.Errorf("Recognize() = %q %q %v; want %q %q", phase, id, err, tt.phase, tt.id)
			}
		})
	}
}

func TestNotNamespaceWellFormedIsRefused(t *testing.T) {
	// The legacy XMLA docs example uses the undeclared prefix xsi.
	raw := read(t, "xmla/msdocs_legacy_beginsession_xsitype_NOT_NS_WELLFORMED.xml")
	if _, err := ParseBody(raw); err == nil {
		t.Error("ParseBody accepted an undeclared prefix")
	}
}

// The exact header bytes real clients send, with SOAP-ENV as our envelope
// prefix: DSML as .NET's DsmlConstants write them
// (System.DirectoryServices.Protocols), XMLA as in [MS-SSAS] 3.1.3.1,
// SQL Server as in Books Online "Initiating a SOAP Session" (ms190712),
// "Using a SOAP Session" (ms187904) and "Ending a SOAP Session" (ms175084).
func TestHeadersAreByteExact(t *testing.T) {
	const ad = `xmlns:ad="urn:schema-microsoft-com:activedirectory:dsmlv2"`
	const xa = `xmlns="urn:schemas-microsoft-com:xml-analysis"`
	const so = `xmlns:sqloptions="http://schemas.microsoft.com/sqlserver/2004/SOAP/Options"`
	const notify = `<sqloptions:environmentChangeNotifications ` + so + ` transactionBoundary="true"/>`
	tests := []struct {
		dialect string
		phase   Phase
		v       Values
		want    string
	}{
		{"dsml", Begin, Values{}, `<ad:BeginSession ` + ad + ` SOAP-ENV:mustUnderstand="1"/>`},
		{"dsml", Session, Values{ID: "1534"}, `<ad:Session ` + ad + ` ad:SessionID="1534" SOAP-ENV:mustUnderstand="1"/>`},
		{"dsml", End, Values{ID: "1534"}, `<ad:EndSession ` + ad + ` ad:SessionID="1534" SOAP-ENV:mustUnderstand="1"/>`},
		{"xmla", Begin, Values{}, `<BeginSession ` + xa + ` mustUnderstand="1"/>`},
		{"xmla", Session, Values{ID: "eayduru10y", IDName: "SessionId"}, `<Session ` + xa + ` mustUnderstand="1" SessionId="eayduru10y"/>`},
		{"xmla", End, Values{ID: "eayduru10y", IDName: "SessionId"}, `<EndSession ` + xa + ` mustUnderstand="1" SessionId="eayduru10y"/>`},
		// Virtuoso's spelling is sent back as the server wrote it.
		{"xmla", Session, Values{ID: "9f0c", IDName: "SessionID"}, `<Session ` + xa + ` mustUnderstand="1" SessionID="9f0c"/>`},
		{"xmla", Session, Values{ID: "G", IDName: "SessionId", Vars: map[string]string{"mustunderstand": "soap"}}, `<Session ` + xa + ` SOAP-ENV:mustUnderstand="1" SessionId="G"/>`},
		{"xmla", Begin, Values{Vars: map[string]string{"mustunderstand": "none"}}, `<BeginSession ` + xa + `/>`},
		// Begin also asks for transaction boundary notifications
		// (environmentChangeNotifications, Books Online ms189225), and
		// carries the login options given (initialDatabase, initialLanguage).
		{"sqlsoap", Begin, Values{}, `<sqloptions:sqlSession ` + so + ` initiate="true"/>` + "\n" + notify},
		{"sqlsoap", Begin, Values{Timeout: 12}, `<sqloptions:sqlSession ` + so + ` initiate="true" timeout="12"/>` + "\n" + notify},
		{"sqlsoap", Begin, Values{Vars: map[string]string{"database": "Sales", "language": "us_english"}}, `<sqloptions:sqlSession ` + so + ` initiate="true"/>` + "\n" + notify +
			"\n" + `<sqloptions:initialDatabase ` + so + ` value="Sales"/>` + "\n" + `<sqloptions:initialLanguage ` + so + ` value="us_english"/>`},
		{"sqlsoap", Session, Values{ID: "AAAAADreaLE="}, `<sqloptions:sqlSession ` + so + ` sessionId="AAAAADreaLE="/>`},
		// Inside a transaction: its descriptor ("Using Transactions with SOAP Sessions", ms189243).
		{"sqlsoap", Session, Values{ID: "AAAAADreaLE=", Vars: map[string]string{"transaction": "AQAAAAAAAAA="}}, `<sqloptions:sqlSession ` + so + ` sessionId="AAAAADreaLE=" transactionDescriptor="AQAAAAAAAAA="/>`},
		{"sqlsoap", End, Values{ID: "AAAAADreaLE="}, `<sqloptions:sqlSession ` + so + ` terminate="true" sessionId="AAAAADreaLE="/>`},
	}
	for _, tt := range tests {
		got, err := dialect(t, tt.dialect).Header(tt.phase, tt.v)
		if err != nil {
			t.Errorf("%s %s: %v", tt.dialect, tt.phase, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tt.dialect, tt.phase, got, tt.want)
		}
	}
	if _, err := dialect(t, "xmla").Header(Begin, Values{Vars: map[string]string{"mustunderstand": "yes"}}); err == nil ||
		!strings.Contains(err.Error(), "mustunderstand must be plain, soap or none") {
		t.Errorf("a bad mustunderstand value gave %v", err)
	}
}

// An ID holding markup can neither break the envelope nor inject into it:
// the envelope stays well-formed and the server reads back the same ID.
func TestHostileIDsRoundTrip(t *testing.T) {
	bodies := map[string]string{
		"dsml":    `<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core"/>`,
		"xmla":    `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement/></Command></Execute>`,
		"sqlsoap": `<sql:sqlbatch xmlns:sql="http://schemas.microsoft.com/sqlserver/2004/SOAP"><sql:BatchCommands>SELECT 1</sql:BatchCommands></sql:sqlbatch>`,
	}
	ids := []string{`12345`, `a"b`, `x'/><Evil mustUnderstand="1"/><y a='`, `&amp;<>`, "tab\there\nnewline", `Zm9v+/==`}
	for _, name := range Builtins() {
		d := dialect(t, name)
		b, err := ParseBody([]byte(bodies[name]))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []Phase{Session, End} {
			for _, id := range ids {
				env, err := d.build(p, Values{ID: id, IDName: "SessionId"}, b)
				if err != nil {
					t.Fatalf("%s %s %q: %v", name, p, id, err)
				}
				if bytes.Contains(env, []byte("<Evil")) {
					t.Errorf("%s %s: markup from the ID reached the envelope:\n%s", name, p, env)
				}
				gotPhase, gotID, err := d.recognize(env)
				if err != nil || gotPhase != p || gotID != id {
					t.Errorf("%s %s: Recognize() = %q %q %v; want %q", name, p, gotPhase, gotID, err, id)
				}
				if !bytes.Contains(env, b.XML) {
					t.Errorf("%s %s: the body is not in the envelope byte for byte", name, p)
				}
			}
		}
	}
}

func TestSOAPAction(t *testing.T) {
	tests := []struct{ dialect, body, want string }{
		{"dsml", `<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core"/>`, `"#batchRequest"`},
		{"xmla", `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"/>`, `"urn:schemas-microsoft-com:xml-analysis:Discover"`},
		{"xmla", `<x:Execute xmlns:x="urn:schemas-microsoft-com:xml-analysis"/>`, `"urn:schemas-microsoft-com:xml-analysis:Execute"`},
		// [MS-SSNWS] example: namespace and method run together.
		{"sqlsoap", `<sql:sqlbatch xmlns:sql="http://schemas.microsoft.com/sqlserver/2004/SOAP"/>`, `"http://schemas.microsoft.com/sqlserver/2004/SOAPsqlbatch"`},
		{"sqlsoap", `<GetCustomerInfo xmlns="http://tempUri.org/"/>`, `"http://tempUri.org/GetCustomerInfo"`},
	}
	for _, tt := range tests {
		b, err := ParseBody([]byte(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := dialect(t, tt.dialect).renderAction(b)
		if err != nil || got != tt.want {
			t.Errorf("%s SOAPAction(%s) = %s, %v; want %s", tt.dialect, tt.body, got, err, tt.want)
		}
	}
	empty, _, _ := dialect(t, "sqlsoap").DefaultBody(End, Values{})
	if got, _ := dialect(t, "sqlsoap").renderAction(empty); got != `""` {
		t.Errorf("sqlsoap SOAPAction of an empty body = %s, want \"\"", got)
	}
}

func TestBodyChecks(t *testing.T) {
	bad := map[string]string{
		"mismatched":     `<a><b></a>`,
		"unclosed":       `<a>`,
		"two roots":      `<a/><b/>`,
		"undeclared":     `<x:a/>`,
		"undeclared att": `<a x:y="1"/>`,
		"doctype":        `<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`,
		"empty":          "  \n",
		"text":           `hello`,
		"trailing text":  `<a/>hello`,
		"undefined ent":  `<a>&nbsp;</a>`,
	}
	for name, src := range bad {
		var be *BodyError
		if _, err := ParseBody([]byte(src)); !errors.As(err, &be) {
			t.Errorf("%s: ParseBody(%q) = %v, want a BodyError", name, src, err)
		}
	}
	b, err := ParseBody([]byte("\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!-- q -->\n<d:Discover xmlns:d=\"urn:schemas-microsoft-com:xml-analysis\"/>\n"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Local != "Discover" || b.Namespace != "urn:schemas-microsoft-com:xml-analysis" || bytes.HasPrefix(b.XML, []byte("<?xml")) {
		t.Errorf("ParseBody = %+v", b)
	}
	// Each dialect refuses the other's payload before anything is sent.
	if err := dialect(t, "dsml").checkBody(b); err == nil || !strings.Contains(err.Error(), "batchRequest") {
		t.Errorf("dsml accepted a Discover body: %v", err)
	}
	dsmlBody, _ := ParseBody([]byte(`<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core"/>`))
	if err := dialect(t, "xmla").checkBody(dsmlBody); err == nil {
		t.Error("xmla accepted a batchRequest body")
	}
	wrongNS, _ := ParseBody([]byte(`<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0"/>`))
	if err := dialect(t, "dsml").checkBody(wrongNS); err == nil {
		t.Error("dsml accepted a batchRequest in the wrong namespace")
	}
}

// elements collects what Stream writes to StreamOptions.Body, one element at a time.
type elements struct {
	depth int
	cur   []byte
	done  [][]byte
}

func (e *elements) Write(t *xmltok.Token) error {
	if e.depth == 0 && t.Kind == xmltok.Text {
		return nil // the newline after each element
	}
	e.cur = append(e.cur, t.Raw...)
	switch t.Kind {
	case xmltok.StartTag:
		e.depth++
	case xmltok.EndTag:
		e.depth--
	}
	if e.depth == 0 && (t.Kind == xmltok.EndTag || t.Kind == xmltok.EmptyTag) {
		e.done = append(e.done, e.cur)
		e.cur = nil
	}
	return nil
}

// Body elements must stand alone: each re-parses, namespace prefixes
// included, and keeps the server's bytes.
func TestBodyElementsStandAlone(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus, "*", "*.xml"))
	n := 0
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var els elements
		if _, err := reply.Stream(bytes.NewReader(raw), reply.StreamOptions{RequireSOAP: true, Body: &els}); err != nil {
			continue // fragments, and requests with undeclared prefixes
		}
		for _, el := range els.done {
			if _, err := ParseBody(el); err != nil {
				t.Errorf("%s: body element does not stand alone: %v\n%s", f, err, el)
			}
		}
		n++
	}
	if n < 20 {
		t.Errorf("only %d corpus envelopes streamed", n)
	}
	var els elements
	_, err := reply.Stream(strings.NewReader(`<s:Envelope xmlns:s="`+reply.NSSOAP11+`" xmlns:x="urn:x" xmlns="urn:d"><s:Body><x:r a='1' b="&amp;"><d/></x:r><e xmlns=""/></s:Body></s:Envelope>`), reply.StreamOptions{RequireSOAP: true, Body: &els})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`<x:r a='1' b="&amp;" xmlns:s="` + reply.NSSOAP11 + `" xmlns:x="urn:x" xmlns="urn:d"><d/></x:r>`,
		`<e xmlns="" xmlns:s="` + reply.NSSOAP11 + `" xmlns:x="urn:x"/>`,
	}
	if len(els.done) != 2 || string(els.done[0]) != want[0] || string(els.done[1]) != want[1] {
		t.Errorf("Body elements:\n got %q\nwant %q", els.done, want)
	}
}

// A captured request used as the body: the session header goes in, the
// dialect's old one goes out, everything else stays byte for byte.
func TestWholeEnvelopeGetsTheSessionHeader(t *testing.T) {
	tests := []struct {
		dialect, file string
		phase         Phase
		keep          []string // bytes of the capture that must survive
		gone          []string // what must be gone
	}{
		{"xmla", "xmla/mondrian_excelxp_03_session_discover_request.xml", Session,
			[]string{"<RequestType>DBSCHEMA_CATALOGS</RequestType>", "<DataSourceInfo>FoodMart</DataSourceInfo>"}, []string{"${session.id}"}},
		{"xmla", "xmla/mondrian_excelxp_03_session_discover_request.xml", End, nil, []string{"<XA:Session", "${session.id}"}},
		{"xmla", "xmla/mondrian_excelxp_02_beginsession_discover_request.xml", Session,
			[]string{`<NamespaceCompatibility mustUnderstand="0" xmlns="http://schemas.microsoft.com/analysisservices/2003/xmla"/>`}, []string{"BeginSession"}},
		{"dsml", "dsml/03-msdsml-session-search.request.xml", Session,
			[]string{`<dsml:searchRequest dn="ou=Sales,dc=fabrikam,dc=com"`}, []string{`ad:SessionID="12345"`}},
		{"dsml", "dsml/10-opends-test-search.request.xml", End, // no Header at all
			[]string{`<searchRequest dn="dc=example, dc=com" scope="wholeSubtree"`}, nil},
		{"sqlsoap", "sqlsoap/07-sqlbatch-with-soapaction.request.xml", Session, []string{"<sql:BatchCommands> SELECT @@version </sql:BatchCommands>"}, nil},
	}
	// An empty <Header/> is opened up, not followed.
	empty := mustBody(t, []byte(`<s:Envelope xmlns:s="`+reply.NSSOAP11+`"><s:Header/><s:Body><Discover xmlns="urn:schemas-microsoft-com:xml-analysis"/></s:Body></s:Envelope>`))
	env, err := dialect(t, "xmla").build(Session, Values{ID: "E1", IDName: "SessionId"}, empty)
	if err != nil || !bytes.Contains(env, []byte(`<s:Header><Session xmlns="urn:schemas-microsoft-com:xml-analysis" mustUnderstand="1" SessionId="E1"/></s:Header><s:Body>`)) {
		t.Errorf("empty Header: %s %v", env, err)
	}
	for _, tt := range tests {
		d := dialect(t, tt.dialect)
		b, err := ParseBody(read(t, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		env, err := d.build(tt.phase, Values{ID: "NEW-1", IDName: "SessionId"}, b)
		if err != nil {
			t.Errorf("%s %s: %v", tt.file, tt.phase, err)
			continue
		}
		phase, id, err := d.recognize(env)
		if err != nil || phase != tt.phase || id != "NEW-1" {
			t.Errorf("%s %s: Recognize() = %q %q %v\n%s", tt.file, tt.phase, phase, id, err, env)
		}
		for _, k := range tt.keep {
			if !bytes.Contains(env, []byte(k)) {
				t.Errorf("%s: %q was lost:\n%s", tt.file, k, env)
			}
		}
		for _, g := range tt.gone {
			if bytes.Contains(env, []byte(g)) {
				t.Errorf("%s: %q is still there:\n%s", tt.file, g, env)
			}
		}
		if n := bytes.Count(env, []byte("Header>")); n != 2 {
			t.Errorf("%s: %d Header tags, want one element:\n%s", tt.file, n, env)
		}
	}
	inner, err := dialect(t, "xmla").inner(mustBody(t, read(t, "xmla/mondrian_excelxp_03_session_discover_request.xml")))
	if err != nil || inner.Local != "Discover" {
		t.Errorf("Inner = %+v, %v", inner, err)
	}
	if a, _ := dialect(t, "xmla").renderAction(inner); a != `"urn:schemas-microsoft-com:xml-analysis:Discover"` {
		t.Errorf("SOAPAction of a whole envelope = %s", a)
	}
	v12 := mustBody(t, []byte(`<e:Envelope xmlns:e="`+reply.NSSOAP12+`"><e:Body><Discover xmlns="urn:schemas-microsoft-com:xml-analysis"/></e:Body></e:Envelope>`))
	var be *BodyError
	if _, err := dialect(t, "xmla").build(Session, Values{ID: "1", IDName: "SessionId"}, v12); !errors.As(err, &be) {
		t.Errorf("a SOAP 1.2 envelope in a 1.1 dialect gave %v", err)
	}
}

func mustBody(t *testing.T, src []byte) *Body {
	t.Helper()
	b, err := ParseBody(src)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A whole envelope keeps its XML declaration, as given, with the space
// after it; a BOM and the space before and after the document do not stay.
func TestWholeEnvelopeKeepsItsDeclaration(t *testing.T) {
	decl := "<?xml version=\"1.0\" encoding='utf-8' standalone=\"yes\"?>\r\n"
	src := "\xef\xbb\xbf" + decl + `<s:Envelope xmlns:s="` + reply.NSSOAP11 + `"><s:Body><Discover xmlns="urn:schemas-microsoft-com:xml-analysis"/></s:Body></s:Envelope>` + "\n"
	env, err := dialect(t, "xmla").build(Session, Values{ID: "E1", IDName: "SessionId"}, mustBody(t, []byte(src)))
	if err != nil {
		t.Fatal(err)
	}
	want := decl + `<s:Envelope xmlns:s="` + reply.NSSOAP11 + `"><s:Header><Session xmlns="urn:schemas-microsoft-com:xml-analysis" mustUnderstand="1" SessionId="E1"/></s:Header><s:Body>`
	if !bytes.HasPrefix(env, []byte(want)) {
		t.Errorf("got\n%q\nwant it to start\n%q", env, want)
	}
	// An element body still goes in without its declaration.
	env, err = dialect(t, "xmla").build(Session, Values{ID: "E1", IDName: "SessionId"}, mustBody(t, []byte(decl+`<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"/>`)))
	if err != nil || bytes.Count(env, []byte("<?xml")) != 0 {
		t.Errorf("an element body: %v\n%s", err, env)
	}
}
