package cmd

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/soapsess/soapsess/internal/peers"
	"github.com/soapsess/soapsess/refserver"
)

func testIO(out, err *bytes.Buffer) *IO {
	return &IO{In: strings.NewReader(""), Out: out, Err: err}
}

func TestDemo(t *testing.T) {
	s := runDemo(t, &IO{In: strings.NewReader("")}, "demo")
	if strings.Contains(s, "\x1b[") {
		t.Errorf("on a pipe, the demo has ANSI escapes:\n%s", s)
	}
	if n := strings.Count(s, "\n"); n > 120 {
		t.Errorf("the demo is %d lines long; past 120, a newcomer stops reading", n)
	}
	steps := demoSteps(s)
	var id string
	for _, d := range demoDialectChecks {
		begin := demoStepOf(t, steps, "--session "+d.name+" begin ")
		send := demoStepOf(t, steps, "--session "+d.name+" send ")
		end := demoStepOf(t, steps, "--session "+d.name+" end")
		if !begin.has(begin.sent, d.begin) {
			t.Errorf("%s begin: its session header %s did not go over the wire: %q", d.name, d.begin, begin.sent)
		}
		id = beganID(t, begin, d.name)
		if !begin.has(begin.got, d.idAttr(id)) {
			t.Errorf("%s begin: the reply's session header, with %s, is not shown: %q", d.name, id, begin.got)
		}
		if !send.has(send.sent, d.idAttr(id)) {
			t.Errorf("%s send: the ID begin got, %s, is not in its session header: %q", d.name, id, send.sent)
		}
		if !send.has(send.got, d.reply) || !send.has(send.got, "    <") {
			t.Errorf("%s send: the reply is not shown indented, with %s: %q", d.name, d.reply, send.got)
		}
		if !end.has(end.sent, d.end) || !end.has(end.sent, d.idAttr(id)) {
			t.Errorf("%s end: %s with the ID %s did not go over the wire: %q", d.name, d.end, id, end.sent)
		}
		if !end.has(end.others, `session "`+d.name+`" ended`) {
			t.Errorf("%s end: no message that the session ended: %q", d.name, end.others)
		}
	}
	// After end, send sends nothing and exits 5. The demo shows the exit
	// status of a step that fails, and fails itself (runDemo) when a step
	// exits otherwise than it should: every other step exited 0.
	after := steps[len(steps)-1]
	if after.cmd != "--session sqlsoap send batch.xml" || len(after.sent) > 0 {
		t.Errorf("the last step is soapsess %s, sending %q; want a send after end, which sends nothing", after.cmd, after.sent)
	}
	if !after.has(after.others, `soapsess: error: session "sqlsoap" (ID `+id+`) ended`) || !after.has(after.others, "[exit status 5]") {
		t.Errorf("send after end: want the error and exit status 5, got %q", after.others)
	}
	if n := strings.Count(s, "[exit status "); n != 1 {
		t.Errorf("%d steps exited other than 0, want 1 (send after end)", n)
	}
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "soapsess: ") && !strings.HasPrefix(l, "soapsess: ") {
			t.Errorf("a message is glued to the end of a line: %q", l)
		}
	}

	// --color always: the same lines, in colour.
	colored := runDemo(t, &IO{In: strings.NewReader("")}, "demo", "--color", "always")
	if !strings.Contains(colored, palette(true).Header.On) {
		t.Errorf("with --color always, the session headers are not in colour:\n%s", colored)
	}
	plain, lines := strings.Split(ansiEscape.ReplaceAllString(colored, ""), "\n"), strings.Split(s, "\n")
	if len(plain) != len(lines) {
		t.Fatalf("with --color always, the demo has %d lines, %d without", len(plain), len(lines))
	}
	for i := range lines {
		if a, b := lines[i][:min(2, len(lines[i]))], plain[i][:min(2, len(plain[i]))]; a != b {
			t.Errorf("line %d starts %q with --color always, %q without", i+1, b, a)
		}
	}
}

