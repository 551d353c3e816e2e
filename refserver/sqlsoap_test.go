package refserver

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sqlSessionAttrs(t *testing.T, doc *xdoc) map[string]string {
	t.Helper()
	s := doc.one(t, sqlOptionsNS, "sqlSession")
	out := map[string]string{}
	for _, a := range s.attrs {
		if a.Name.Space == "" && a.Name.Local != "xmlns" {
			out[a.Name.Local] = a.Value
		}
	}
	return out
}

func sqlCount(t *testing.T, doc *xdoc) string {
	t.Helper()
	doc.one(t, sqlNS, "sqlbatchResponse")
	rc := doc.one(t, sqlResultStreamNS, "SqlRowCount")
	typ, _ := rc.attr(xsiNS, "type")
	if v := rc.qnameIn(typ); v.Space != sqlRowCountNS || v.Local != "SqlRowCount" {
		t.Fatalf("SqlRowCount/@xsi:type = %q resolves to %v", typ, v)
	}
	return doc.one(t, sqlRowCountNS, "Count").text
}

func TestSQLLifecycleAndTimeout(t *testing.T) {
	tests := []struct {
		name    string
		attrs   string
		granted string
	}{
		{"requested below the maximum", `timeout="12"`, "12"},
		{"requested above the maximum is capped", `timeout="90"`, "60"},
		{"absent means the maximum", ``, "60"},
		{"whitespace around the number", `timeout=" 30 "`, "30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, clock := newTestServer(Options{SQLMaxTimeout: 60})
			doc := ok(t, post(t, srv, "/sql", sqlEnv(`<sqloptions:sqlSession initiate="1" `+tt.attrs+`/>`, sqlBatch("SELECT 1; SELECT 2;; \n "))))
			got := sqlSessionAttrs(t, doc)
			id := got["sessionId"]
			if got["timeout"] != tt.granted || len(got) != 2 {
				t.Fatalf("begin reply sqlSession = %v, want sessionId and timeout=%s", got, tt.granted)
			}
			if c := sqlCount(t, doc); c != "2" {
				t.Fatalf("Count = %s, want 2", c)
			}

			// The session expires after its own granted timeout.
			secs, err := strconv.Atoi(tt.granted)
			if err != nil {
				t.Fatal(err)
			}
			granted := time.Duration(secs) * time.Second
			clock.Advance(granted - time.Second)
			doc = ok(t, post(t, srv, "/sql", sqlEnv(`<sqloptions:sqlSession sessionId="`+id+`"/>`, "")))
			if got := sqlSessionAttrs(t, doc); len(got) != 1 || got["sessionId"] != id {
				t.Fatalf("in-session reply sqlSession = %v, want sessionId only", got)
			}
			if n := len(doc.one(t, soapEnvNS, "Body").children); n != 0 {
				t.Fatalf("empty request Body got %d reply elements", n)
			}
			clock.Advance(granted - time.Second)
			doc = ok(t, post(t, srv, "/sql", sqlEnv(`<sqloptions:sqlSession terminate="1" sessionId="`+id+`"/>`, "")))
			if got := sqlSessionAttrs(t, doc); got["terminate"] != "true" || got["sessionId"] != id || len(got) != 2 {
				t.Fatalf("terminate reply sqlSession = %v, want terminate=true and the ID", got)
			}

			doc = ok(t, post(t, srv, "/sql", sqlEnv(`<sqloptions:sqlSession initiate="true" `+tt.attrs+`/>`, "")))
			id = sqlSessionAttrs(t, doc)["sessionId"]
			clock.Advance(granted)
			dialects[3].badSession(t, post(t, srv, "/sql", sqlEnv(`<sqloptions:sqlSession sessionId="`+id+`"/>`, "")))
		})
	}
}

