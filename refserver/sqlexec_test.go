package refserver

import (
	"encoding/base64"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

const sqlNotify = `<sqloptions:environmentChangeNotifications SOAP-ENV:mustUnderstand="1" transactionBoundary="true"/>`

// sqlItems lists a sqlbatchResult's items as "Kind" or "Kind:detail": the
// count of a SqlRowCount, the Type of a SqlTransaction, the Number of a
// SqlMessage, the Column1 of a SqlRowSet's row.
func sqlItems(t *testing.T, doc *xdoc) []string {
	t.Helper()
	res := doc.one(t, sqlNS, "sqlbatchResult")
	var out []string
	for _, it := range res.children {
		if it.name.Space != sqlResultStreamNS {
			t.Fatalf("result item %v is not in the SqlResultStream namespace", it.name)
		}
		typ, _ := it.attr(xsiNS, "type")
		q := it.qnameIn(typ)
		find := func(space, local string) string {
			var walk func(e *xelem) string
			walk = func(e *xelem) string {
				if e.name.Space == space && e.name.Local == local {
					return e.text
				}
				for _, c := range e.children {
					if v := walk(c); v != "" {
						return v
					}
				}
				return ""
			}
			return walk(it)
		}
		switch it.name.Local {
		case "SqlRowCount":
			if q != (xml.Name{Space: sqlRowCountNS, Local: "SqlRowCount"}) {
				t.Fatalf("SqlRowCount xsi:type %v", q)
			}
			out = append(out, "SqlRowCount:"+find(sqlRowCountNS, "Count"))
		case "SqlTransaction":
			if q != (xml.Name{Space: sqlTransactionNS, Local: "SqlTransaction"}) {
				t.Fatalf("SqlTransaction xsi:type %v", q)
			}
			out = append(out, "SqlTransaction:"+find(sqlTransactionNS, "Type"))
		case "SqlMessage":
			if q != (xml.Name{Space: sqlMessageNS, Local: "SqlMessage"}) {
				t.Fatalf("SqlMessage xsi:type %v", q)
			}
			out = append(out, "SqlMessage:"+find(sqlMessageNS, "Number"))
		case "SqlRowSet":
			if q != (xml.Name{Space: sqlTypesNS, Local: "SqlRowSet"}) {
				t.Fatalf("SqlRowSet xsi:type %v", q)
			}
			out = append(out, "SqlRowSet:"+find("", "Column1"))
		default:
			t.Fatalf("unexpected result item %v", it.name)
		}
	}
	return out
}

// descriptorOf returns the Descriptor of the reply's only SqlTransaction.
func descriptorOf(t *testing.T, doc *xdoc) string {
	t.Helper()
	d := doc.one(t, sqlTransactionNS, "Descriptor").text
	if b, err := base64.StdEncoding.DecodeString(d); err != nil || len(b) != 8 {
		t.Fatalf("Descriptor %q is not base64 of 8 bytes", d)
	}
	return d
}

func wantItems(t *testing.T, doc *xdoc, want ...string) {
	t.Helper()
	if got := sqlItems(t, doc); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("result stream = %q, want %q", got, want)
	}
}

type sqlClient struct {
	t   *testing.T
	srv *Server
	id  string
}

func beginSQL(t *testing.T, srv *Server, notify bool, batch string) (*sqlClient, *xdoc) {
	t.Helper()
	hdr := `<sqloptions:sqlSession initiate="true" timeout="60"/>`
	if notify {
		hdr += sqlNotify
	}
	body := ""
	if batch != "" {
		body = sqlBatch(batch)
	}
	doc := ok(t, post(t, srv, "/sql", sqlEnv(hdr, body)))
	return &sqlClient{t, srv, sqlSessionAttrs(t, doc)["sessionId"]}, doc
}

// send runs batch in the session, with the descriptor attribute when d != "".
func (c *sqlClient) send(d, batch string) *xdoc {
	c.t.Helper()
	return ok(c.t, post(c.t, c.srv, "/sql", sqlEnv(c.header(d, false), sqlBatch(batch))))
}

