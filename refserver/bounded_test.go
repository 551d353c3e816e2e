package refserver

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// heapGrowth returns how much the live heap grew across fn, after a
// collection on both sides; keep is kept alive until then.
func heapGrowth(fn func() any) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	keep := fn()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// A /sql session's temp table grows by a count, not by a slice of values:
// 100,000 inserts (800 KB of int64 before) leave the heap where it was.
func TestSQLInsertsKeepNoRows(t *testing.T) {
	const inserts, perBatch = 100_000, 1_000
	stmts := make([]sqlStmt, perBatch)
	for i := range stmts {
		stmts[i] = sqlStmt{kind: stmtInsert, line: 1}
	}
	var st *sqlState
	grew := heapGrowth(func() any {
		st = &sqlState{}
		for range inserts / perBatch {
			st.exec(stmts)
		}
		return st
	})
	if st.count() != inserts {
		t.Fatalf("count = %d, want %d", st.count(), inserts)
	}
	if grew > 256<<10 {
		t.Errorf("%d inserts grew the heap by %d bytes, want it to stay flat", inserts, grew)
	}
}

// A paged-search cursor keeps a digest of its search, not the search: ten
// open searches with a 100 KB filter each keep a few hundred bytes.
func TestCursorKeepsADigest(t *testing.T) {
	srv, _ := newTestServer(Options{DSMLEntries: 50})
	id := dialects[0].beginSession(t, srv)
	big := strings.Repeat("x", 100_000)
	for i := range maxCursorsPerSession {
		s := search{base: DSMLUsersDN, scope: "singleLevel",
			filter: fmt.Sprintf(`<or><present name="objectClass"/><equalityMatch name="description"><value>%d%s</value></equalityMatch></or>`, i, big)}
		p := readPage(t, dsmlSend(t, srv, id, s.paged(1, nil).xml()))
		if !p.hasCookie || len(p.cookie) == 0 {
			t.Fatalf("search %d left no cursor: %+v", i, p)
		}
	}
	kept := 0
	for _, c := range srv.sessions.m[sessionKey{PathDSML, id}].cursors {
		kept += len(c.search)
	}
	if kept == 0 || kept > 64*maxCursorsPerSession {
		t.Errorf("%d cursors keep %d bytes of search keys, want at most %d", maxCursorsPerSession, kept, 64*maxCursorsPerSession)
	}
}

// CREATE SESSION SET and MEMBER keep at most maxSessionObjects objects and
// maxSessionNameBytes of names per session; one more gets the in-body error
// of a failed Execute and is not kept, while redefining an existing name
// still works.
func TestXMLASessionObjectsAreCapped(t *testing.T) {
	srv, _ := newTestServer(Options{})
	d := dialects[1]
	id := d.beginSession(t, srv)
	create := func(stmt string) string {
		t.Helper()
		body := `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement>` + xmlAttr(stmt) + `</Statement></Command></Execute>`
		rec := post(t, srv, PathXMLA, xmlaEnv(xmlaHdr("Session", "SessionId", id), body))
		ok(t, rec)
		return rec.Body.String()
	}
	for i := range maxSessionObjects {
		if r := create(fmt.Sprintf("CREATE SESSION SET [Sales].[S%d] AS {}", i)); strings.Contains(r, "<Error ") {
			t.Fatalf("set %d refused: %s", i, r)
		}
	}
	r := create("CREATE SESSION MEMBER [Sales].[Measures].[OneTooMany] AS 1")
	if !strings.Contains(r, `ErrorCode="2147500037"`) || !strings.Contains(r, "keeps at most 1000 session sets and members") {
		t.Errorf("object %d: want the in-body limit error, got %s", maxSessionObjects+1, r)
	}
	if r := create("CREATE SESSION SET [Sales].[S7] AS {[x]}"); strings.Contains(r, "<Error ") {
		t.Errorf("redefining an existing set was refused: %s", r)
	}
	st := srv.sessions.m[sessionKey{PathXMLA, id}].xmla
	if n := len(st.sets) + len(st.members); n != maxSessionObjects {
		t.Errorf("the session keeps %d objects, want %d", n, maxSessionObjects)
	}

	// Names, in a new session: one long name fits, a second does not.
	id = d.beginSession(t, srv)
	long := strings.Repeat("n", maxSessionNameBytes-100)
	if r := create("CREATE SESSION SET [Sales].[" + long + "] AS {}"); strings.Contains(r, "<Error ") {
		t.Fatalf("a %d-byte name was refused: %s", len(long), r)
	}
	if r := create("CREATE SESSION SET [Sales].[" + strings.Repeat("m", 200) + "] AS {}"); !strings.Contains(r, `ErrorCode="2147500037"`) {
		t.Errorf("names past %d bytes: want the in-body limit error, got %s", maxSessionNameBytes, r)
	}
}

