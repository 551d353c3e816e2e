package refserver

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialect describes one endpoint for the session tests every protocol shares.
type dialect struct {
	name string
	path string
	// env wraps header blocks in an envelope whose body succeeds statelessly.
	env      func(header string) string
	begin    string
	use, end func(id string) string
	// replyID extracts the session ID from a reply header; ok is false without one.
	replyID    func(d *xdoc) (string, bool)
	badSession func(t *testing.T, rec *httptest.ResponseRecorder)
	idPattern  *regexp.Regexp
	// endEchoes tells whether the reply to an end carries the ID.
	endEchoes bool
	// quiet is Virtuoso's way (virtuoso_test.go): only the begin's reply
	// carries the ID, a bad session is not reported (badSession checks
	// that the request ran outside any session), idle sessions do not
	// expire, and of several session headers one is heeded.
	quiet bool
}

const (
	idleTimeout = 10 * time.Minute
	testSQLMax  = 600 // seconds, equal to idleTimeout so one table fits all dialects
)

func dsmlEnv(header, body string) string {
	return `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header>` + header +
		`</se:Header><se:Body xmlns="urn:oasis:names:tc:DSML:2:0:core">` + body + `</se:Body></se:Envelope>`
}

func dsmlHdr(elem, id string) string {
	return `<ad:` + elem + ` xmlns:ad="urn:schema-microsoft-com:activedirectory:dsmlv2" ad:SessionID="` + xmlAttr(id) + `" se:mustUnderstand="1"/>`
}

const emptyBatch = `<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" processing="sequential" responseOrder="sequential" onError="exit" />`