func TestSQLInvalidSessionHeader(t *testing.T) {
	for name, hdr := range map[string]string{
		"timeout not a number":   `<sqloptions:sqlSession initiate="true" timeout="ten"/>`,
		"timeout zero":           `<sqloptions:sqlSession initiate="true" timeout="0"/>`,
		"timeout negative":       `<sqloptions:sqlSession initiate="true" timeout="-5"/>`,
		"timeout beyond xs:int":  `<sqloptions:sqlSession initiate="true" timeout="99999999999"/>`,
		"initiate not a boolean": `<sqloptions:sqlSession initiate="yes"/>`,
		"initiate and terminate": `<sqloptions:sqlSession initiate="true" terminate="true"/>`,
		"initiate with an ID":    `<sqloptions:sqlSession initiate="true" sessionId="AAAAADreaLE="/>`,
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := newTestServer(Options{})
			doc := fault(t, post(t, srv, "/sql", sqlEnv(hdr, "")))
			if got := doc.local(t, "faultcode").qnameValue(); got.Space != soapEnvNS || got.Local != "Client" {
				t.Fatalf("faultcode = %v", got)
			}
			if got := doc.local(t, "faultstring").text; !strings.HasPrefix(got, "There was an error in the incoming SOAP request packet:  Client, SoapHeader, ") {
				t.Fatalf("faultstring = %q", got)
			}
			if n := srv.ActiveSessions(); n != 0 {
				t.Fatalf("ActiveSessions = %d", n)
			}
		})
	}
	// Neither initiate nor an ID: a missing ID is an invalid one.
	srv, _ := newTestServer(Options{})
	dialects[3].badSession(t, post(t, srv, "/sql", sqlEnv(`<sqloptions:sqlSession terminate="true"/>`, "")))
	dialects[3].badSession(t, post(t, srv, "/sql", sqlEnv(`<sqloptions:sqlSession/>`, "")))
}

// TestSQLFaultShape compares the SessionIdIsInvalid fault with [MS-SSNWS]
// 4.2.7 (corpus sqlsoap/08) by expanded names and values.
func TestSQLFaultShape(t *testing.T) {
	srv, _ := newTestServer(Options{})
	got := fault(t, post(t, srv, "/sql", sqlEnv(`<sqloptions:sqlSession sessionId="AAAAADreaLE="/>`, sqlBatch("SELECT 1"))))
	want := parseDoc(t, []byte(readCorpus(t, "sqlsoap/08-fault-sessionidisinvalid.response.xml")))

	for _, local := range []string{"faultstring", "faultactor"} {
		if g, w := got.local(t, local).text, want.local(t, local).text; g != w {
			t.Fatalf("%s = %q, want %q", local, g, w)
		}
	}
	if g, w := got.local(t, "faultcode").qnameValue(), want.local(t, "faultcode").qnameValue(); g != w {
		t.Fatalf("faultcode = %v, want %v", g, w)
	}
	values := func(d *xdoc) []string {
		var out []string
		for _, v := range d.all(soap12EnvNS, "Value") {
			q := v.qnameValue()
			out = append(out, q.Space+" "+q.Local)
		}
		return out
	}
	g, w := values(got), values(want)
	if strings.Join(g, "|") != strings.Join(w, "|") {
		t.Fatalf("SOAP 1.2 Code/Subcode values = %q, want %q", g, w)
	}
	if n := len(got.all(soap12EnvNS, "Subcode")); n != 2 {
		t.Fatalf("%d Subcode elements, want 2", n)
	}
	if a := sqlSessionAttrs(t, got); len(a) != 1 || a["terminate"] != "true" {
		t.Fatalf("fault header sqlSession = %v, want terminate=true only", a)
	}
	if hdr := got.one(t, soapEnvNS, "Header"); hdr.parent.name.Local != "Envelope" {
		t.Fatalf("sqlSession header is not in the Envelope's Header")
	}
}

