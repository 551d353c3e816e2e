package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/soapsess/soapsess/refserver"
)

// Issue 15's breaks that cmd answers for, each against a server built to
// cause it, on loopback.

const soapNS = "http://schemas.xmlsoap.org/soap/envelope/"

// hostile is an XMLA server: a begin gets the session ID id (XML-escaped
// as the server writes it), any other request what answer writes.
func hostile(t *testing.T, id string, answer func(w http.ResponseWriter, body []byte)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte("BeginSession")) {
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprintf(w, `<soap:Envelope xmlns:soap="%s"><soap:Header><Session xmlns="urn:schemas-microsoft-com:xml-analysis" SessionId="%s"/></soap:Header>`+
				`<soap:Body><DiscoverResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return/></DiscoverResponse></soap:Body></soap:Envelope>`, soapNS, id)
			return
		}
		answer(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/xmla"
}

// soapReply is a SOAP reply whose Body holds body.
func soapReply(body string) string {
	return `<soap:Envelope xmlns:soap="` + soapNS + `"><soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

func requests(t *testing.T, state string) int {
	t.Helper()
	var j struct{ Requests int }
	if err := json.Unmarshal([]byte(must(t, 0, state, "", "status", "--json")), &j); err != nil {
		t.Fatal(err)
	}
	return j.Requests
}

// Row 5: -v and --print E hide a password however the request writes it:
// one under 3 characters where it is a whole value, one with a tab
// written by hand as a decimal reference.
func TestTraceHidesPasswordInEveryForm(t *testing.T) {
	url := hostile(t, "S1", func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, soapReply("<ok/>"))
	})
	for _, tt := range []struct{ password, body, leak string }{
		{"ab", `<Statement>{{.Password}}</Statement><P v="{{.Password}}"/>`, "ab<"},
		{"ab", `<Statement>{{.Password}}</Statement><P v="{{.Password}}"/>`, `"ab"`},
		{"Zq7\tTOKEN", `<Statement>{{.Password}}</Statement>`, "TOKEN"},
		{"Zq7\tTOKEN", `<Statement>Zq7&#9;TOKEN</Statement>`, "TOKEN"},
		{"Zq7\nTOKEN", `<P v="Zq7&#xa;TOKEN"/>`, "TOKEN"},
	} {
		t.Setenv("SOAPSESS_PASSWORD", tt.password)
		state := filepath.Join(t.TempDir(), "state")
		must(t, 0, state, "", "begin", "--url", url, "--dialect", "xmla", "--user", "ann")
		body := `<Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command>` + tt.body + `</Command></Execute>`
		code, out, errs := soapsess(t, state, body, "-v", "send", "-t", "--print", "Eb", "-")
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", tt.body, code, errs)
		}
		if strings.Contains(out, tt.leak) || strings.Contains(errs, tt.leak) || !strings.Contains(errs, "[redacted]") {
			t.Errorf("password %q in %s shown:\nstdout: %s\nstderr: %s", tt.password, tt.body, out, errs)
		}
	}
}

// Row 6: the pager never sees a credential: the passwords soapsess reads,
// nor a proxy URL with a password in it (net/http reads either case).
func TestPagerSeesNoCredential(t *testing.T) {
	doc := filepath.Join("..", "testdata", "corpus", "dsml", "02-msdsml-beginsession.response.xml")
	t.Setenv("SOAPSESS_PASSWORD", "pw-1")
	t.Setenv("SOAPSESS_SERVE_PASSWORD", "pw-2")
	t.Setenv("HTTPS_PROXY", "http://ann:pw-3@127.0.0.1:9")
	t.Setenv("http_proxy", "http://ann:pw-4@127.0.0.1:9")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:9") // no credential: stays
	t.Setenv("PAGER", "cat >/dev/null; env")
	var out, errb bytes.Buffer
	io := &IO{In: strings.NewReader(""), Out: &out, Err: &errb, OutTTY: true, ColorMode: "never"}
	if code := run(context.Background(), []string{"soapsess", "fmt", doc}, io); code != 0 {
		t.Fatalf("exit %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "\nHTTP_PROXY=http://127.0.0.1:9\n") {
		t.Fatalf("the pager did not print its environment:\n%s", out.String())
	}
	for _, kv := range strings.Split(out.String(), "\n") {
		if strings.Contains(kv, "pw-") {
			t.Errorf("the pager was given %s", kv)
		}
	}
}

// Row 8: soapsess send | head -c 100. The request the server answered is
// counted, and the exit status is a shell's for a program SIGPIPE ended
// (git's), with nothing said.
func TestReaderGoneStillRecords(t *testing.T) {
	bin, err := exec.LookPath("soapsess") // the test binary, as testscript.Main installs it
	if err != nil {
		t.Skip("no soapsess on PATH:", err)
	}
	rows := strings.Repeat("<row><name>a reply much larger than a pipe holds</name></row>", 20000) // about 1.2 MB
	url := hostile(t, "S1", func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, soapReply(`<DiscoverResponse xmlns="urn:schemas-microsoft-com:xml-analysis"><return>`+rows+`</return></DiscoverResponse>`))
	})
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", url, "--dialect", "xmla")
	before := requests(t, state)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--state-dir", state, "send", "-")
	cmd.Stdin = strings.NewReader(xmlaDiscover)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	head := make([]byte, 100)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatalf("read the first 100 bytes: %v (%s)", err, errb.String())
	}
	r.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitPipe {
		t.Errorf("exit: %v (%s), want status %d", err, cmd.ProcessState, ExitPipe)
	}
	if errb.Len() > 0 {
		t.Errorf("stderr: %s", errb.String())
	}
	if got := requests(t, state); got != before+1 {
		t.Errorf("requests %d after the send, want %d", got, before+1)
	}
}