func xmlaEnv(header, body string) string {
	return `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` + header +
		`</soap:Header><soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

const xmlaEmptyExecute = `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement/></Command><Properties><PropertyList><LocaleIdentifier>1033</LocaleIdentifier></PropertyList></Properties></Execute>`

func xmlaHdr(elem, attr, id string) string {
	return `<` + elem + ` xmlns="urn:schemas-microsoft-com:xml-analysis" mustUnderstand="1" ` + attr + `="` + xmlAttr(id) + `"/>`
}

func sqlEnv(header, body string) string {
	return `<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sql="http://schemas.microsoft.com/sqlserver/2004/SOAP" xmlns:sqloptions="http://schemas.microsoft.com/sqlserver/2004/SOAP/Options"><SOAP-ENV:Header>` +
		header + `</SOAP-ENV:Header><SOAP-ENV:Body>` + body + `</SOAP-ENV:Body></SOAP-ENV:Envelope>`
}

func sqlBatch(cmds string) string {
	return `<sql:sqlbatch><sql:BatchCommands>` + cmds + `</sql:BatchCommands></sql:sqlbatch>`
}

func xmlaBadSession(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	doc := fault(t, rec)
	if got := strings.TrimSpace(doc.local(t, "faultcode").text); got != "XMLAnalysisError.0xc1360003" {
		t.Fatalf("faultcode = %q, want XMLAnalysisError.0xc1360003", got)
	}
	if code, _ := doc.local(t, "Error").attr("", "ErrorCode"); code != "3241541635" {
		t.Fatalf("detail Error/@ErrorCode = %q, want 3241541635", code)
	}
}

var dialects = []dialect{
	{
		name:  "dsml",
		path:  "/dsml",
		env:   func(h string) string { return dsmlEnv(h, emptyBatch) },
		begin: `<ad:BeginSession xmlns:ad="urn:schema-microsoft-com:activedirectory:dsmlv2" se:mustUnderstand="1"/>`,
		use:   func(id string) string { return dsmlHdr("Session", id) },
		end:   func(id string) string { return dsmlHdr("EndSession", id) },
		replyID: func(d *xdoc) (string, bool) {
			s := d.all(dsmlSessionNS, "Session")
			if len(s) != 1 {
				return "", false
			}
			return s[0].attr(dsmlSessionNS, "SessionID")
		},
		badSession: func(t *testing.T, rec *httptest.ResponseRecorder) {
			t.Helper()
			doc := fault(t, rec)
			if got := doc.local(t, "faultcode").qnameValue(); got.Space != soapEnvNS || got.Local != "Client" {
				t.Fatalf("faultcode = %v, want {soap}Client", got)
			}
			if got := doc.local(t, "detail").text; got != "Bad Session Request" {
				t.Fatalf("detail = %q, want Bad Session Request", got)
			}
		},
		idPattern: regexp.MustCompile(`^[0-9a-f]{32}$`),
		endEchoes: true,
	},
	{
		name:  "xmla",
		path:  "/xmla",
		env:   func(h string) string { return xmlaEnv(h, xmlaEmptyExecute) },
		begin: `<BeginSession xmlns="urn:schemas-microsoft-com:xml-analysis" mustUnderstand="1"/>`,
		use:   func(id string) string { return xmlaHdr("Session", "SessionId", id) },
		end:   func(id string) string { return xmlaHdr("EndSession", "SessionId", id) },
		replyID: func(d *xdoc) (string, bool) {
			s := d.all(xmlaNS, "Session")
			if len(s) != 1 {
				return "", false
			}
			return s[0].attr("", "SessionId")
		},
		badSession: xmlaBadSession,
		idPattern:  regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$`),
	},
	{
		name: "virtuoso",
		path: "/xmla/virtuoso",
		// Virtuoso faults on an Execute with an empty Statement.
		env:   func(h string) string { return xmlaEnv(h, xmlaDiscoverDatasources) },
		begin: `<XA:BeginSession xmlns:XA="urn:schemas-microsoft-com:xml-analysis" mustUnderstand="1"/>`,
		use:   func(id string) string { return xmlaHdr("Session", "SessionID", id) },
		end:   func(id string) string { return xmlaHdr("EndSession", "SessionID", id) },
		replyID: func(d *xdoc) (string, bool) {
			s := d.all(xmlaNS, "Session")
			if len(s) != 1 {
				return "", false
			}
			return s[0].attr("", "SessionID")
		},
		badSession: virtuosoUnreported,
		idPattern:  regexp.MustCompile(`^[0-9a-f]{32}$`),
		quiet:      true,
	},
	{
		name:  "sql",
		path:  "/sql",
		env:   func(h string) string { return sqlEnv(h, sqlBatch("SELECT 1")) },
		begin: `<sqloptions:sqlSession initiate="true"/>`,
		use:   func(id string) string { return `<sqloptions:sqlSession sessionId="` + xmlAttr(id) + `"/>` },
		end: func(id string) string {
			return `<sqloptions:sqlSession terminate="true" sessionId="` + xmlAttr(id) + `"/>`
		},
		replyID: func(d *xdoc) (string, bool) {
			s := d.all(sqlOptionsNS, "sqlSession")
			if len(s) != 1 {
				return "", false
			}
			return s[0].attr("", "sessionId")
		},
		badSession: func(t *testing.T, rec *httptest.ResponseRecorder) {
			t.Helper()
			doc := fault(t, rec)
			const want = "There was an error in the incoming SOAP request packet:  Client, SoapHeader, SessionIdIsInvalid"
			if got := doc.local(t, "faultstring").text; got != want {
				t.Fatalf("faultstring = %q, want %q", got, want)
			}
		},
		idPattern: regexp.MustCompile(`^[A-Za-z0-9+/]{22}==$`),
		endEchoes: true,
	},
}

func (d dialect) beginSession(t *testing.T, h http.Handler, opts ...reqOption) string {
	t.Helper()
	doc := ok(t, post(t, h, d.path, d.env(d.begin), opts...))
	id, found := d.replyID(doc)
	if !found {
		t.Fatalf("begin reply has no session ID")
	}
	if !d.idPattern.MatchString(id) {
		t.Fatalf("session ID %q does not match %s", id, d.idPattern)
	}
	return id
}

