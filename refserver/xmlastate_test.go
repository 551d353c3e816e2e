package refserver

import (
	"strings"
	"testing"
	"time"
)

func xmlaExecute(stmt string) string {
	return `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement>` + stmt + `</Statement></Command><Properties/></Execute>`
}

func xmlaDiscover(rt string) string {
	return `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>` + rt + `</RequestType><Restrictions/><Properties/></Discover>`
}

const xmlaBeginWithProps = `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement/></Command><Properties><PropertyList>` +
	`<DataSourceInfo>Provider=MSOLAP;Data Source=local</DataSourceInfo><Catalog>Adventure Works</Catalog></PropertyList></Properties></Execute>`

// xmlaRows returns each rowset row as "COL=value,COL=value".
func xmlaRows(t *testing.T, doc *xdoc) []string {
	t.Helper()
	doc.one(t, xmlaNS, "DiscoverResponse")
	var out []string
	for _, r := range doc.all(xmlaRowsetNS, "row") {
		var cols []string
		for _, c := range r.children {
			cols = append(cols, c.name.Local+"="+c.text)
		}
		out = append(out, strings.Join(cols, ","))
	}
	return out
}

func wantRows(t *testing.T, doc *xdoc, want ...string) {
	t.Helper()
	if got := xmlaRows(t, doc); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows = %q, want %q", got, want)
	}
}

func TestXMLASessionSets(t *testing.T) {
	srv, clock := newTestServer(Options{IdleTimeout: time.Minute})
	doc := ok(t, post(t, srv, "/xmla", xmlaEnv(dialects[1].begin, xmlaBeginWithProps)))
	id := xmlaSessionID(t, doc, "SessionId")
	use := func(id, body string) *xdoc {
		t.Helper()
		return ok(t, post(t, srv, "/xmla", xmlaEnv(xmlaHdr("Session", "SessionId", id), body)))
	}

	for _, stmt := range []string{
		"CREATE SESSION SET [Adventure Works].[Top Customers] AS TopCount([Customer].[Customer].Members, 10)",
		"\n  create session set Sales.[Odd ]]Name] as {}",
		"CREATE SESSION MEMBER [Sales].[Measures].[Profit] AS [Measures].[Sales] - [Measures].[Cost]",
	} {
		doc = use(id, xmlaExecute(stmt))
		if root := doc.one(t, xmlaEmptyNS, "root"); len(root.children) != 0 {
			t.Fatalf("%q: root has %d children, want an empty result", stmt, len(root.children))
		}
	}
	sets := []string{
		"CATALOG_NAME=Adventure Works,CUBE_NAME=Adventure Works,SET_NAME=Top Customers,SCOPE=2",
		"CATALOG_NAME=Adventure Works,CUBE_NAME=Sales,SET_NAME=Odd ]Name,SCOPE=2",
	}
	wantRows(t, use(id, xmlaDiscover("MDSCHEMA_SETS")), sets...)
	wantRows(t, use(id, xmlaDiscover("DISCOVER_PROPERTIES")),
		"PropertyName=DataSourceInfo,PropertyDescription=The data source to connect to.,PropertyType=string,PropertyAccessType=ReadWrite,IsRequired=false,Value=Provider=MSOLAP;Data Source=local",
		"PropertyName=Catalog,PropertyDescription=The database (catalog) of the session.,PropertyType=string,PropertyAccessType=ReadWrite,IsRequired=false,Value=Adventure Works")

	// Another session, and requests outside any session, see none of them.
	other := xmlaSessionID(t, ok(t, post(t, srv, "/xmla", xmlaEnv(dialects[1].begin, xmlaEmptyExecute))), "SessionId")
	wantRows(t, use(other, xmlaDiscover("MDSCHEMA_SETS")))
	ok(t, post(t, srv, "/xmla", xmlaEnv("", xmlaExecute("CREATE SESSION SET [Sales].[X] AS {}"))))
	wantRows(t, ok(t, post(t, srv, "/xmla", xmlaEnv("", xmlaDiscover("MDSCHEMA_SETS")))))
	wantRows(t, use(other, xmlaDiscover("MDSCHEMA_SETS")))

	// Redefining replaces; the session's sets survive its idle time while used.
	use(id, xmlaExecute("CREATE SESSION SET [sales].[odd ]]name] AS {}"))
	sets[1] = "CATALOG_NAME=Adventure Works,CUBE_NAME=sales,SET_NAME=odd ]name,SCOPE=2"
	clock.Advance(50 * time.Second)
	wantRows(t, use(id, xmlaDiscover("MDSCHEMA_SETS")), sets...)

	// Expiry: the ID is unknown, its state gone.
	srv.sessions.mu.Lock()
	se := srv.sessions.m[sessionKey{PathXMLA, id}]
	srv.sessions.mu.Unlock()
	clock.Advance(time.Minute)
	xmlaBadSession(t, post(t, srv, "/xmla", xmlaEnv(xmlaHdr("Session", "SessionId", id), xmlaDiscover("MDSCHEMA_SETS"))))
	if se.xmla != nil {
		t.Fatalf("expired session still holds %+v", se.xmla)
	}
}