func (c *sqlClient) header(d string, terminate bool) string {
	h := `<sqloptions:sqlSession sessionId="` + c.id + `"`
	if d != "" {
		h += ` transactionDescriptor="` + d + `"`
	}
	if terminate {
		h += ` terminate="true"`
	}
	return h + `/>`
}

func TestSQLTransactionOverThreeRequests(t *testing.T) {
	srv, _ := newTestServer(Options{})
	c, doc := beginSQL(t, srv, true, "")
	if len(doc.all(sqlNS, "sqlbatchResponse")) != 0 {
		t.Fatalf("a begin without a body got a result")
	}

	doc = c.send("", "BEGIN TRAN")
	wantItems(t, doc, "SqlTransaction:Begin")
	d := descriptorOf(t, doc)
	if n := srv.OpenTransactions(); n != 1 {
		t.Fatalf("OpenTransactions = %d, want 1", n)
	}

	// The in-session reply echoes the session header (not the descriptor).
	doc = c.send(d, "INSERT INTO #t VALUES (1);\n insert   #T values(-2) ; SELECT COUNT(*) FROM #t")
	wantItems(t, doc, "SqlRowCount:1", "SqlRowCount:1", "SqlRowSet:2", "SqlRowCount:1")
	if a := sqlSessionAttrs(t, doc); len(a) != 1 || a["sessionId"] != c.id {
		t.Fatalf("reply sqlSession = %v", a)
	}

	doc = c.send(d, "COMMIT TRANSACTION")
	wantItems(t, doc, "SqlTransaction:Commit")
	if got := descriptorOf(t, doc); got != d {
		t.Fatalf("Commit descriptor %q, want the Begin's %q", got, d)
	}
	if n := srv.OpenTransactions(); n != 0 {
		t.Fatalf("OpenTransactions after COMMIT = %d", n)
	}

	// After the commit no descriptor is due, and the rows are there.
	wantItems(t, c.send("", "SELECT COUNT(*) FROM #t"), "SqlRowSet:2", "SqlRowCount:1")
	// A descriptor of a finished transaction enlists in nothing.
	wantItems(t, c.send(d, "SELECT COUNT(*) FROM #t"), "SqlMessage:3989")

	// A new transaction gets a new descriptor.
	d2 := descriptorOf(t, c.send("", "BEGIN TRANSACTION"))
	if d2 == d {
		t.Fatalf("second transaction reuses descriptor %q", d)
	}
	wantItems(t, c.send(d2, "COMMIT"), "SqlTransaction:Commit")

	// Another session has its own, empty #t.
	c2, _ := beginSQL(t, srv, true, "")
	wantItems(t, c2.send("", "SELECT COUNT(*) FROM #t"), "SqlRowSet:0", "SqlRowCount:1")
}

func TestSQLRollback(t *testing.T) {
	srv, _ := newTestServer(Options{})
	c, doc := beginSQL(t, srv, true, "INSERT INTO #t VALUES (7); BEGIN TRAN")
	wantItems(t, doc, "SqlRowCount:1", "SqlTransaction:Begin")
	d := descriptorOf(t, doc)
	wantItems(t, c.send(d, "INSERT INTO #t VALUES (8); INSERT INTO #t VALUES (9); SELECT COUNT(*) FROM #t"),
		"SqlRowCount:1", "SqlRowCount:1", "SqlRowSet:3", "SqlRowCount:1")
	doc = c.send(d, "ROLLBACK; SELECT COUNT(*) FROM #t")
	wantItems(t, doc, "SqlTransaction:Rollback", "SqlRowSet:1", "SqlRowCount:1")
	if got := descriptorOf(t, doc); got != d {
		t.Fatalf("Rollback descriptor %q, want %q", got, d)
	}
	// Without a transaction: SQL Server's errors 3902 and 3903, and the
	// batch goes on.
	wantItems(t, c.send("", "COMMIT TRAN; ROLLBACK TRANSACTION; SELECT COUNT(*) FROM #t"),
		"SqlMessage:3902", "SqlMessage:3903", "SqlRowSet:1", "SqlRowCount:1")
}

