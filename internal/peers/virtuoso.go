package peers

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// VirtuosoServer is a running OpenLink Virtuoso (Debian package
// virtuoso-opensource) with a fresh database of its own.
type VirtuosoServer struct {
	*Process
	// XMLA is its XML for Analysis service, http://127.0.0.1:PORT/XMLA:
	// there out of the box, running SQL as the users named in a request's
	// UserName and Password properties.
	XMLA string
	// SQLPort is where its SQL server listens on 127.0.0.1 (isql-vt).
	SQLPort int
	// Startup is from start to /XMLA answering.
	Startup time.Duration
}

// VirtuosoUser and VirtuosoPassword are the SQL user a fresh Virtuoso
// database has: dba, password dba. (The Debian package's debconf DBA
// password only sets the system database's, never a new one's.)
const (
	VirtuosoUser     = "dba"
	VirtuosoPassword = "dba"
)

// virtuosoINIs are where Debian's virtuoso-opensource-7 puts the packaged
// configuration (dpkg -L virtuoso-opensource-7).
var virtuosoINIs = []string{
	"/usr/share/virtuoso-opensource-7/virtuoso.ini",
	"/etc/virtuoso-opensource-7/virtuoso.ini",
}

// Virtuoso starts virtuoso-t in the foreground from a private directory and
// returns its XMLA URL; it is stopped by PID when the test ends. It skips
// the test when Virtuoso is not installed (fails it under
// SOAPSESS_REQUIRE_PEERS). A fresh database is up in 3–6 s.
func Virtuoso(t testing.TB) (xmlaURL string) {
	t.Helper()
	return StartVirtuoso(t).XMLA
}

// StartVirtuoso is Virtuoso with the server's details.
func StartVirtuoso(t testing.TB) *VirtuosoServer {
	t.Helper()
	bin := Require(t, "virtuoso-opensource", "virtuoso-t")[0]
	var ini []byte
	for _, p := range virtuosoINIs {
		if b, err := os.ReadFile(p); err == nil {
			ini = b
			break
		}
	}
	if ini == nil {
		Missing(t, "Virtuoso's packaged virtuoso.ini is in none of "+strings.Join(virtuosoINIs, ", ")+" (Debian package virtuoso-opensource-7)")
	}
	dir := Dir(t)
	httpPort, sqlPort := Port(t), Port(t)
	for sqlPort == httpPort {
		sqlPort = Port(t)
	}
	Write(t, filepath.Join(dir, "virtuoso.ini"), virtuosoINI(string(ini), dir, httpPort, sqlPort))
	if err := os.MkdirAll(filepath.Join(dir, "vsp"), 0o755); err != nil {
		t.Fatal(err)
	}

	v := &VirtuosoServer{
		XMLA:    fmt.Sprintf("http://127.0.0.1:%d/XMLA", httpPort),
		SQLPort: sqlPort,
	}
	begun := time.Now()
	cmd := exec.Command(bin, "+foreground", "+configfile", filepath.Join(dir, "virtuoso.ini"))
	cmd.Dir = dir
	v.Process = Start(t, "virtuoso-t", cmd)
	addr := fmt.Sprintf("127.0.0.1:%d", httpPort)
	v.WaitTCP(t, addr, time.Minute)
	v.waitXMLA(t, begun.Add(time.Minute))
	v.Startup = time.Since(begun)
	t.Logf("virtuoso-t (pid %d) answers at %s after %s", cmd.Process.Pid, v.XMLA, v.Startup.Round(time.Millisecond))
	return v
}

// waitXMLA waits until /XMLA answers a Discover with HTTP 200: the HTTP
// port opens before the database has finished its first checkpoints.
func (v *VirtuosoServer) waitXMLA(t testing.TB, deadline time.Time) {
	t.Helper()
	const discover = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
		`<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType>` +
		`<Restrictions><RestrictionList/></Restrictions><Properties><PropertyList/></Properties></Discover></soap:Body></soap:Envelope>`
	client := &http.Client{Timeout: 5 * time.Second}
	last := "no answer"
	for {
		req, err := http.NewRequest(http.MethodPost, v.XMLA, strings.NewReader(discover))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", `"urn:schemas-microsoft-com:xml-analysis:Discover"`)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if v.Exited() || time.Now().After(deadline) {
			t.Fatalf("virtuoso-t: %s did not answer a Discover (last: %s):\n%s", v.XMLA, last, v.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// virtuosoINI rewrites the packaged virtuoso.ini for a private server: the
// database, its logs and the web root in dir, the SQL and HTTP servers on
// 127.0.0.1 ports, no hosting plugins, and no VAD directory (nothing to
// install at start).
func virtuosoINI(ini, dir string, httpPort, sqlPort int) string {
	var out strings.Builder
	section := ""
	key := regexp.MustCompile(`^\s*([A-Za-z0-9_]+)\s*=`)
	sc := bufio.NewScanner(strings.NewReader(ini))
	for sc.Scan() {
		line := sc.Text()
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			section = s[1 : len(s)-1]
			out.WriteString(line + "\n")
			continue
		}
		m := key.FindStringSubmatch(line)
		if m == nil {
			out.WriteString(line + "\n")
			continue
		}
		set := func(v string) { line = m[1] + " = " + v }
		switch k := m[1]; {
		case (section == "Database" || section == "TempDatabase") &&
			(k == "DatabaseFile" || k == "ErrorLogFile" || k == "LockFile" || k == "TransactionFile" || k == "xa_persistent_file"):
			set(filepath.Join(dir, filepath.Base(strings.TrimSpace(strings.SplitN(line, "=", 2)[1]))))
		case section == "Parameters" && k == "ServerPort":
			set(fmt.Sprintf("127.0.0.1:%d", sqlPort))
		case section == "Parameters" && k == "DirsAllowed":
			set(".")
		case section == "Parameters" && k == "VADInstallDir":
			continue
		case section == "HTTPServer" && k == "ServerPort":
			set(fmt.Sprintf("127.0.0.1:%d", httpPort))
		case section == "HTTPServer" && k == "ServerRoot":
			set(filepath.Join(dir, "vsp"))
		case section == "URIQA" && k == "DefaultHost":
			set(fmt.Sprintf("127.0.0.1:%d", httpPort))
		case section == "Plugins" && strings.HasPrefix(k, "Load"):
			continue
		}
		out.WriteString(line + "\n")
	}
	return out.String()
}