func TestXMLASessionSetsEnd(t *testing.T) {
	srv, _ := newTestServer(Options{})
	id := xmlaSessionID(t, ok(t, post(t, srv, "/xmla", xmlaEnv(dialects[1].begin, xmlaEmptyExecute))), "SessionId")
	ok(t, post(t, srv, "/xmla", xmlaEnv(xmlaHdr("Session", "SessionId", id), xmlaExecute("CREATE SESSION SET [C].[S] AS {}"))))
	// The end's own body still sees the session's sets.
	doc := ok(t, post(t, srv, "/xmla", xmlaEnv(xmlaHdr("EndSession", "SessionId", id), xmlaDiscover("MDSCHEMA_SETS"))))
	wantRows(t, doc, "CUBE_NAME=C,SET_NAME=S,SCOPE=2")
	xmlaBadSession(t, post(t, srv, "/xmla", xmlaEnv(xmlaHdr("Session", "SessionId", id), xmlaDiscover("MDSCHEMA_SETS"))))
}

func TestXMLAStatementsNotExecuted(t *testing.T) {
	srv, _ := newTestServer(Options{})
	id := xmlaSessionID(t, ok(t, post(t, srv, "/xmla", xmlaEnv(dialects[1].begin, xmlaEmptyExecute))), "SessionId")
	for _, stmt := range []string{
		"SELECT FROM [Sales]",
		"CREATE SET [Sales].[S] AS {}",                // not SESSION: kept as before
		"CREATE SESSION SET [S] AS {}",                // no cube
		"CREATE SESSION SET CURRENTCUBE.[S] AS {}",    // needs the session's cube
		"CREATE SESSION SET [Sales].[S]",              // no AS
		"CREATE SESSION MEMBER [Sales].[Profit] AS 1", // a member needs a dimension
		"CREATE SESSION SET [Sales].[S AS {}",         // unclosed bracket
		"CREATE SESSION SET [Sales].[S].[T] AS {}",    // three parts
	} {
		doc := ok(t, post(t, srv, "/xmla", xmlaEnv(xmlaHdr("Session", "SessionId", id), xmlaExecute(stmt))))
		if len(doc.all(xmlaExceptionNS, "Exception")) != 1 {
			t.Fatalf("%q: no in-body error", stmt)
		}
	}
	wantRows(t, ok(t, post(t, srv, "/xmla", xmlaEnv(xmlaHdr("Session", "SessionId", id), xmlaDiscover("MDSCHEMA_SETS")))))
	// Virtuoso speaks no MDX.
	vid := xmlaSessionID(t, ok(t, post(t, srv, "/xmla/virtuoso", xmlaEnv(dialects[2].begin, xmlaDiscoverDatasources))), "SessionID")
	doc := ok(t, post(t, srv, "/xmla/virtuoso", xmlaEnv(xmlaHdr("Session", "SessionID", vid), xmlaExecute("CREATE SESSION SET [C].[S] AS {}"))))
	if len(doc.all(xmlaExceptionNS, "Exception")) != 1 {
		t.Fatalf("Virtuoso executed CREATE SESSION SET")
	}
}
