package transport

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	return req
}

func client(t *testing.T, opt Options) *Client {
	t.Helper()
	c, err := New(opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPostsSOAP11AndReadsGzip(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			http.Error(w, "gzip please", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusInternalServerError) // faults come with 500
		zw := gzip.NewWriter(w)
		io.WriteString(zw, "<reply/>")
		zw.Close()
	}))
	defer srv.Close()

	req := post(t, srv.URL+"/xmla", "<e/>")
	req.Header.Set("SOAPAction", `"urn:x:Execute"`)
	resp, err := client(t, Options{User: `CORP\ann`, Password: "pw"}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.Status != 500 || string(body) != "<reply/>" {
		t.Errorf("reply %d %q %v; want 500 and the gunzipped body", resp.Status, body, err)
	}
	if got.Method != "POST" || got.Header.Get("Content-Type") != "text/xml; charset=utf-8" ||
		got.Header.Get("SOAPAction") != `"urn:x:Execute"` || gotBody != "<e/>" {
		t.Errorf("request: %s %v %q", got.Method, got.Header, gotBody)
	}
	if u, p, ok := got.BasicAuth(); !ok || u != `CORP\ann` || p != "pw" {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
}

func TestRefusedIsNotReached(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = client(t, Options{}).Do(post(t, "http://"+addr+"/", ""))
	var te *Error
	if !errors.As(err, &te) || te.Reached {
		t.Errorf("refused connection: %v (reached=%v); want an Error that did not reach the server", err, te != nil && te.Reached)
	}
}

func TestBodyCutOffIsATransportError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, "<Envelope>") // and then the connection goes away
	}))
	defer srv.Close()
	resp, err := client(t, Options{}).Do(post(t, srv.URL, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	var te *Error
	if !errors.As(err, &te) || !te.Reached {
		t.Errorf("a body cut off: %v; want a transport Error", err)
	}
}

func TestCutOffReplyWasReached(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // the request arrived; the answer never comes
	}))
	defer srv.Close()
	_, err := client(t, Options{}).Do(post(t, srv.URL, ""))
	var te *Error
	if !errors.As(err, &te) || !te.Reached {
		t.Errorf("cut-off reply: %v; want an Error that may have reached the server", err)
	}
}

func TestRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"ftp://h/x", "h/x", "http://user:secret@h/x", "http://"} {
		req, err := http.NewRequest(http.MethodPost, u, nil)
		if err == nil {
			_, err = client(t, Options{}).Do(req)
		}
		if err == nil {
			t.Errorf("%s accepted", u)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the password: %v", u, err)
		}
	}
}

func TestTraceRedactsAuthorization(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<ok/>")
	}))
	defer srv.Close()
	var trace strings.Builder
	c := client(t, Options{User: "ann", Password: "hunter2"})
	c.Trace = &Trace{
		Request:   func(head string, body []byte) { trace.WriteString(head + "\n" + string(body) + "\n") },
		Response:  func(head string) { trace.WriteString(head) },
		ReplyBody: &trace,
	}
	resp, err := c.Do(post(t, srv.URL+"/x", "<e><password>hunter2</password></e>"))
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	s := trace.String()
	if strings.Contains(s, "hunter2") || strings.Contains(s, "YW5uOmh1bnRlcjI=") { // base64 of ann:hunter2
		t.Errorf("trace shows the password:\n%s", s)
	}
	for _, want := range []string{"POST /x HTTP/1.1\n", "Host: " + strings.TrimPrefix(srv.URL, "http://") + "\n",
		"Authorization: Basic [redacted]\n", "<e><password>[redacted]</password></e>", "HTTP/1.1 200 OK\n", "<ok/>"} {
		if !strings.Contains(s, want) {
			t.Errorf("trace lacks %q:\n%s", want, s)
		}
	}
}

func gzipBytes(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.Bytes()
}

// A gzip reply is decoded for the caller and for the trace alike, whatever
// the server calls gzip; the trace's head shows the headers Go moves out of
// the map (Transfer-Encoding, Trailer).
func TestGzipAndTheTrace(t *testing.T) {
	for _, coding := range []string{"gzip", "x-gzip", "identity, gzip", "GZIP"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", coding)
			w.Header().Set("Trailer", "X-Checksum")
			w.Write(gzipBytes(t, "<reply/>"))
			w.(http.Flusher).Flush() // chunked
			w.Header().Set("X-Checksum", "1")
		}))
		var head string
		var traced bytes.Buffer
		c := client(t, Options{})
		c.Trace = &Trace{Response: func(h string) { head = h }, ReplyBody: &traced}
		resp, err := c.Do(post(t, srv.URL, "<e/>"))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if err != nil || string(body) != "<reply/>" || traced.String() != "<reply/>" {
			t.Errorf("%s: body %q, traced %q (%v); want both decoded", coding, body, traced.String(), err)
		}
		if !strings.Contains(head, "Transfer-Encoding: chunked\n") || !strings.Contains(head, "Trailer: X-Checksum\n") {
			t.Errorf("%s: the reply head lacks what Go moved out of the header map:\n%s", coding, head)
		}
	}
}

// The password is hidden in every form it may take on the wire: as is,
// XML-escaped with its white space as character references (as templates
// write it), URL-encoded, in base64, and as Basic auth; a proxy's
// credentials, which Go's transport adds itself, are shown as sent and
// redacted.
func TestSecretsInEveryForm(t *testing.T) {
	const pw = "Sekr\net&99 %"
	var sentProxyAuth string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sentProxyAuth = r.Header.Get("Proxy-Authorization")
		io.WriteString(w, "<ok/>")
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	pu.User = url.UserPassword("pu", "proxy-pw")
	c, err := New(Options{User: "ann", Password: pw, Header: http.Header{
		"X-B64": {base64.StdEncoding.EncodeToString([]byte(pw))},
		"X-Pct": {url.QueryEscape(pw)},
	}}, http.ProxyURL(pu))
	if err != nil {
		t.Fatal(err)
	}
	var trace strings.Builder
	c.Trace = &Trace{Request: func(head string, body []byte) { trace.WriteString(head + string(body)) }}
	body := "<e><note>Sekr&#xA;et&amp;99 %</note><other>" + url.PathEscape(pw) + "</other></e>"
	resp, err := c.Do(post(t, "http://soap.example/x", body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := trace.String()
	for _, leak := range []string{"Sekr", "et&amp;99", url.QueryEscape(pw), base64.StdEncoding.EncodeToString([]byte(pw)), "proxy-pw", "cHU6cHJveHktcHc="} {
		if strings.Contains(s, leak) {
			t.Errorf("the trace shows %q:\n%s", leak, s)
		}
	}
	if sentProxyAuth == "" || !strings.Contains(s, "Proxy-Authorization: Basic [redacted]\n") || !strings.HasPrefix(s, "POST http://soap.example/x HTTP/1.1\n") {
		t.Errorf("through a proxy with credentials (sent %q), the trace shows:\n%s", sentProxyAuth, s)
	}
}
