package refserver

import (
	"slices"
	"strings"
	"testing"
)

// withDSMLID puts a live ID into an MS-DSML example, which uses "12345".
func withDSMLID(msg, id string) string {
	return strings.ReplaceAll(msg, `ad:SessionID="12345"`, `ad:SessionID="`+id+`"`)
}

func TestDSMLCorpusSession(t *testing.T) {
	srv, _ := newTestServer(Options{})

	// MS-DSML §4: BeginSession with an unprefixed element and an empty batchRequest.
	doc := ok(t, post(t, srv, "/dsml", readCorpus(t, "dsml/01-msdsml-beginsession.request.xml")))
	sess := doc.one(t, dsmlSessionNS, "Session")
	id, found := sess.attr(dsmlSessionNS, "SessionID")
	if !found || !dialects[0].idPattern.MatchString(id) {
		t.Fatalf("begin reply Session/@ad:SessionID = %q (found %v)", id, found)
	}
	if _, has := sess.attr(soapEnvNS, "mustUnderstand"); has {
		t.Fatalf("reply Session header carries mustUnderstand; MS-DSML replies do not")
	}
	doc.one(t, dsmlCoreNS, "batchResponse")

	// [MS-DSML] §4's example search targets fabrikam, which this directory
	// does not hold.
	doc = ok(t, post(t, srv, "/dsml", withDSMLID(readCorpus(t, "dsml/03-msdsml-session-search.request.xml"), id)))
	if got, _ := doc.one(t, dsmlSessionNS, "Session").attr(dsmlSessionNS, "SessionID"); got != id {
		t.Fatalf("in-session reply echoes %q, want %q", got, id)
	}
	if code, _ := doc.one(t, dsmlCoreNS, "resultCode").attr("", "code"); code != "32" {
		t.Fatalf("search of a missing base: resultCode %s, want 32", code)
	}
	if n := len(doc.all(dsmlCoreNS, "searchResultEntry")); n != 0 {
		t.Fatalf("search of a missing base returned %d entries", n)
	}

	// EndSession carrying an addRequest: processed, then the session is gone.
	doc = ok(t, post(t, srv, "/dsml", withDSMLID(readCorpus(t, "dsml/05-msdsml-endsession-add.request.xml"), id)))
	if got, _ := doc.one(t, dsmlSessionNS, "Session").attr(dsmlSessionNS, "SessionID"); got != id {
		t.Fatalf("EndSession reply echoes %q, want the ended ID %q", got, id)
	}
	doc.one(t, dsmlCoreNS, "addResponse")
	if code, _ := doc.one(t, dsmlCoreNS, "resultCode").attr("", "code"); code != "32" {
		t.Fatalf("add under a missing parent: resultCode %s, want 32", code)
	}
	if n := srv.ActiveSessions(); n != 0 {
		t.Fatalf("ActiveSessions after EndSession = %d", n)
	}
	dialects[0].badSession(t, post(t, srv, "/dsml", withDSMLID(readCorpus(t, "dsml/03-msdsml-session-search.request.xml"), id)))
}

func TestDSMLUnqualifiedSessionID(t *testing.T) {
	srv, _ := newTestServer(Options{})
	id := dialects[0].beginSession(t, srv)
	// MS-DSML §7 note <2>: Windows faults on Session without the ad: prefix.
	for _, hdr := range []string{
		`<Session xmlns="urn:schema-microsoft-com:activedirectory:dsmlv2" SessionID="` + id + `"/>`,
		`<ad:Session xmlns:ad="urn:schema-microsoft-com:activedirectory:dsmlv2" SessionID="` + id + `"/>`,
		`<ad:EndSession xmlns:ad="urn:schema-microsoft-com:activedirectory:dsmlv2" SessionID="` + id + `"/>`,
		`<ad:Session xmlns:ad="urn:schema-microsoft-com:activedirectory:dsmlv2" ad:SessionId="` + id + `"/>`,
	} {
		dialects[0].badSession(t, post(t, srv, "/dsml", dsmlEnv(hdr, emptyBatch)))
	}
	if n := srv.ActiveSessions(); n != 1 {
		t.Fatalf("ActiveSessions = %d, want 1", n)
	}
	// A default-namespace element with a prefixed attribute is fine, and
	// mustUnderstand is optional.
	hdr := `<Session xmlns="urn:schema-microsoft-com:activedirectory:dsmlv2" xmlns:x="urn:schema-microsoft-com:activedirectory:dsmlv2" x:SessionID="` + id + `"/>`
	ok(t, post(t, srv, "/dsml", dsmlEnv(hdr, emptyBatch)))
}