func TestSessionLifecycle(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{SQLMaxTimeout: testSQLMax})
			id := d.beginSession(t, srv)
			if n := srv.ActiveSessions(); n != 1 {
				t.Fatalf("ActiveSessions after begin = %d, want 1", n)
			}
			for range 3 {
				doc := ok(t, post(t, srv, d.path, d.env(d.use(id))))
				got, found := d.replyID(doc)
				if d.quiet && found {
					t.Fatalf("in-session reply carries a Session header; Virtuoso sends none")
				}
				if !d.quiet && got != id {
					t.Fatalf("in-session reply echoes ID %q, want %q", got, id)
				}
			}
			doc := ok(t, post(t, srv, d.path, d.env(d.end(id))))
			got, found := d.replyID(doc)
			if d.endEchoes && got != id {
				t.Fatalf("end reply echoes ID %q, want %q", got, id)
			}
			if !d.endEchoes && found {
				t.Fatalf("end reply carries a Session header; SSAS sends none")
			}
			if n := srv.ActiveSessions(); n != 0 {
				t.Fatalf("ActiveSessions after end = %d, want 0", n)
			}
			d.badSession(t, post(t, srv, d.path, d.env(d.use(id))))
			d.badSession(t, post(t, srv, d.path, d.env(d.end(id))))
		})
	}
}

func TestUnknownSession(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{SQLMaxTimeout: testSQLMax})
			live := d.beginSession(t, srv)
			for _, id := range []string{"0000", "AAAAADreaLE=", swapCase(live), live + "x", `a"<&'b`} {
				d.badSession(t, post(t, srv, d.path, d.env(d.use(id))))
				d.badSession(t, post(t, srv, d.path, d.env(d.end(id))))
			}
			if n := srv.ActiveSessions(); n != 1 {
				t.Fatalf("ActiveSessions = %d, want the one live session", n)
			}
		})
	}
}

func TestIdleExpiry(t *testing.T) {
	for _, d := range dialects {
		if d.quiet {
			continue // no idle expiry: TestVirtuosoNoIdleExpiry
		}
		t.Run(d.name, func(t *testing.T) {
			srv, clock := newTestServer(Options{IdleTimeout: idleTimeout, SQLMaxTimeout: testSQLMax})
			id := d.beginSession(t, srv)
			// Each use restarts the idle timer, so the session outlives
			// several idle periods in total.
			for range 3 {
				clock.Advance(idleTimeout - time.Second)
				ok(t, post(t, srv, d.path, d.env(d.use(id))))
			}
			clock.Advance(idleTimeout)
			if n := srv.ActiveSessions(); n != 0 {
				t.Fatalf("ActiveSessions after the idle timeout = %d, want 0", n)
			}
			d.badSession(t, post(t, srv, d.path, d.env(d.use(id))))

			// An expired session cannot be ended either.
			id = d.beginSession(t, srv)
			clock.Advance(idleTimeout)
			d.badSession(t, post(t, srv, d.path, d.env(d.end(id))))
		})
	}
}

func TestSessionBoundToUser(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{SQLMaxTimeout: testSQLMax})
			id := d.beginSession(t, srv, asUser("alice"))
			d.badSession(t, post(t, srv, d.path, d.env(d.use(id)), asUser("bob")))
			d.badSession(t, post(t, srv, d.path, d.env(d.use(id)))) // no credentials at all
			d.badSession(t, post(t, srv, d.path, d.env(d.end(id)), asUser("bob")))
			if n := srv.ActiveSessions(); n != 1 {
				t.Fatalf("ActiveSessions after another user's end = %d, want 1 (session unaltered)", n)
			}
			ok(t, post(t, srv, d.path, d.env(d.use(id)), asUser("alice")))
			ok(t, post(t, srv, d.path, d.env(d.end(id)), asUser("alice")))
			if n := srv.ActiveSessions(); n != 0 {
				t.Fatalf("ActiveSessions = %d, want 0", n)
			}
		})
	}
}