// startServe runs soapsess serve with args on a free loopback port and
// returns its address, its log, and a stop that cancels it (Ctrl-C) and
// returns its exit code.
func startServe(t *testing.T, args ...string) (addr string, log *peers.Buffer, stop func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	log = &peers.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"soapsess", "serve", "--addr", addr}, args...), &IO{In: strings.NewReader(""), Out: log, Err: log})
	}()
	stopped := false
	stop = func() int {
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
	})
	// Wait, boundedly, for the line serve writes once it listens, rather
	// than for a fixed time. Reading it through the buffer's lock also
	// orders serve's start (urfave/cli shares its help flag between apps)
	// before the commands below, for the race detector.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if strings.Contains(log.String(), "reference server on ") {
			return addr, log, stop
		}
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("serve exited %d early:\n%s", code, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen on %s:\n%s", addr, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServe(t *testing.T) {
	addr, log, stop := startServe(t)
	state := t.TempDir() + "/state"
	for _, args := range [][]string{
		{"begin", "--url", "http://" + addr + "/xmla", "--dialect", "xmla"},
		{"end"},
	} {
		var out, errb bytes.Buffer
		full := append([]string{"soapsess", "--state-dir", state}, args...)
		if code := run(context.Background(), full, testIO(&out, &errb)); code != 0 {
			t.Fatalf("%v exited %d: %s", args, code, errb.String())
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exited %d after Ctrl-C", code)
	}
	s := log.String()
	if n := strings.Count(s, "POST /xmla 200"); n != 2 {
		t.Errorf("serve logged %d requests to /xmla, want one line per request (2):\n%s", n, s)
	}
	if !strings.Contains(s, "reference server stopped") {
		t.Errorf("serve did not say it stopped:\n%s", s)
	}
}

// --dsml-entries N: N users under cn=Users, of which an unpaged search
// returns the first 1,000 and sizeLimitExceeded.
func TestServeDSMLEntries(t *testing.T) {
	addr, _, _ := startServe(t, "--dsml-entries", "1200")
	const body = `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Body>` +
		`<batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core"><searchRequest dn="` + refserver.DSMLUsersDN + `" scope="singleLevel">` +
		`<filter><present name="objectClass"/></filter><attributes><attribute name="1.1"/></attributes></searchRequest></batchRequest></se:Body></se:Envelope>`
	resp, err := http.Post("http://"+addr+refserver.PathDSML, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := string(reply)
	if n := strings.Count(r, "<searchResultEntry "); n != 1000 {
		t.Errorf("unpaged search of 1200 users returned %d entries, want 1000", n)
	}
	if !strings.Contains(r, `dn="cn=User 01000,cn=Users,dc=example,dc=com"`) || strings.Contains(r, `dn="cn=User 01001,`) {
		t.Errorf("the unpaged reply is not the first 1000 users")
	}
	if !strings.Contains(r, `<resultCode code="4" descr="sizeLimitExceeded"/>`) {
		t.Errorf("the unpaged reply does not end in sizeLimitExceeded")
	}
}

func TestServeDSMLEntriesRange(t *testing.T) {
	for _, n := range []string{"-1", "1000001"} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"soapsess", "serve", "--addr", "127.0.0.1:0", "--dsml-entries", n}, testIO(&out, &errb))
		if code != ExitUsage || !strings.Contains(errb.String(), "--dsml-entries must be between 0 and 1000000") {
			t.Errorf("--dsml-entries %s: exit %d, stderr %q; want %d and the range", n, code, errb.String(), ExitUsage)
		}
	}
}

func TestServeFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--idle-timeout", "0"}, `--idle-timeout "0": want a positive duration`},
		{[]string{"--idle-timeout", "ten"}, `--idle-timeout "ten": want a positive duration`},
		{[]string{"--idle-timeout", "/dsml=-1s"}, `--idle-timeout "/dsml=-1s": want a positive duration`},
		{[]string{"--idle-timeout", "/ldap=1m"}, `--idle-timeout "/ldap=1m": no endpoint "/ldap"; use /dsml, /xmla or /xmla/virtuoso`},
		{[]string{"--idle-timeout", "/sql=1m"}, `--idle-timeout "/sql=1m": a /sql session keeps the timeout it asks for`},
		{[]string{"--idle-timeout", "30s", "--idle-timeout", "/xmla/=1m"}, `no endpoint "/xmla/"`},
		{[]string{"--latency", "-1s"}, "--latency must not be negative"},
		{[]string{"--sql-max-timeout", "0"}, "--sql-max-timeout must be positive"},
		{[]string{"--max-sessions", "0"}, "--max-sessions must be positive"},
		{[]string{"--max-connections", "-1"}, "--max-connections must be positive"},
		{[]string{"--body-timeout", "0s"}, "--body-timeout must be positive"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"soapsess", "serve", "--addr", "127.0.0.1:0"}, tc.args...), testIO(&out, &errb))
		if code != ExitUsage || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), ExitUsage, tc.want)
		}
	}
}