// Row 8, paging: the reader gone, --all-pages stops asking for pages (and
// abandons the search) rather than page through to nobody; same status.
func TestReaderGoneStopsPaging(t *testing.T) {
	bin, err := exec.LookPath("soapsess")
	if err != nil {
		t.Skip("no soapsess on PATH:", err)
	}
	srv := httptest.NewServer(refserver.New(refserver.Options{DSMLEntries: 5000}))
	t.Cleanup(srv.Close)
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", srv.URL+"/dsml", "--dialect", "dsml")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--state-dir", state, "send", "--all-pages", "--page-size", "50", "-")
	cmd.Stdin = strings.NewReader(`<searchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" dn="cn=Users,dc=example,dc=com" scope="singleLevel" derefAliases="neverDerefAliases">` +
		`<filter><present name="objectClass"/></filter><attributes><attribute name="cn"/></attributes></searchRequest>`)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := io.ReadFull(r, make([]byte, 100)); err != nil {
		t.Fatalf("read the first 100 bytes: %v (%s)", err, errb.String())
	}
	r.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != ExitPipe {
		t.Errorf("exit: %v (%s), want status %d", err, errb.String(), ExitPipe)
	}
	if got := requests(t, state); got >= 1+100 { // begin and 100 pages of 50
		t.Errorf("%d requests: paged on after the reader went", got)
	}
}

