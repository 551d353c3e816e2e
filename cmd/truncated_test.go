package cmd

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/soapsess/soapsess/refserver"
)

// cutServer is the reference server, except that while cut is set it
// sends the reply's head, then only part of its body, and closes the
// connection: a server or proxy that died mid-reply.
type cutServer struct {
	ref  http.Handler
	cut  atomic.Pointer[cutAt]
	sent atomic.Int64 // body bytes sent before the last cut
}

// cutAt says how a reply is cut: after the first Head bytes of the HTTP
// head, or after At(body) bytes of the body, gzipped first with Gzip. The
// body is framed with its whole Content-Length, or (Framing) "close" as
// HTTP/1.0 does, ending where the connection closes, "close/1.1" the same
// with Connection: close, "chunked" in chunks without the last one. With
// Whole the cut body is all the server means to send, framed as such.
type cutAt struct {
	Head    int
	At      func(body []byte) int
	Gzip    bool
	Framing string
	Whole   bool
}

func (s *cutServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := s.cut.Load()
	if c == nil {
		s.ref.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.ref.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	enc := ""
	if c.Gzip {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(body)
		zw.Close()
		body, enc = z.Bytes(), "Content-Encoding: gzip\r\n"
	}
	n := 0
	if c.At != nil {
		n = c.At(body)
	}
	length := len(body)
	if c.Whole {
		length = n
	}
	proto, framing := "HTTP/1.1", fmt.Sprintf("Content-Length: %d\r\n", length)
	switch c.Framing {
	case "close":
		proto, framing = "HTTP/1.0", ""
	case "close/1.1":
		framing = "Connection: close\r\n"
	case "chunked":
		framing = "Transfer-Encoding: chunked\r\n"
	}
	head := fmt.Sprintf("%s %d %s\r\nContent-Type: %s\r\n%s%s\r\n",
		proto, rec.Code, http.StatusText(rec.Code), rec.Header().Get("Content-Type"), enc, framing)
	conn, bw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	if c.Head > 0 {
		bw.WriteString(head[:c.Head])
		bw.Flush()
		return
	}
	bw.WriteString(head)
	if c.Framing == "chunked" {
		fmt.Fprintf(bw, "%x\r\n%s\r\n", n, body[:n])
		if c.Whole {
			bw.WriteString("0\r\n\r\n")
		}
	} else {
		bw.Write(body[:n])
	}
	bw.Flush()
	s.sent.Store(int64(n))
}

// after is a cut n bytes into the first occurrence of s.
func after(s string, n int) func([]byte) int {
	return func(b []byte) int {
		i := bytes.Index(b, []byte(s))
		if i < 0 {
			panic("no " + s + " in the reply")
		}
		return i + n
	}
}

// short is a cut n bytes before the end.
func short(n int) func([]byte) int { return func(b []byte) int { return len(b) - n } }

const cutDiscover = `<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType><Restrictions/><Properties/></Discover>`

// A reply cut short, wherever the cut falls and however the reply is
// framed, is a transport failure (exit 4, as scripts that retry expect)
// that says how far it got, and the request is not counted as answered.
func TestTruncatedReply(t *testing.T) {
	srv := &cutServer{ref: refserver.New(refserver.Options{})}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := filepath.Join(t.TempDir(), "state")
	must(t, 0, dir, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	const closed = "the connection closed %d bytes into the reply"
	tests := []struct {
		name string
		cut  cutAt
		want string // on stderr, with the body bytes sent
	}{
		{"inside a tag", cutAt{At: after("<DataSourceName>", 5)}, closed},
		{"inside text", cutAt{At: after("soapsess</DataSourceName>", 4)}, closed},
		{"inside the SOAP header", cutAt{At: after(`SessionId="`, 4)}, closed},
		{"inside the XML declaration", cutAt{At: after(`<?xml`, 3)}, closed},
		{"60 bytes early", cutAt{At: short(60)}, closed},
		{"inside a gzip stream", cutAt{At: short(60), Gzip: true}, "the connection closed [0-9]+ bytes into the reply \\(counted decompressed\\)"},
		{"inside the HTTP head", cutAt{Head: 30}, "POST .*: "},
		{"chunked, inside a tag", cutAt{At: after("<DataSourceName>", 5), Framing: "chunked"}, closed},
		{"HTTP/1.0 without a length, inside a tag", cutAt{At: after("<DataSourceName>", 5), Framing: "close"}, closed},
		{"HTTP/1.0 without a length, inside text", cutAt{At: after("soapsess</DataSourceName>", 4), Framing: "close"}, closed},
		{"HTTP/1.0 without a length, 60 bytes early", cutAt{At: short(60), Framing: "close"}, closed},
		{"Connection: close without a length, inside a tag", cutAt{At: after("<DataSourceName>", 5), Framing: "close/1.1"}, closed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := requestsOf(t, dir)
			srv.cut.Store(&tt.cut)
			code, out, errs := soapsess(t, dir, cutDiscover, "send", "-")
			srv.cut.Store(nil)
			if code != ExitTransport {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, ExitTransport, out, errs)
			}
			want := tt.want
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, srv.sent.Load())
			}
			if !regexp.MustCompile(want).MatchString(errs) {
				t.Errorf("stderr does not say %q:\n%s", want, errs)
			}
			if n := requestsOf(t, dir); n != before {
				t.Errorf("%d requests counted after the cut reply, %d before: a cut reply is not an answer", n, before)
			}
		})
	}
	must(t, 0, dir, cutDiscover, "send", "-") // the session still works
	must(t, 0, dir, "", "end")
}