func TestDSMLBadRequest(t *testing.T) {
	srv, _ := newTestServer(Options{})
	for name, body := range map[string]string{
		"empty Body":         "",
		"two batchRequests":  emptyBatch + emptyBatch,
		"wrong namespace":    `<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:other"/>`,
		"other element":      `<searchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" dn="" scope="baseObject"/>`,
		"text in Body":       `hello`,
		"text and a request": `hello` + emptyBatch,
	} {
		t.Run(name, func(t *testing.T) {
			doc := fault(t, post(t, srv, "/dsml", dsmlEnv(dialects[0].begin, body)))
			if got := doc.local(t, "detail").text; got != "Bad Request" {
				t.Fatalf("detail = %q, want Bad Request", got)
			}
			if n := srv.ActiveSessions(); n != 0 {
				t.Fatalf("a BeginSession with a bad body left %d sessions", n)
			}
		})
	}
}

const core = `xmlns="urn:oasis:names:tc:DSML:2:0:core"`

func dsmlBatch(t *testing.T, srv *Server, ops string, attrs string) *xdoc {
	t.Helper()
	return ok(t, post(t, srv, "/dsml", dsmlEnv("", `<batchRequest `+core+` `+attrs+`>`+ops+`</batchRequest>`)))
}

// entries returns dn → attribute name → values of a search reply.
func entries(doc *xdoc) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, e := range doc.all(dsmlCoreNS, "searchResultEntry") {
		dn, _ := e.attr("", "dn")
		attrs := map[string][]string{}
		for _, a := range e.children {
			name, _ := a.attr("", "name")
			attrs[name] = []string{}
			for _, v := range a.children {
				attrs[name] = append(attrs[name], v.text)
			}
		}
		out[dn] = attrs
	}
	return out
}

func TestDSMLSearch(t *testing.T) {
	tests := []struct {
		name    string
		request string
		wantDNs []string
		code    string
	}{
		{"people by objectClass", `<searchRequest dn="dc=example,dc=com" scope="wholeSubtree"><filter><equalityMatch name="objectclass"><value>PERSON</value></equalityMatch></filter></searchRequest>`,
			[]string{"cn=Ada Lovelace,ou=People,dc=example,dc=com", "cn=Alan Turing,ou=People,dc=example,dc=com"}, "0"},
		{"base object", `<searchRequest dn="DC=Example, DC=Com" scope="baseObject"><filter><present name="objectClass"/></filter></searchRequest>`,
			[]string{"dc=example,dc=com"}, "0"},
		{"single level", `<searchRequest dn="dc=example,dc=com" scope="singleLevel"><filter><present name="objectClass"/></filter></searchRequest>`,
			[]string{"ou=People,dc=example,dc=com"}, "0"},
		{"whole subtree", `<searchRequest dn="ou=people,dc=example,dc=com" scope="wholeSubtree"><filter><present name="objectClass"/></filter></searchRequest>`,
			[]string{"ou=People,dc=example,dc=com", "cn=Ada Lovelace,ou=People,dc=example,dc=com", "cn=Alan Turing,ou=People,dc=example,dc=com"}, "0"},
		{"present mail", `<searchRequest dn="dc=example,dc=com" scope="wholeSubtree"><filter><present name="MAIL"/></filter></searchRequest>`,
			[]string{"cn=Ada Lovelace,ou=People,dc=example,dc=com", "cn=Alan Turing,ou=People,dc=example,dc=com"}, "0"},
		{"equality on sn", `<searchRequest dn="dc=example,dc=com" scope="wholeSubtree"><filter><equalityMatch name="sn"><value>turing</value></equalityMatch></filter></searchRequest>`,
			[]string{"cn=Alan Turing,ou=People,dc=example,dc=com"}, "0"},
		{"and/not", `<searchRequest dn="dc=example,dc=com" scope="wholeSubtree"><filter><and><present name="sn"/><not><equalityMatch name="sn"><value>Turing</value></equalityMatch></not></and></filter></searchRequest>`,
			[]string{"cn=Ada Lovelace,ou=People,dc=example,dc=com"}, "0"},
		{"missing base", `<searchRequest dn="ou=Nowhere,dc=example,dc=com" scope="wholeSubtree"><filter><present name="objectClass"/></filter></searchRequest>`,
			nil, "32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := newTestServer(Options{})
			doc := dsmlBatch(t, srv, tt.request, "")
			var got []string
			for _, e := range doc.all(dsmlCoreNS, "searchResultEntry") {
				dn, _ := e.attr("", "dn")
				got = append(got, dn)
			}
			if !slices.Equal(got, tt.wantDNs) {
				t.Fatalf("entries %q, want %q", got, tt.wantDNs)
			}
			done := doc.one(t, dsmlCoreNS, "searchResultDone")
			if code, _ := done.children[0].attr("", "code"); code != tt.code {
				t.Fatalf("resultCode %s, want %s", code, tt.code)
			}
		})
	}
}