func TestSQLNestedTransaction(t *testing.T) {
	srv, _ := newTestServer(Options{})
	c, doc := beginSQL(t, srv, true, "BEGIN TRAN; BEGIN TRAN; INSERT INTO #t VALUES (1)")
	wantItems(t, doc, "SqlTransaction:Begin", "SqlRowCount:1")
	d := descriptorOf(t, doc)
	// The inner COMMIT only lowers @@TRANCOUNT.
	wantItems(t, c.send(d, "COMMIT"))
	wantItems(t, c.send(d, "COMMIT; SELECT COUNT(*) FROM #t"), "SqlTransaction:Commit", "SqlRowSet:1", "SqlRowCount:1")
}

func TestSQLDescriptorRequired(t *testing.T) {
	srv, _ := newTestServer(Options{})
	c, _ := beginSQL(t, srv, true, "")
	d := descriptorOf(t, c.send("", "BEGIN TRAN; INSERT INTO #t VALUES (1)"))
	wrong := base64.StdEncoding.EncodeToString([]byte("12345678"))
	for name, attr := range map[string]string{"missing": "", "wrong": wrong, "not base64": "!!", "ID instead": c.id} {
		t.Run(name, func(t *testing.T) {
			doc := c.send(attr, "INSERT INTO #t VALUES (2); COMMIT")
			wantItems(t, doc, "SqlMessage:3989")
			msg := doc.one(t, sqlMessageNS, "Message").text
			if msg != "New request is not allowed to start because it should come with valid transaction descriptor." {
				t.Fatalf("Message = %q", msg)
			}
			if cl := doc.one(t, sqlMessageNS, "Class").text; cl != "16" {
				t.Fatalf("Class = %s", cl)
			}
			// Statements outside the subset are refused the same way.
			wantItems(t, c.send(attr, "SELECT @@version"), "SqlMessage:3989")
		})
	}
	// Nothing ran: the transaction is still open with its one row.
	wantItems(t, c.send(d, "SELECT COUNT(*) FROM #t; COMMIT"), "SqlRowSet:1", "SqlRowCount:1", "SqlTransaction:Commit")
}

func TestSQLRollbackOnEndAndExpiry(t *testing.T) {
	srv, clock := newTestServer(Options{SQLMaxTimeout: 60})
	state := func(c *sqlClient) *sqlState {
		srv.sessions.mu.Lock()
		defer srv.sessions.mu.Unlock()
		return srv.sessions.m[sessionKey{PathSQL, c.id}].sql
	}

	// EndSession: the end's own body runs in the transaction, then the
	// session closes and rolls it back.
	c, doc := beginSQL(t, srv, true, "BEGIN TRAN; INSERT INTO #t VALUES (1)")
	d := descriptorOf(t, doc)
	st := state(c)
	doc = ok(t, post(t, srv, "/sql", sqlEnv(c.header(d, true), sqlBatch("INSERT INTO #t VALUES (2); SELECT COUNT(*) FROM #t"))))
	wantItems(t, doc, "SqlRowCount:1", "SqlRowSet:2", "SqlRowCount:1")
	if a := sqlSessionAttrs(t, doc); a["terminate"] != "true" {
		t.Fatalf("end reply sqlSession = %v", a)
	}
	if st.tx != nil || st.count() != 0 || srv.OpenTransactions() != 0 {
		t.Fatalf("after EndSession: transaction %v, %d rows, OpenTransactions %d", st.tx, st.count(), srv.OpenTransactions())
	}
	// A terminate without the descriptor still ends the session (its body
	// is refused) and rolls back.
	c, _ = beginSQL(t, srv, true, "BEGIN TRAN; INSERT INTO #t VALUES (1)")
	st = state(c)
	doc = ok(t, post(t, srv, "/sql", sqlEnv(c.header("", true), sqlBatch("COMMIT"))))
	wantItems(t, doc, "SqlMessage:3989")
	if st.tx != nil || st.count() != 0 || srv.ActiveSessions() != 0 {
		t.Fatalf("after EndSession without descriptor: transaction %v, %d rows, %d sessions", st.tx, st.count(), srv.ActiveSessions())
	}

	// Expiry.
	c, doc = beginSQL(t, srv, true, "INSERT INTO #t VALUES (1); BEGIN TRAN; INSERT INTO #t VALUES (2)")
	st = state(c)
	if st.count() != 2 || srv.OpenTransactions() != 1 {
		t.Fatalf("before expiry: %d rows, OpenTransactions %d", st.count(), srv.OpenTransactions())
	}
	clock.Advance(60 * time.Second)
	if n := srv.OpenTransactions(); n != 0 {
		t.Fatalf("OpenTransactions after expiry = %d", n)
	}
	if st.tx != nil || st.count() != 1 {
		t.Fatalf("after expiry: transaction %v, %d rows, want the committed 1", st.tx, st.count())
	}
	dialects[3].badSession(t, post(t, srv, "/sql", sqlEnv(c.header(descriptorOf(t, doc), false), sqlBatch("COMMIT"))))
}

