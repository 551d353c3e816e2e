package refserver

import (
	"testing"
	"time"
)

// Each endpoint expires its sessions after its own idle timeout; /sql keeps
// its granted timeout whatever IdleTimeouts says, and unknown keys are ignored.
func TestIdleTimeoutsPerEndpoint(t *testing.T) {
	srv, clock := newTestServer(Options{
		IdleTimeout: idleTimeout, // /xmla
		IdleTimeouts: map[string]time.Duration{
			PathDSML:         time.Minute,
			PathXMLAVirtuoso: 3 * idleTimeout,
			PathSQL:          time.Second,
			"/nowhere":       time.Second,
		},
		SQLMaxTimeout: testSQLMax, // /sql: as long as idleTimeout
	})
	ids := map[string]string{}
	for _, d := range dialects {
		ids[d.name] = d.beginSession(t, srv)
	}
	// live checks which sessions are live by using each (which restarts the
	// idle timer of those that are).
	live := func(step string, want map[string]bool) {
		t.Helper()
		for _, d := range dialects {
			rec := post(t, srv, d.path, d.env(d.use(ids[d.name])))
			if want[d.name] {
				if rec.Code != 200 {
					t.Fatalf("%s: the %s session has expired; want it live", step, d.name)
				}
				ok(t, rec)
			} else {
				d.badSession(t, rec)
			}
		}
	}

	clock.Advance(time.Minute)
	live("after a minute", map[string]bool{"xmla": true, "virtuoso": true, "sql": true})
	clock.Advance(idleTimeout)
	live("after another idle timeout", map[string]bool{"virtuoso": true})
	clock.Advance(3*idleTimeout - time.Second)
	live("just before the virtuoso timeout", map[string]bool{"virtuoso": true})
	clock.Advance(3 * idleTimeout)
	live("after the virtuoso timeout", nil)
	if n := srv.ActiveSessions(); n != 0 {
		t.Fatalf("ActiveSessions = %d, want 0", n)
	}
}

// ExpireAll expires every session as idleness would: each endpoint answers
// with its own unknown-session fault, an open SQL transaction is rolled back,
// DSML cursors and XMLA session objects go.
func TestExpireAll(t *testing.T) {
	srv, _ := newTestServer(Options{DSMLEntries: 50})
	if n := srv.ExpireAll(); n != 0 {
		t.Fatalf("ExpireAll on an empty server = %d, want 0", n)
	}
	ids := map[string]string{}
	for _, d := range dialects {
		ids[d.name] = d.beginSession(t, srv)
	}
	// A paged search left open in the DSML session.
	if p := readPage(t, dsmlSend(t, srv, ids["dsml"], usersSearch().paged(10, nil).xml())); len(p.cookie) == 0 {
		t.Fatalf("the first page of 50 users by 10 carries no cookie")
	}
	// A session set in the XMLA session.
	ok(t, post(t, srv, PathXMLA, xmlaEnv(xmlaHdr("Session", "SessionId", ids["xmla"]),
		`<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement>CREATE SESSION SET [Sales].[Top] AS {}</Statement></Command></Execute>`)))
	// An open transaction in a second SQL session.
	c, _ := beginSQL(t, srv, false, "BEGIN TRAN; INSERT INTO #t VALUES (1)")
	srv.sessions.mu.Lock()
	sqlSess := srv.sessions.m[sessionKey{PathSQL, c.id}]
	xmlaSess := srv.sessions.m[sessionKey{PathXMLA, ids["xmla"]}]
	srv.sessions.mu.Unlock()
	if srv.Cursors() != 1 || srv.OpenTransactions() != 1 || len(xmlaSess.xmla.sets) != 1 {
		t.Fatalf("before ExpireAll: %d cursors, %d open transactions, %d session sets; want 1 each",
			srv.Cursors(), srv.OpenTransactions(), len(xmlaSess.xmla.sets))
	}

	if n := srv.ExpireAll(); n != len(dialects)+1 {
		t.Fatalf("ExpireAll = %d, want %d", n, len(dialects)+1)
	}
	if srv.ActiveSessions() != 0 || srv.Cursors() != 0 || srv.OpenTransactions() != 0 {
		t.Fatalf("after ExpireAll: %d sessions, %d cursors, %d open transactions; want none",
			srv.ActiveSessions(), srv.Cursors(), srv.OpenTransactions())
	}
	if sqlSess.sql.tx != nil || sqlSess.sql.count() != 0 {
		t.Fatalf("after ExpireAll the SQL transaction was not rolled back: %v, %d rows", sqlSess.sql.tx, sqlSess.sql.count())
	}
	if xmlaSess.xmla != nil {
		t.Fatalf("after ExpireAll the XMLA session objects are still held")
	}
	for _, d := range dialects {
		d.badSession(t, post(t, srv, d.path, d.env(d.use(ids[d.name]))))
		d.badSession(t, post(t, srv, d.path, d.env(d.end(ids[d.name]))))
	}
	dialects[3].badSession(t, post(t, srv, PathSQL, sqlEnv(c.header("", false), sqlBatch("COMMIT"))))
	if n := srv.ExpireAll(); n != 0 {
		t.Fatalf("a second ExpireAll = %d, want 0", n)
	}
}