func TestDSMLSearchAttributeSelection(t *testing.T) {
	srv, _ := newTestServer(Options{})
	doc := dsmlBatch(t, srv, `<searchRequest dn="cn=Ada Lovelace,ou=People,dc=example,dc=com" scope="baseObject"><filter><present name="objectClass"/></filter><attributes><attribute name="MAIL"/><attribute name="cn"/></attributes></searchRequest>`, "")
	got := entries(doc)["cn=Ada Lovelace,ou=People,dc=example,dc=com"]
	if len(got) != 2 || !slices.Equal(got["mail"], []string{"ada@example.com"}) || !slices.Equal(got["cn"], []string{"Ada Lovelace"}) {
		t.Fatalf("selected attributes = %v, want cn and mail only", got)
	}
	doc = dsmlBatch(t, srv, `<searchRequest dn="cn=Alan Turing,ou=People,dc=example,dc=com" scope="baseObject"><filter><present name="objectClass"/></filter></searchRequest>`, "")
	got = entries(doc)["cn=Alan Turing,ou=People,dc=example,dc=com"]
	want := map[string][]string{"objectClass": {"person"}, "cn": {"Alan Turing"}, "sn": {"Turing"}, "mail": {"alan@example.com"}}
	if len(got) != len(want) {
		t.Fatalf("all attributes = %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Fatalf("attribute %s = %v, want %v", k, got[k], v)
		}
	}
}

func TestDSMLAddDelete(t *testing.T) {
	srv, _ := newTestServer(Options{})
	const grace = `<addRequest requestID="a1" dn="cn=Grace Hopper,ou=People,dc=example,dc=com"><attr name="objectClass"><value>person</value></attr><attr name="cn"><value>Grace Hopper</value></attr><attr name="sn"><value>Hopper</value></attr></addRequest>`
	doc := dsmlBatch(t, srv, grace, `requestID="batch-7"`)
	if rid, _ := doc.one(t, dsmlCoreNS, "batchResponse").attr("", "requestID"); rid != "batch-7" {
		t.Fatalf("batchResponse requestID = %q", rid)
	}
	add := doc.one(t, dsmlCoreNS, "addResponse")
	if rid, _ := add.attr("", "requestID"); rid != "a1" {
		t.Fatalf("addResponse requestID = %q, want a1", rid)
	}
	if code, _ := add.children[0].attr("", "code"); code != "0" {
		t.Fatalf("add: resultCode %s, want 0", code)
	}

	// The directory is shared: a later request sees the new entry.
	doc = dsmlBatch(t, srv, `<searchRequest dn="dc=example,dc=com" scope="wholeSubtree"><filter><equalityMatch name="sn"><value>hopper</value></equalityMatch></filter></searchRequest>`, "")
	if _, found := entries(doc)["cn=Grace Hopper,ou=People,dc=example,dc=com"]; !found {
		t.Fatalf("added entry not found by a later search")
	}

	ops := []struct {
		op, elem, code string
	}{
		{grace, "addResponse", "68"},
		{`<addRequest dn="cn=X,ou=Nowhere,dc=example,dc=com"/>`, "addResponse", "32"},
		{`<delRequest dn="cn=grace hopper, ou=people, dc=example, dc=com"/>`, "delResponse", "0"},
		{`<delRequest dn="cn=Grace Hopper,ou=People,dc=example,dc=com"/>`, "delResponse", "32"},
		{`<delRequest dn="ou=People,dc=example,dc=com"/>`, "delResponse", "66"},
	}
	for _, o := range ops {
		doc := dsmlBatch(t, srv, o.op, "")
		resp := doc.one(t, dsmlCoreNS, o.elem)
		if code, _ := resp.children[0].attr("", "code"); code != o.code {
			t.Fatalf("%s: resultCode %s, want %s", o.op, code, o.code)
		}
	}
}

func TestDSMLUnsupportedOperationAndOnError(t *testing.T) {
	srv, _ := newTestServer(Options{})
	const ops = `<modifyRequest requestID="m1" dn="cn=Ada Lovelace,ou=People,dc=example,dc=com"/>` +
		`<delRequest requestID="d1" dn="cn=Ada Lovelace,ou=People,dc=example,dc=com"/>`

	// onError defaults to exit: nothing after the errorResponse runs.
	doc := dsmlBatch(t, srv, ops, "")
	e := doc.one(t, dsmlCoreNS, "errorResponse")
	if typ, _ := e.attr("", "type"); typ != "notAttempted" {
		t.Fatalf("errorResponse type = %q, want notAttempted", typ)
	}
	if rid, _ := e.attr("", "requestID"); rid != "m1" {
		t.Fatalf("errorResponse requestID = %q, want m1", rid)
	}
	if msg := doc.one(t, dsmlCoreNS, "message").text; !strings.Contains(msg, "modifyRequest") || !strings.Contains(msg, "not supported by the soapsess reference server") {
		t.Fatalf("message = %q", msg)
	}
	if n := len(doc.all(dsmlCoreNS, "delResponse")); n != 0 {
		t.Fatalf("onError=exit still ran %d operations after the error", n)
	}

	doc = dsmlBatch(t, srv, ops, `onError="resume"`)
	del := doc.one(t, dsmlCoreNS, "delResponse")
	if code, _ := del.children[0].attr("", "code"); code != "0" {
		t.Fatalf("onError=resume: delete resultCode %s, want 0", code)
	}
}