func TestIdleTimeoutsFlag(t *testing.T) {
	for _, tc := range []struct {
		values []string
		all    time.Duration
		per    map[string]time.Duration
	}{
		{nil, 10 * time.Minute, map[string]time.Duration{}},
		{[]string{"30s"}, 30 * time.Second, map[string]time.Duration{}},
		{[]string{"/dsml=2s", "30s"}, 30 * time.Second, map[string]time.Duration{"/dsml": 2 * time.Second}},
		{[]string{"/xmla=1m", "/xmla/virtuoso=1h", "/xmla=5m"}, 10 * time.Minute, map[string]time.Duration{"/xmla": 5 * time.Minute, "/xmla/virtuoso": time.Hour}},
	} {
		all, per, err := idleTimeouts(tc.values)
		if err != nil || all != tc.all || !maps.Equal(per, tc.per) {
			t.Errorf("idleTimeouts(%q) = %v, %v, %v; want %v, %v", tc.values, all, per, err, tc.all, tc.per)
		}
	}
}

// postSOAP posts body to url and returns the status and reply.
func postSOAP(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(reply)
}

var sessionIDAttr = regexp.MustCompile(`SessionI[Dd]="([^"]+)"`)

// beginOn begins a session on a DSML or XMLA endpoint and returns its ID.
func beginOn(t *testing.T, url, body string) string {
	t.Helper()
	status, reply := postSOAP(t, url, body)
	m := sessionIDAttr.FindStringSubmatch(reply)
	if status != http.StatusOK || m == nil {
		t.Fatalf("begin on %s: status %d, reply %s", url, status, reply)
	}
	return m[1]
}

const (
	serveDSMLBegin = `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header>` +
		`<ad:BeginSession xmlns:ad="urn:schema-microsoft-com:activedirectory:dsmlv2"/></se:Header>` +
		`<se:Body><batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core"/></se:Body></se:Envelope>`
	serveXMLABegin = `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header>` +
		`<BeginSession xmlns="urn:schemas-microsoft-com:xml-analysis"/></se:Header>` +
		`<se:Body><Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement/></Command></Execute></se:Body></se:Envelope>`
)

func serveDSMLUse(id string) string {
	return `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header>` +
		`<ad:Session xmlns:ad="urn:schema-microsoft-com:activedirectory:dsmlv2" ad:SessionID="` + id + `"/></se:Header>` +
		`<se:Body><batchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core"/></se:Body></se:Envelope>`
}

func serveXMLAUse(id string) string {
	return `<se:Envelope xmlns:se="http://schemas.xmlsoap.org/soap/envelope/"><se:Header>` +
		`<Session xmlns="urn:schemas-microsoft-com:xml-analysis" SessionId="` + id + `"/></se:Header>` +
		`<se:Body><Execute xmlns="urn:schemas-microsoft-com:xml-analysis"><Command><Statement/></Command></Execute></se:Body></se:Envelope>`
}

// --idle-timeout /dsml=1ms --idle-timeout 1h: a DSML session is gone after
// a millisecond, an XMLA session of the same age is not.
func TestServeIdleTimeoutPerEndpoint(t *testing.T) {
	addr, _, _ := startServe(t, "--idle-timeout", "/dsml=1ms", "--idle-timeout", "1h")
	base := "http://" + addr
	dsml := beginOn(t, base+refserver.PathDSML, serveDSMLBegin)
	xmla := beginOn(t, base+refserver.PathXMLA, serveXMLABegin)
	// Not waiting for luck: the DSML session's millisecond is certainly over
	// after this, the XMLA session's hour certainly not.
	time.Sleep(5 * time.Millisecond)
	if status, reply := postSOAP(t, base+refserver.PathDSML, serveDSMLUse(dsml)); status != http.StatusInternalServerError || !strings.Contains(reply, "Bad Session Request") {
		t.Errorf("DSML session after its 1ms idle timeout: status %d, reply %s; want Bad Session Request", status, reply)
	}
	if status, reply := postSOAP(t, base+refserver.PathXMLA, serveXMLAUse(xmla)); status != http.StatusOK {
		t.Errorf("XMLA session within its 1h idle timeout: status %d, reply %s", status, reply)
	}
}

// --latency holds a request in a session at least that long; a begin is
// not held (not asserted: a bound on how fast it is would be timing luck).
func TestServeLatency(t *testing.T) {
	const latency = 300 * time.Millisecond
	addr, log, _ := startServe(t, "--latency", latency.String())
	url := "http://" + addr + refserver.PathXMLA
	id := beginOn(t, url, serveXMLABegin)
	start := time.Now()
	if status, reply := postSOAP(t, url, serveXMLAUse(id)); status != http.StatusOK {
		t.Fatalf("use: status %d, reply %s", status, reply)
	}
	if took := time.Since(start); took < latency {
		t.Errorf("a request in a session took %v with --latency %v", took, latency)
	}
	if strings.Contains(log.String(), "overlap") {
		t.Errorf("one request at a time was logged as overlapping:\n%s", log.String())
	}
}

