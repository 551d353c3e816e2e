package cmd

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/soapsess/soapsess/refserver"
)

// recorder is a loopback listener that keeps every byte each connection
// reads and writes: what went over the wire, as the server saw it.
type recorder struct {
	net.Listener
	mu      sync.Mutex
	in, out bytes.Buffer
}

func (r *recorder) Accept() (net.Conn, error) {
	c, err := r.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordedConn{Conn: c, r: r}, nil
}

type recordedConn struct {
	net.Conn
	r *recorder
}

func (c *recordedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.mu.Lock()
	c.r.in.Write(p[:n])
	c.r.mu.Unlock()
	return n, err
}

func (c *recordedConn) Write(p []byte) (int, error) {
	c.r.mu.Lock()
	c.r.out.Write(p)
	c.r.mu.Unlock()
	return c.Conn.Write(p)
}

// take returns what was read and written since the last take.
func (r *recorder) take() (in, out []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in, out = bytes.Clone(r.in.Bytes()), bytes.Clone(r.out.Bytes())
	r.in.Reset()
	r.out.Reset()
	return in, out
}

// httpMessage is a request or reply head: its first line and its header
// fields, names in lower case, in order; and the body that followed it.
type httpMessage struct {
	line   string
	fields []string // "name: value"
	body   string
}

// wireMessages splits raw HTTP/1.1 traffic into messages.
func wireMessages(t *testing.T, raw []byte) []httpMessage {
	t.Helper()
	var out []httpMessage
	br := bufio.NewReader(bytes.NewReader(raw))
	for {
		tp := textproto.NewReader(br)
		line, err := tp.ReadLine()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("wire: %v", err)
		}
		m := httpMessage{line: line}
		n := 0
		for {
			l, err := tp.ReadLine()
			if err != nil {
				t.Fatalf("wire: %v", err)
			}
			if l == "" {
				break
			}
			name, value, _ := strings.Cut(l, ":")
			m.fields = append(m.fields, strings.ToLower(name)+": "+strings.TrimSpace(value))
			if strings.EqualFold(name, "Content-Length") {
				n, _ = strconv.Atoi(strings.TrimSpace(value))
			}
			if strings.EqualFold(name, "Transfer-Encoding") {
				t.Fatalf("wire: chunked messages are not expected here")
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatalf("wire body: %v", err)
		}
		m.body = string(body)
		out = append(out, m)
	}
}

// traced splits a -v trace (or --print H output, prefix "") into the
// messages whose first line starts with start ("POST", "HTTP/").
func traced(trace, prefix, start string) []httpMessage {
	var out []httpMessage
	var cur *httpMessage
	for _, l := range strings.Split(trace, "\n") {
		if !strings.HasPrefix(l, prefix) || cur == nil && !strings.HasPrefix(l[len(prefix):], start) {
			cur = nil
			continue
		}
		l = l[len(prefix):]
		switch {
		case cur == nil:
			out = append(out, httpMessage{line: l})
			cur = &out[len(out)-1]
		case strings.TrimSpace(l) == "":
			cur = nil
		default:
			name, value, _ := strings.Cut(l, ":")
			cur.fields = append(cur.fields, strings.ToLower(name)+": "+strings.TrimSpace(value))
		}
	}
	return out
}

// secretHeaders are the headers of these exchanges whose values may be
// shown redacted: credentials, and a challenge's token.
var secretHeaders = map[string]bool{"authorization": true, "www-authenticate": true}

// sameHead checks that a shown head is the wire's: the same first line and
// the same header fields, each secret's value redacted and nothing else.
func sameHead(t *testing.T, what string, shown, wire httpMessage) {
	t.Helper()
	if shown.line != wire.line {
		t.Errorf("%s: shows %q, the wire has %q", what, shown.line, wire.line)
	}
	got, want := append([]string{}, shown.fields...), append([]string{}, wire.fields...)
	sort.Strings(got)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Errorf("%s: shows headers\n  %q\nthe wire has\n  %q", what, got, want)
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g == w {
			continue
		}
		name, value, _ := strings.Cut(w, ": ")
		scheme, _, _ := strings.Cut(value, " ")
		if !secretHeaders[name] || !(g == name+": [redacted]" || g == name+": "+scheme+" [redacted]") {
			t.Errorf("%s: shows %q, the wire has %q", what, g, w)
		}
	}
}