// A reply whose framing says it is whole (its Content-Length, its last
// chunk) but whose document is not is the server's malformed reply, not a
// cut: exit 6, as before, and counted.
func TestIncompleteButWholeReplyIsMalformed(t *testing.T) {
	srv := &cutServer{ref: refserver.New(refserver.Options{})}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := filepath.Join(t.TempDir(), "state")
	must(t, 0, dir, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	for _, framing := range []string{"", "chunked"} {
		before := requestsOf(t, dir)
		srv.cut.Store(&cutAt{At: after("<DataSourceName>", 5), Framing: framing, Whole: true})
		code, out, errs := soapsess(t, dir, cutDiscover, "send", "-")
		srv.cut.Store(nil)
		if code != ExitReply || !strings.Contains(errs, "not well-formed XML: line 1: the document ends inside a tag") {
			t.Errorf("framing %q: exit %d, want %d\nstdout: %s\nstderr: %s", framing, code, ExitReply, out, errs)
		}
		if n := requestsOf(t, dir); n != before+1 {
			t.Errorf("framing %q: %d requests counted, %d before: the server answered", framing, n, before)
		}
	}
}

// A begin whose reply is cut opens no session; an end whose reply is cut
// keeps it, to end it again.
func TestTruncatedBeginAndEnd(t *testing.T) {
	srv := &cutServer{ref: refserver.New(refserver.Options{})}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := filepath.Join(t.TempDir(), "state")
	srv.cut.Store(&cutAt{At: short(60)})
	code, _, errs := soapsess(t, dir, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	srv.cut.Store(nil)
	if code != ExitTransport || !strings.Contains(errs, fmt.Sprintf("the connection closed %d bytes into the reply", srv.sent.Load())) {
		t.Errorf("begin: exit %d, want %d\n%s", code, ExitTransport, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "default.json")); err == nil {
		t.Errorf("a begin whose reply was cut kept a session")
	}
	must(t, 0, dir, "", "begin", "--url", ts.URL+"/xmla", "--dialect", "xmla")
	srv.cut.Store(&cutAt{At: short(60), Gzip: true})
	code, _, errs = soapsess(t, dir, "", "end")
	srv.cut.Store(nil)
	if code != ExitTransport || !strings.Contains(errs, "the connection closed") || !strings.Contains(errs, `session "default" is kept`) {
		t.Errorf("end: exit %d, want %d\n%s", code, ExitTransport, errs)
	}
	must(t, 0, dir, "", "end")
}
