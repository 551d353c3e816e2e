package cmd

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soapsess/soapsess/internal/peers"
)

// virtuosoExecute is an Execute of a SQL statement with what Virtuoso
// needs to run it: a SQL user (UserName, Password) and, in a session, the
// data source (DataSourceInfo).
func virtuosoExecute(stmt string) string {
	return `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement>` + stmt + `</Statement></Command>` +
		`<Properties><PropertyList><UserName>` + peers.VirtuosoUser + `</UserName><Password>` + peers.VirtuosoPassword + `</Password>` +
		`<DataSourceInfo>Local_Instance</DataSourceInfo></PropertyList></Properties></Execute>`
}

// virtuosoSessions asks Virtuoso itself, over XMLA outside any session,
// how many XMLA sessions with this ID it holds (table WS.WS.SESSION).
func virtuosoSessions(t *testing.T, xmlaURL, id string) int {
	t.Helper()
	if !regexp.MustCompile(`^[0-9a-f]+$`).MatchString(id) {
		t.Fatalf("session ID %q is not hex", id)
	}
	env := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		virtuosoExecute(`select count(*) as N from WS.WS.SESSION where S_ID = '`+id+`'`) + `</soap:Body></soap:Envelope>`
	req, err := http.NewRequest(http.MethodPost, xmlaURL, strings.NewReader(env))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"urn:schemas-microsoft-com:xml-analysis:Execute"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`<N>(\d+)</N>`).FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("counting sessions on Virtuoso: %s\n%s", resp.Status, body)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// The xmla dialect's defaults against OpenLink Virtuoso 7.2.5 (Debian
// virtuoso-opensource), started on loopback: begin and end without a body,
// a Discover and SQL in the session, a statement Virtuoso refuses,
// keepalive, and a begin whose fault opens a session.
func TestVirtuosoXMLA(t *testing.T) {
	v := peers.StartVirtuoso(t)
	state := filepath.Join(t.TempDir(), "state")
	start := time.Now()

	must(t, 0, state, "", "begin", "--url", v.XMLA, "--dialect", "xmla")
	st := must(t, 0, state, "", "status", "--json")
	m := regexp.MustCompile(`"session_id": "([0-9a-f]{32})"`).FindStringSubmatch(st)
	if m == nil {
		t.Fatalf("no Virtuoso session ID (32 hex digits) in status: %s", st)
	}
	id := m[1]
	raw, err := os.ReadFile(filepath.Join(state, "default.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"session_id_name": "SessionID"`) {
		t.Errorf("the state does not keep Virtuoso's spelling SessionID:\n%s", raw)
	}
	if n := virtuosoSessions(t, v.XMLA, id); n != 1 {
		t.Fatalf("Virtuoso holds %d sessions %s after the begin, want 1", n, id)
	}

	// A Discover in the session, sent with the spelling Virtuoso reads.
	out := must(t, 0, state, xmlaDiscover, "send", "--print", "Eb")
	if !strings.Contains(out, `SessionID="`+id+`"`) || strings.Contains(out, `SessionId=`) {
		t.Errorf("the in-session request does not carry SessionID=%q:\n%s", id, out)
	}
	if !strings.Contains(out, `<DataSourceInfo>DSN=Local_Instance</DataSourceInfo>`) {
		t.Errorf("DISCOVER_DATASOURCES in the session:\n%s", out)
	}

	// SQL in the session.
	out = must(t, 0, state, virtuosoExecute("select 1 as ONE"), "send")
	if !strings.Contains(out, "<ONE>1</ONE>") {
		t.Errorf("select 1 as ONE:\n%s", out)
	}
	// A statement Virtuoso refuses: a fault, summed up on stderr; the
	// session stays open.
	code, out, errs := soapsess(t, state, virtuosoExecute("select * from no_such_table"), "send")
	if code != ExitFault ||
		!strings.Contains(errs, "soapsess: error: SOAP 1.1 fault XMLAnalysisError.0x0006890e from XML for Analysis Provider: The XML for Analysis provider encountered an error [[42S02] SQ074") ||
		!strings.Contains(out, `ErrorCode="428302"`) {
		t.Errorf("a bad statement: exit %d, want %d\nstdout: %s\nstderr: %s", code, ExitFault, out, errs)
	}

	// keepalive's DISCOVER_PROPERTIES goes through: three idle seconds at
	// half-second intervals, then it stops with 0.
	before := requestsOf(t, state)
	must(t, 0, state, "", "keepalive", "--every", "0.5", "--for", "3")
	if after := requestsOf(t, state); after < before+2 {
		t.Errorf("keepalive sent %d requests in 3 s at 0.5 s idle, want at least 2", after-before)
	}

	must(t, 0, state, "", "end")
	if n := virtuosoSessions(t, v.XMLA, id); n != 0 {
		t.Errorf("Virtuoso still holds session %s after the end", id)
	}

	// A begin whose body is an Execute with an empty statement: Virtuoso
	// faults, yet opens the session its fault names; soapsess ends it.
	empty := `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement/></Command><Properties><PropertyList/></Properties></Execute>`
	code, out, errs = soapsess(t, state, empty, "begin", "--url", v.XMLA, "--dialect", "xmla", "-")
	orphan := regexp.MustCompile(`soapsess: warning: the server opened session ([0-9a-f]{32}) although the begin failed; it was ended again\n`).FindStringSubmatch(errs)
	if code != ExitFault || orphan == nil || !strings.Contains(errs, `HT042: Not valid user id ""`) {
		t.Fatalf("a begin on an empty Execute: exit %d, want %d\nstdout: %s\nstderr: %s", code, ExitFault, out, errs)
	}
	if n := virtuosoSessions(t, v.XMLA, orphan[1]); n != 0 {
		t.Errorf("Virtuoso still holds the orphan session %s", orphan[1])
	}
	must(t, ExitSession, state, "", "status")
	t.Logf("Virtuoso up in %s; the session's requests took %s", v.Startup.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// requestsOf is the number of requests status counts for the session.
func requestsOf(t *testing.T, state string) int {
	t.Helper()
	st := must(t, 0, state, "", "status", "--json")
	m := regexp.MustCompile(`"requests": (\d+)`).FindStringSubmatch(st)
	if m == nil {
		t.Fatalf("no request count in status: %s", st)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