// Row 9: a session ID, a fault's text, a state file's field with control
// characters in them are shown escaped on stderr and in status and ls;
// status --json and the reply on stdout keep them as they are.
func TestControlCharactersEscaped(t *testing.T) {
	id := "a\nsoapsess: ok\u009b31mx"
	url := hostile(t, "a&#10;soapsess: ok&#x9b;31mx", func(w http.ResponseWriter, _ []byte) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, soapReply(`<soap:Fault><faultcode>soap:Server</faultcode><faultstring>boom&#x9b;31m&#13;&#10;soapsess: all is well</faultstring></soap:Fault>`))
	})
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", url, "--dialect", "xmla")
	spoofed := func(what, s string) {
		t.Helper()
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, "soapsess: ok") || strings.HasPrefix(line, "soapsess: all is well") || strings.ContainsAny(line, "\r\u009b\x1b") {
				t.Errorf("%s: a raw control character in %q", what, s)
			}
		}
	}

	out := must(t, 0, state, "", "status")
	spoofed("status", out)
	if !strings.Contains(out, `a\nsoapsess: ok\u009b31mx`) {
		t.Errorf("status shows the ID as %q", out)
	}
	var j struct {
		SessionID string `json:"session_id"`
	}
	if err := json.Unmarshal([]byte(must(t, 0, state, "", "status", "--json")), &j); err != nil || j.SessionID != id {
		t.Errorf("status --json: %q, %v; want the ID as it is", j.SessionID, err)
	}

	code, _, errs := soapsess(t, state, "", "begin", "--url", url, "--dialect", "xmla")
	spoofed("begin again", errs)
	if code != ExitSession || !strings.Contains(errs, `(ID a\nsoapsess: ok\u009b31mx on`) {
		t.Errorf("begin again: exit %d, %q", code, errs)
	}

	var outb, errb bytes.Buffer
	sys := &IO{In: strings.NewReader(xmlaDiscover), Out: &outb, Err: &errb, ErrTTY: true, ColorMode: "never"}
	code = run(context.Background(), []string{"soapsess", "--color", "never", "--state-dir", state, "send", "-"}, sys)
	spoofed("send", errb.String())
	if code != ExitFault || !strings.Contains(errb.String(), `boom\u009b31m`) || !strings.Contains(errb.String(), `session a\nsoapsess: ok\u009b31mx`) {
		t.Errorf("send: exit %d, %q", code, errb.String())
	}
	if !strings.Contains(outb.String(), "boom&#x9b;31m&#13;&#10;soapsess: all is well") { // stdout is data: as received
		t.Errorf("stdout: %q", outb.String())
	}

	// A hand-edited state file: ls shows what it holds, escaped.
	p := filepath.Join(state, "default.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.Replace(raw, []byte(`"dialect": "xmla"`), []byte(`"dialect": "xmla\u001b[2J\r"`), 1)
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out = must(t, 0, state, "", "ls")
	spoofed("ls", out)
	if !strings.Contains(out, `xmla\x1b[2J\r`) {
		t.Errorf("ls: %q", out)
	}
}

// Row 10: --max-time running out while the body comes names itself.
func TestMaxTimeDuringTheBodyNamed(t *testing.T) {
	url := hostile(t, "S1", func(w http.ResponseWriter, _ []byte) {
		reply := soapReply(strings.Repeat("<row/>", 20))
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
		for i := range len(reply) { // a byte every 100 ms
			if _, err := w.Write([]byte{reply[i]}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	})
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", url, "--dialect", "xmla")
	start := time.Now()
	code, _, errs := soapsess(t, state, xmlaDiscover, "send", "--max-time", "0.5", "-")
	if code != ExitTransport || !strings.Contains(errs, "no reply within --max-time (500ms)") || strings.Contains(errs, "closed network connection") {
		t.Errorf("exit %d: %s", code, errs)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s", d)
	}
}

// Row 11: a symbolic link in the place of a lock file is refused, and what
// it points to is not created.
func TestLockFileLinkRefused(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	url := hostile(t, "S1", nil)
	must(t, 0, state, "", "begin", "--url", url, "--dialect", "xmla")
	target := filepath.Join(t.TempDir(), "planted")
	lock := filepath.Join(state, ".default.lock")
	os.Remove(lock)
	if err := os.Symlink(target, lock); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	code, _, errs := soapsess(t, state, "", "status")
	if code != ExitError || !strings.Contains(errs, ".default.lock: a symbolic link where a lock file should be (not followed)") {
		t.Errorf("status: exit %d, %s", code, errs)
	}
	if _, err := os.Lstat(target); err == nil {
		t.Errorf("the link's target was created")
	}
}

// Row 8, the quiet commands (see catchFor), help and usage errors: they
// start no signal thread, and SIGPIPE is ignored instead, so a reader gone
// ends them with the same status, 141, not with the signal, and nothing
// said (but a usage error's own message).
func TestReaderGoneQuietCommands(t *testing.T) {
	bin, err := exec.LookPath("soapsess") // the test binary, as testscript.Main installs it
	if err != nil {
		t.Skip("no soapsess on PATH:", err)
	}
	srv := httptest.NewServer(refserver.New(refserver.Options{}))
	t.Cleanup(srv.Close)
	state := filepath.Join(t.TempDir(), "state")
	must(t, 0, state, "", "begin", "--url", srv.URL+"/xmla", "--dialect", "xmla")
	for _, args := range [][]string{{"status"}, {"ls"}, {"dialects"}, {"completion", "bash"},
		{"--version"}, {"send", "--help"}, {"help"}, {"status", "--generate-bash-completion"}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before the first write
		cmd := exec.Command(bin, append([]string{"--state-dir", state}, args...)...)
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = w, &errb
		err = cmd.Run()
		w.Close()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != ExitPipe {
			t.Errorf("%v: exit: %v (%s), want status %d", args, err, cmd.ProcessState, ExitPipe)
		}
		if errb.Len() > 0 {
			t.Errorf("%v: stderr: %s", args, errb.String())
		}
	}
}