func TestMismatchDoesNotRefresh(t *testing.T) {
	for _, d := range dialects {
		if d.quiet {
			continue // no idle expiry to refresh: TestVirtuosoNoIdleExpiry
		}
		t.Run(d.name, func(t *testing.T) {
			srv, clock := newTestServer(Options{IdleTimeout: idleTimeout, SQLMaxTimeout: testSQLMax})
			id := d.beginSession(t, srv, asUser("alice"))
			clock.Advance(idleTimeout - time.Second)
			d.badSession(t, post(t, srv, d.path, d.env(d.use(id)), asUser("mallory")))
			clock.Advance(time.Second)
			d.badSession(t, post(t, srv, d.path, d.env(d.use(id)), asUser("alice")))
		})
	}
}

func TestDistinctIDs(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{SQLMaxTimeout: testSQLMax})
			seen := map[string]bool{}
			for range 200 {
				id := d.beginSession(t, srv)
				if seen[id] {
					t.Fatalf("session ID %q issued twice", id)
				}
				seen[id] = true
			}
			if n := srv.ActiveSessions(); n != 200 {
				t.Fatalf("ActiveSessions = %d, want 200", n)
			}
		})
	}
}

func TestSQLIDsAreBase64Of16Bytes(t *testing.T) {
	srv, _ := newTestServer(Options{})
	id := dialects[3].beginSession(t, srv)
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil || len(raw) != 16 {
		t.Fatalf("sessionId %q: decoded %d bytes, err %v; want 16 bytes", id, len(raw), err)
	}
}

func TestUnknownMustUnderstandHeader(t *testing.T) {
	const unknown = `<x:Trace xmlns:x="urn:example:trace" SOAP-ENV:mustUnderstand="1" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"/>`
	const ignorable = `<x:Trace xmlns:x="urn:example:trace" SOAP-ENV:mustUnderstand="0" xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"/>`
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{})
			doc := fault(t, post(t, srv, d.path, d.env(d.begin+unknown)))
			if got := doc.local(t, "faultcode").qnameValue(); got.Space != soapEnvNS || got.Local != "MustUnderstand" {
				t.Fatalf("faultcode = %v, want {soap}MustUnderstand", got)
			}
			if n := srv.ActiveSessions(); n != 0 {
				t.Fatalf("a faulting begin left %d sessions", n)
			}
			doc = ok(t, post(t, srv, d.path, d.env(d.begin+ignorable)))
			if _, found := d.replyID(doc); !found {
				t.Fatalf("begin with an ignorable unknown header returned no session")
			}
			ok(t, post(t, srv, d.path, d.env(`<x:Trace xmlns:x="urn:example:trace"/>`)))
		})
	}
}

func TestTwoSessionHeaders(t *testing.T) {
	for _, d := range dialects {
		if d.quiet {
			continue // one of them is heeded: TestVirtuosoSeveralSessionHeaders
		}
		t.Run(d.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{})
			d.badSession(t, post(t, srv, d.path, d.env(d.begin+d.begin)))
			id := d.beginSession(t, srv)
			d.badSession(t, post(t, srv, d.path, d.env(d.use(id)+d.end(id))))
			if n := srv.ActiveSessions(); n != 1 {
				t.Fatalf("ActiveSessions = %d, want 1 (the rejected end must not end it)", n)
			}
		})
	}
}