// What -v shows is what goes over the wire, for each auth method: every
// request (each round of an NTLM handshake) and every reply, line for
// line; --print H shows the same request heads and --dry-run the first.
func TestTraceIsTheWire(t *testing.T) {
	for _, tt := range []struct {
		name   string
		args   []string
		server func(http.Handler) http.Handler
		rounds int // requests per call
	}{
		{"none", nil, func(h http.Handler) http.Handler { return h }, 1},
		{"basic", []string{"--user", "ann"}, nil, 1},
		{"ntlm", []string{"--user", `CORP\ann`, "--auth", "ntlm"}, nil, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var h http.Handler
			switch tt.name {
			case "none":
				h = refserver.New(refserver.Options{})
			case "basic":
				h = refserver.New(refserver.Options{Password: "pw-Wire1"})
			case "ntlm":
				h = &ntlmServer{t: t, password: "pw-Wire1", challenge: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, next: refserver.New(refserver.Options{})}
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{Listener: ln}
			srv := &http.Server{Handler: h}
			go srv.Serve(rec)
			defer srv.Close()
			t.Setenv("SOAPSESS_PASSWORD", "pw-Wire1")
			url := "http://" + ln.Addr().String() + "/xmla"
			state := filepath.Join(t.TempDir(), "state")

			check := func(call string, trace string) {
				t.Helper()
				in, out := rec.take()
				reqs, replies := wireMessages(t, in), wireMessages(t, out)
				shownReqs, shownReplies := traced(trace, "> ", "POST"), traced(trace, "< ", "HTTP/")
				if len(reqs) != tt.rounds || len(shownReqs) != len(reqs) || len(shownReplies) != len(replies) {
					t.Fatalf("%s: %d requests and %d replies on the wire, %d and %d shown, want %d each:\n%s",
						call, len(reqs), len(replies), len(shownReqs), len(shownReplies), tt.rounds, trace)
				}
				for i := range reqs {
					sameHead(t, call+" request "+strconv.Itoa(i+1), shownReqs[i], reqs[i])
					sameHead(t, call+" reply "+strconv.Itoa(i+1), shownReplies[i], replies[i])
					if !strings.Contains(trace, reqs[i].body) {
						t.Errorf("%s: the trace lacks the envelope sent:\n%s", call, reqs[i].body)
					}
				}
				if tt.name != "none" && !strings.Contains(trace, "authorization: ") && !strings.Contains(trace, "Authorization: ") {
					t.Errorf("%s: no Authorization shown:\n%s", call, trace)
				}
				if strings.Contains(trace, "pw-Wire1") {
					t.Errorf("%s: the trace shows the password", call)
				}
			}

			_, errs, _ := mustAll(t, 0, state, "", append([]string{"-v", "begin", "--url", url, "--dialect", "xmla"}, tt.args...)...)
			check("begin", errs)

			// send: -v and --print H show the same requests as the wire;
			// --dry-run shows the first of them, and sends nothing.
			dry, _, _ := mustAll(t, 0, state, xmlaDiscover, "send", "--dry-run")
			if in, _ := rec.take(); len(in) != 0 {
				t.Fatalf("--dry-run sent %q", in)
			}
			out, errs, _ := mustAll(t, 0, state, xmlaDiscover, "-v", "send", "--print", "H")
			check("send", errs)
			printed := traced(out, "", "POST")
			shown := traced(errs, "> ", "POST")
			if len(printed) != len(shown) {
				t.Fatalf("--print H shows %d requests, -v %d:\n%s", len(printed), len(shown), out)
			}
			for i := range shown {
				sameHead(t, "--print H", printed[i], shown[i])
			}
			preview := traced(dry, "", "POST")
			if len(preview) != 1 {
				t.Fatalf("--dry-run shows %d requests:\n%s", len(preview), dry)
			}
			sameHead(t, "--dry-run", preview[0], shown[0])
			if !strings.Contains(dry, strings.TrimSpace(xmlaDiscover[:40])) {
				t.Errorf("--dry-run lacks the body:\n%s", dry)
			}
			mustAll(t, 0, state, "", "end")
			rec.take()
		})
	}
}

// mustAll runs a command that must exit with want; it returns stdout,
// stderr and the exit code.
func mustAll(t *testing.T, want int, state, stdin string, args ...string) (string, string, int) {
	t.Helper()
	code, out, errs := soapsess(t, state, stdin, args...)
	if code != want {
		t.Fatalf("soapsess %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errs)
	}
	return out, errs, code
}