// Adds stop at the directory's limits (maxStoredEntries entries,
// maxStoredBytes bytes; lowered here) with adminLimitExceeded; a delete makes
// room again.
func TestDirectoryAddsAreCapped(t *testing.T) {
	if maxStoredEntries != 10000 || maxStoredBytes != 16<<20 {
		t.Fatalf("limits %d entries, %d bytes; the comments say 10000 and 16 MiB", maxStoredEntries, maxStoredBytes)
	}
	srv, _ := newTestServer(Options{})
	d := srv.dir
	if d.maxEntries != maxStoredEntries || d.maxSize != maxStoredBytes {
		t.Fatalf("a new directory's limits are %d entries, %d bytes", d.maxEntries, d.maxSize)
	}
	d.maxEntries = 50
	add := func(dn string, attrs ...attribute) int {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.add(dn, attrs)
	}
	fixed := len(d.entries)
	for i := range d.maxEntries - fixed {
		if code := add(fmt.Sprintf("cn=E%d,dc=example,dc=com", i)); code != ldapSuccess {
			t.Fatalf("add %d: result %d", i, code)
		}
	}
	if code := add("cn=OneTooMany,dc=example,dc=com"); code != ldapAdminLimitExceeded {
		t.Fatalf("add past %d entries: result %d, want %d (adminLimitExceeded)", d.maxEntries, code, ldapAdminLimitExceeded)
	}
	// Through DSML: the addResponse says so.
	p := dsmlSend(t, srv, "", `<addRequest dn="cn=Over,dc=example,dc=com"><attr name="objectClass"><value>person</value></attr></addRequest>`)
	rc := p.one(t, dsmlCoreNS, "resultCode")
	if code, _ := rc.attr("", "code"); code != "11" {
		t.Errorf("DSML add past the limit: resultCode %s, want 11", code)
	}
	if descr, _ := rc.attr("", "descr"); descr != "adminLimitExceeded" {
		t.Errorf("DSML add past the limit: descr %q, want adminLimitExceeded", descr)
	}
	d.mu.Lock()
	if code := d.del("cn=E0,dc=example,dc=com"); code != ldapSuccess {
		t.Fatalf("del: %d", code)
	}
	d.mu.Unlock()
	if code := add("cn=AfterDelete,dc=example,dc=com"); code != ldapSuccess {
		t.Errorf("add after a delete: result %d, want success", code)
	}

	// Bytes: seventeen 1 MiB values do not fit in the default 16 MiB.
	srv, _ = newTestServer(Options{})
	d = srv.dir
	value := strings.Repeat("v", 1<<20)
	refused := -1
	for i := range 17 {
		if code := add(fmt.Sprintf("cn=B%d,dc=example,dc=com", i), attribute{name: "description", values: []string{value}}); code == ldapAdminLimitExceeded {
			refused = i
			break
		}
	}
	if refused != 15 {
		t.Errorf("1 MiB adds: refused from add %d on, want from the 16th (index 15: 16 MiB with the fixed entries)", refused)
	}
}