func TestSQLCorpus(t *testing.T) {
	srv, _ := newTestServer(Options{SQLMaxTimeout: 60})
	// [MS-SSNWS] sqlbatch without sessions.
	doc := ok(t, post(t, srv, "/sql", readCorpus(t, "sqlsoap/07-sqlbatch-with-soapaction.request.xml")))
	if c := sqlCount(t, doc); c != "1" {
		t.Fatalf("Count = %s, want 1", c)
	}
	if len(doc.all(sqlOptionsNS, "sqlSession")) != 0 {
		t.Fatalf("sessionless request got a sqlSession header")
	}

	// The docs example as published uses https:// for every namespace,
	// including the SOAP envelope, so it is not SOAP 1.1 at all.
	published := readCorpus(t, "sqlsoap/06-initiate-with-options-sqlbatch.request.xml")
	doc = fault(t, post(t, srv, "/sql", published))
	if got := doc.local(t, "faultstring").text; !strings.HasSuffix(got, "Client, InvalidXml") {
		t.Fatalf("faultstring = %q", got)
	}

	// With the namespaces SQL Server really uses, it begins a session, and the
	// mustUnderstand login-option headers are accepted.
	fixed := strings.ReplaceAll(published, "https://", "http://")
	doc = ok(t, post(t, srv, "/sql", fixed))
	a := sqlSessionAttrs(t, doc)
	if a["timeout"] != "10" || !dialects[3].idPattern.MatchString(a["sessionId"]) {
		t.Fatalf("begin reply sqlSession = %v, want timeout=10 and an ID", a)
	}
	if c := sqlCount(t, doc); c != "2" {
		t.Fatalf("Count = %s, want 2", c)
	}
	id := a["sessionId"]

	// The docs' header fragments, with the http:// namespaces and our ID.
	fragment := func(name string) string {
		f := readCorpus(t, name)
		f = strings.ReplaceAll(f, "https://", "http://")
		f = strings.ReplaceAll(f, "AAAAADreaLE=", id)
		f = regexp.MustCompile(`(?s)^<!--.*?-->\s*`).ReplaceAllString(f, "")
		return `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">` + f + `<SOAP-ENV:Body/></SOAP-ENV:Envelope>`
	}
	doc = ok(t, post(t, srv, "/sql", fragment("sqlsoap/03-enlist-request.header.xml")))
	if got := sqlSessionAttrs(t, doc); got["sessionId"] != id {
		t.Fatalf("enlist reply = %v", got)
	}
	doc = ok(t, post(t, srv, "/sql", fragment("sqlsoap/04-terminate-request.header.xml")))
	if got := sqlSessionAttrs(t, doc); got["terminate"] != "true" || got["sessionId"] != id {
		t.Fatalf("terminate reply = %v", got)
	}
	doc = ok(t, post(t, srv, "/sql", fragment("sqlsoap/01-initiate-request.header.xml")))
	if got := sqlSessionAttrs(t, doc); got["timeout"] != "12" {
		t.Fatalf("initiate reply = %v, want timeout=12", got)
	}
	if n := srv.ActiveSessions(); n != 1 {
		t.Fatalf("ActiveSessions = %d, want 1", n)
	}
}

func TestSQLHTTPSNamespaceNotUnderstood(t *testing.T) {
	srv, _ := newTestServer(Options{})
	const httpsOpts = `xmlns:o="https://schemas.microsoft.com/sqlserver/2004/SOAP/Options"`
	// Without mustUnderstand the header is ignored: no session is begun.
	doc := ok(t, post(t, srv, "/sql", sqlEnv(`<o:sqlSession `+httpsOpts+` initiate="true"/>`, sqlBatch("SELECT 1"))))
	if len(doc.all(sqlOptionsNS, "sqlSession")) != 0 || srv.ActiveSessions() != 0 {
		t.Fatalf("an https:// sqlSession header began a session")
	}
	doc = fault(t, post(t, srv, "/sql", sqlEnv(`<o:sqlSession `+httpsOpts+` SOAP-ENV:mustUnderstand="1" initiate="true"/>`, "")))
	if got := doc.local(t, "faultcode").qnameValue(); got.Space != soapEnvNS || got.Local != "MustUnderstand" {
		t.Fatalf("faultcode = %v, want {soap}MustUnderstand", got)
	}
}

func TestSQLUnsupportedBody(t *testing.T) {
	srv, _ := newTestServer(Options{})
	for body, suffix := range map[string]string{
		`<m:GetCustomerInfo xmlns:m="http://tempuri.org/"/>`: "Client, SoapMethod, OperationIsNotSupported",
		`<sql:sqlbatch/>`: "Client, InvalidXml",
		sqlBatch("SELECT 1") + sqlBatch("SELECT 2"): "Client, InvalidXml",
		`SELECT 1`: "Client, InvalidXml",
	} {
		doc := fault(t, post(t, srv, "/sql", sqlEnv(dialects[3].begin, body)))
		if got := doc.local(t, "faultstring").text; !strings.HasSuffix(got, suffix) {
			t.Fatalf("%s: faultstring = %q, want suffix %q", body, got, suffix)
		}
	}
	if n := srv.ActiveSessions(); n != 0 {
		t.Fatalf("faulting begins left %d sessions", n)
	}
}