func TestSQLNotificationsOnlyWhenAsked(t *testing.T) {
	srv, _ := newTestServer(Options{})
	// Without transactionBoundary the state changes happen but are not
	// reported, so the client cannot learn the descriptor.
	c, doc := beginSQL(t, srv, false, "BEGIN TRAN; INSERT INTO #t VALUES (1); COMMIT; SELECT COUNT(*) FROM #t")
	wantItems(t, doc, "SqlRowCount:1", "SqlRowSet:1", "SqlRowCount:1")
	wantItems(t, c.send("", "BEGIN TRAN"))
	wantItems(t, c.send("", "ROLLBACK"), "SqlMessage:3989")

	// A later request's environmentChangeNotifications does not change the
	// session's choice.
	c, _ = beginSQL(t, srv, false, "")
	doc = ok(t, post(t, srv, "/sql", sqlEnv(c.header("", false)+sqlNotify, sqlBatch("BEGIN TRAN"))))
	wantItems(t, doc)

	// Sessionless: the request's own header counts, and a transaction left
	// open ends with the request.
	doc = ok(t, post(t, srv, "/sql", sqlEnv(sqlNotify, sqlBatch("BEGIN TRAN; INSERT INTO #t VALUES (1); SELECT COUNT(*) FROM #t"))))
	wantItems(t, doc, "SqlTransaction:Begin", "SqlRowCount:1", "SqlRowSet:1", "SqlRowCount:1")
	if n := srv.OpenTransactions(); n != 2 {
		t.Fatalf("OpenTransactions = %d, want only the two sessions' 2", n)
	}
	doc = fault(t, post(t, srv, "/sql", sqlEnv(`<sqloptions:environmentChangeNotifications transactionBoundary="maybe"/>`, sqlBatch("BEGIN TRAN"))))
	if got := doc.local(t, "faultstring").text; !strings.HasSuffix(got, "HeaderValueIsInvalid") {
		t.Fatalf("faultstring = %q", got)
	}
}

func TestSQLOutsideSubsetUnchanged(t *testing.T) {
	srv, _ := newTestServer(Options{})
	c, _ := beginSQL(t, srv, true, "")
	for batch, n := range map[string]string{
		"SELECT 1; SELECT 2":                          "2",
		"INSERT INTO #t VALUES (1); SELECT 1":         "2",
		"INSERT INTO #t VALUES (99999999999)":         "1",
		"INSERT INTO #u VALUES (1)":                   "1",
		"SELECT COUNT(*) FROM #t WHERE 1=1":           "1",
		" ; ":                                         "0",
		"BEGIN TRAN; SELECT COUNT(*) FROM #t; select": "3",
	} {
		doc := c.send("", batch)
		if got := sqlCount(t, doc); got != n {
			t.Fatalf("%q: Count = %s, want %s", batch, got, n)
		}
	}
	// Nothing of those ran.
	wantItems(t, c.send("", "SELECT COUNT(*) FROM #t"), "SqlRowSet:0", "SqlRowCount:1")
	if n := srv.OpenTransactions(); n != 0 {
		t.Fatalf("OpenTransactions = %d", n)
	}
}

func TestSQLMessageLineNumber(t *testing.T) {
	srv, _ := newTestServer(Options{})
	doc := ok(t, post(t, srv, "/sql", sqlEnv("", sqlBatch("INSERT INTO #t VALUES (1);\n\n  COMMIT"))))
	if ln := doc.one(t, sqlMessageNS, "LineNumber").text; ln != "3" {
		t.Fatalf("LineNumber = %s, want 3", ln)
	}
}