func TestMalformedXML(t *testing.T) {
	bodies := map[string]string{
		"truncated":           `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>`,
		"not xml":             `hello`,
		"undeclared prefix":   `<soap:Envelope><soap:Body/></soap:Envelope>`,
		"SOAP 1.2":            `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>`,
		"no Body":             `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/></soap:Envelope>`,
		"two roots":           `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope><x/>`,
		"DTD":                 `<!DOCTYPE x [<!ENTITY a "b">]><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>`,
		"mismatched end tag":  `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body></soap:Header></soap:Envelope>`,
		"legacy xsi:type doc": readCorpus(t, "xmla/msdocs_legacy_beginsession_xsitype_NOT_NS_WELLFORMED.xml"),
	}
	check := map[string]func(t *testing.T, doc *xdoc){
		"dsml": func(t *testing.T, doc *xdoc) {
			if got := doc.local(t, "faultcode").qnameValue(); got.Space != soapEnvNS || got.Local != "Client" {
				t.Fatalf("faultcode = %v, want {soap}Client", got)
			}
			if got := doc.local(t, "detail").text; got != "Bad Request" {
				t.Fatalf("detail = %q, want Bad Request", got)
			}
		},
		"xmla": func(t *testing.T, doc *xdoc) {
			if got := doc.local(t, "faultcode").text; got != "XMLAnalysisError.0xc10e0002" {
				t.Fatalf("faultcode = %q", got)
			}
		},
		"sql": func(t *testing.T, doc *xdoc) {
			const want = "There was an error in the incoming SOAP request packet:  Client, InvalidXml"
			if got := doc.local(t, "faultstring").text; got != want {
				t.Fatalf("faultstring = %q, want %q", got, want)
			}
		},
	}
	check["virtuoso"] = check["xmla"]
	for _, d := range dialects {
		for name, body := range bodies {
			t.Run(d.name+"/"+name, func(t *testing.T) {
				srv, _ := newTestServer(Options{})
				check[d.name](t, fault(t, post(t, srv, d.path, body)))
			})
		}
	}
}

func TestActiveSessionsAcrossDialects(t *testing.T) {
	srv, _ := newTestServer(Options{})
	var ids []string
	for i, d := range dialects {
		ids = append(ids, d.beginSession(t, srv))
		if n := srv.ActiveSessions(); n != i+1 {
			t.Fatalf("ActiveSessions = %d, want %d", n, i+1)
		}
	}
	// A session belongs to the endpoint that issued it.
	xmlaID := ids[1]
	dialects[2].badSession(t, post(t, srv, "/xmla/virtuoso", dialects[2].env(dialects[2].use(xmlaID))))
	for i, d := range dialects {
		ok(t, post(t, srv, d.path, d.env(d.end(ids[i]))))
	}
	if n := srv.ActiveSessions(); n != 0 {
		t.Fatalf("ActiveSessions = %d, want 0", n)
	}
}

// TestConcurrentSessions runs under -race in CI: 50 goroutines begin, use and
// end sessions on all endpoints at once.
func TestConcurrentSessions(t *testing.T) {
	srv, _ := newTestServer(Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := dialects[g%len(dialects)]
			user := fmt.Sprintf("user%d", g)
			id, err := concurrentRound(srv, d, user)
			if err != nil {
				errs <- fmt.Errorf("%s goroutine %d (session %s): %w", d.name, g, id, err)
			}
			_ = srv.ActiveSessions()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := srv.ActiveSessions(); n != 0 {
		t.Fatalf("ActiveSessions after all ends = %d, want 0", n)
	}
}

// concurrentRound cannot use t.Fatal (it runs off the test goroutine), so it
// reports by error.
func concurrentRound(h http.Handler, d dialect, user string) (string, error) {
	send := func(body string) (*httptest.ResponseRecorder, error) {
		req := httptest.NewRequest(http.MethodPost, d.path, strings.NewReader(body))
		req.Header.Set("Content-Type", "text/xml")
		req.SetBasicAuth(user, "x")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return rec, fmt.Errorf("status %d: %s", rec.Code, rec.Body)
		}
		return rec, nil
	}
	rec, err := send(d.env(d.begin))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?i)sessionid="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		return "", fmt.Errorf("no session ID in %s", rec.Body)
	}
	id := m[1] // no ID alphabet needs XML escaping
	for range 3 {
		if _, err := send(d.env(d.use(id))); err != nil {
			return id, err
		}
	}
	_, err = send(d.env(d.end(id)))
	return id, err
}

func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, s)
}