// Ctrl-C while waiting for a reply: exit 130, and the session is kept.
func TestInterruptKeepsTheSession(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var hold atomic.Bool // once begun, the send is never answered
	ref := refserver.New(refserver.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold.Load() {
			close(arrived)
			select { // never answer
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		ref.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	state := dir + "/state"
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"soapsess", "--state-dir", state, "begin", "--url", srv.URL + "/xmla", "--dialect", "xmla"}, testIO(&out, &errb))
	if code != 0 {
		t.Fatalf("begin exited %d: %s", code, errb.String())
	}
	hold.Store(true)
	body := dir + "/d.xml"
	if err := os.WriteFile(body, []byte(`<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"/>`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	errb.Reset()
	if code := run(ctx, []string{"soapsess", "--state-dir", state, "send", body}, testIO(&out, &errb)); code != ExitInterrupt {
		t.Fatalf("interrupted send exited %d, want %d: %s", code, ExitInterrupt, errb.String())
	}
	if !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("stderr: %s", errb.String())
	}
	errb.Reset()
	out.Reset()
	if code := run(context.Background(), []string{"soapsess", "--state-dir", state, "status", "--json"}, testIO(&out, &errb)); code != 0 || !strings.Contains(out.String(), `"requests": 1`) {
		t.Errorf("after the interrupt, status exited %d: %s%s", code, out.String(), errb.String())
	}
}

// --max-sessions 2: the third live session is refused with DSML's fault for
// a session request that cannot be processed, and logged as such.
func TestServeMaxSessions(t *testing.T) {
	addr, log, _ := startServe(t, "--max-sessions", "2")
	url := "http://" + addr + refserver.PathDSML
	beginOn(t, url, serveDSMLBegin)
	beginOn(t, url, serveDSMLBegin)
	status, reply := postSOAP(t, url, serveDSMLBegin)
	if status != http.StatusInternalServerError || !strings.Contains(reply, "<detail>Bad Session Request</detail>") {
		t.Errorf("a third begin with --max-sessions 2: status %d, reply %s; want the Bad Session Request fault", status, reply)
	}
	if !strings.Contains(log.String(), "fault=TooManySessions") {
		t.Errorf("the refused begin is not logged as TooManySessions:\n%s", log.String())
	}
}

// serveTrickle sends a POST's headers announcing a 1 KiB body, then a byte
// every 50 ms (at most 300) until the server answers; it returns the status
// (0 for none). sent is closed once the headers are out.
func serveTrickle(addr string, sent chan<- struct{}) (int, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		close(sent)
		return 0, err
	}
	defer c.Close()
	_, err = io.WriteString(c, "POST /xmla HTTP/1.1\r\nHost: serve\r\nContent-Type: text/xml\r\nContent-Length: 1024\r\n\r\n<")
	close(sent)
	if err != nil {
		return 0, err
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range 300 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// 50 connections trickling bodies at serve --max-connections 20
// --body-timeout 1s: each is cut with 408, serve says its connections are
// full, and a begin sent after all of them is answered within a few body
// timeouts. (Without the limits the trickling bodies held their connections
// 60-70 s, and 800 of them piled up.)
func TestServeTricklingConnections(t *testing.T) {
	const tricklers = 50
	addr, log, _ := startServe(t, "--max-connections", "20", "--body-timeout", "1s")
	var wg sync.WaitGroup
	statuses := make([]int, tricklers)
	errs := make([]error, tricklers)
	for i := range tricklers {
		sent := make(chan struct{})
		wg.Go(func() { statuses[i], errs[i] = serveTrickle(addr, sent) })
		<-sent
	}
	start := time.Now()
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Post("http://"+addr+refserver.PathXMLA, "text/xml; charset=utf-8", strings.NewReader(serveXMLABegin))
	if err != nil {
		t.Fatalf("a begin behind %d trickling connections: %v", tricklers, err)
	}
	resp.Body.Close()
	took := time.Since(start)
	wg.Wait()
	if resp.StatusCode != http.StatusOK || took > 12*time.Second {
		t.Errorf("a begin behind %d trickling connections: status %d after %v; want 200 within 12s", tricklers, resp.StatusCode, took)
	}
	cut := 0
	for i := range statuses {
		if statuses[i] == http.StatusRequestTimeout {
			cut++
		} else {
			t.Errorf("trickler %d: status %d (%v), want 408", i, statuses[i], errs[i])
		}
	}
	if n := strings.Count(log.String(), "POST /xmla 408"); n != cut {
		t.Errorf("%d tricklers were cut, %d logged as 408:\n%s", cut, n, log.String())
	}
	if want := "20 connections open (--max-connections)"; !strings.Contains(log.String(), want) {
		t.Errorf("serve did not warn %q:\n%s", want, log.String())
	}
}
