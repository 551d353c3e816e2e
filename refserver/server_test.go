package refserver

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHTTPErrors(t *testing.T) {
	srv, _ := newTestServer(Options{MaxBody: 1024})
	valid := dialects[1].env(dialects[1].begin)
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		status      int
	}{
		{"unknown path", http.MethodPost, "/nope", "text/xml", valid, http.StatusNotFound},
		{"trailing slash is another path", http.MethodPost, "/xmla/", "text/xml", valid, http.StatusNotFound},
		{"GET on a SOAP endpoint", http.MethodGet, "/xmla", "", "", http.StatusMethodNotAllowed},
		{"PUT on a SOAP endpoint", http.MethodPut, "/sql", "text/xml", valid, http.StatusMethodNotAllowed},
		{"POST on the index", http.MethodPost, "/", "text/xml", valid, http.StatusMethodNotAllowed},
		{"SOAP 1.2 media type", http.MethodPost, "/dsml", "application/soap+xml; charset=utf-8", valid, http.StatusUnsupportedMediaType},
		{"no Content-Type", http.MethodPost, "/dsml", "", valid, http.StatusUnsupportedMediaType},
		{"application/xml", http.MethodPost, "/sql", "application/xml", valid, http.StatusUnsupportedMediaType},
		{"body over MaxBody", http.MethodPost, "/xmla", "text/xml", valid + strings.Repeat(" ", 1024), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %q", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("Content-Type = %q, want text/plain", ct)
			}
			if tt.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
				t.Fatalf("405 without an Allow header")
			}
		})
	}
	if n := srv.ActiveSessions(); n != 0 {
		t.Fatalf("rejected requests began %d sessions", n)
	}
	// Content-Type parameters and case do not matter; a body of exactly MaxBody is fine.
	body := valid + strings.Repeat(" ", 1024-len(valid))
	req := httptest.NewRequest(http.MethodPost, "/xmla", strings.NewReader(body))
	req.Header.Set("Content-Type", `Text/XML; charset="utf-8"`)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	ok(t, rec)
}

func TestIndex(t *testing.T) {
	srv, _ := newTestServer(Options{})
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET / = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, p := range []string{"/dsml", "/xmla", "/xmla/virtuoso", "/sql"} {
		if !strings.Contains(rec.Body.String(), "POST "+p+" ") {
			t.Fatalf("index does not list %s:\n%s", p, rec.Body)
		}
	}
}

func TestPassword(t *testing.T) {
	srv, _ := newTestServer(Options{Password: "s3cret"})
	body := dialects[0].env(dialects[0].begin)
	for name, set := range map[string]func(*http.Request){
		"no credentials": func(*http.Request) {},
		"wrong password": func(r *http.Request) { r.SetBasicAuth("alice", "guess") },
		"not Basic":      func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") },
	} {
		t.Run(name, func(t *testing.T) {
			for _, path := range []string{"/dsml", "/", "/nope"} {
				rec := post(t, srv, path, body, set)
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("%s: status = %d, want 401", path, rec.Code)
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="soapsess"` {
					t.Fatalf("WWW-Authenticate = %q", got)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Fatalf("Content-Type = %q, want text/html", ct)
				}
				if !strings.Contains(rec.Body.String(), "<html") || !strings.Contains(rec.Body.String(), "401 - Unauthorized") {
					t.Fatalf("401 body is not the HTML page: %q", rec.Body)
				}
			}
		})
	}
	if n := srv.ActiveSessions(); n != 0 {
		t.Fatalf("unauthenticated requests began %d sessions", n)
	}
	// Any user name with the right password; the session is bound to that name.
	id := dialects[0].beginSession(t, srv, func(r *http.Request) { r.SetBasicAuth("alice", "s3cret") })
	ok(t, post(t, srv, "/dsml", dialects[0].env(dialects[0].use(id)), func(r *http.Request) { r.SetBasicAuth("alice", "s3cret") }))
	dialects[0].badSession(t, post(t, srv, "/dsml", dialects[0].env(dialects[0].use(id)), func(r *http.Request) { r.SetBasicAuth("bob", "s3cret") }))
}

func TestGzip(t *testing.T) {
	// Small replies stay uncompressed by default, as web servers do.
	small, _ := newTestServer(Options{})
	rec := post(t, small, "/sql", dialects[3].env(dialects[3].begin), func(r *http.Request) { r.Header.Set("Accept-Encoding", "gzip") })
	if rec.Header().Get("Content-Encoding") != "" {
		t.Fatalf("a %d-byte reply was compressed", rec.Body.Len())
	}

	srv, _ := newTestServer(Options{GzipMinimum: 1})
	body := dialects[3].env(dialects[3].begin)
	for ae, want := range map[string]bool{
		"gzip":                true,
		"deflate, gzip;q=1.0": true,
		"GZIP":                true,
		"gzip;q=0":            false,
		"identity":            false,
		"":                    false,
	} {
		rec := post(t, srv, "/sql", body, func(r *http.Request) {
			if ae != "" {
				r.Header.Set("Accept-Encoding", ae)
			}
		})
		gotGzip := rec.Header().Get("Content-Encoding") == "gzip"
		if gotGzip != want {
			t.Fatalf("Accept-Encoding %q: gzip = %v, want %v", ae, gotGzip, want)
		}
		raw := rec.Body.Bytes()
		if gotGzip {
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("gzip reply: %v", err)
			}
			if raw, err = io.ReadAll(zr); err != nil {
				t.Fatalf("gzip reply: %v", err)
			}
		}
		doc := parseDoc(t, raw)
		doc.one(t, sqlOptionsNS, "sqlSession")
	}

	// Through a real connection Go's client asks for gzip by itself and
	// decompresses transparently; faults are compressed too.
	ts := httptest.NewServer(srv)
	defer ts.Close()
	resp, err := http.Post(ts.URL+"/xmla", "text/xml; charset=utf-8", strings.NewReader(dialects[1].env(dialects[1].use("nope"))))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	if !resp.Uncompressed {
		t.Fatalf("reply was not gzip-compressed")
	}
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	parseDoc(t, raw).one(t, soapEnvNS, "Fault")
}

func TestLog(t *testing.T) {
	var log bytes.Buffer
	srv, _ := newTestServer(Options{Log: &log, Password: "pw"})
	creds := func(r *http.Request) { r.SetBasicAuth("alice", "pw") }
	id := dialects[1].beginSession(t, srv, creds)
	post(t, srv, "/xmla", dialects[1].env(dialects[1].use(id)), creds)
	post(t, srv, "/sql", "junk", creds)
	post(t, srv, "/dsml", "", func(r *http.Request) { r.SetBasicAuth("alice", "wrong") })

	lines := strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d log lines, want 4:\n%s", len(lines), log.String())
	}
	wants := []string{
		"2026-11-23T01:02:03Z 192.0.2.1:1234 POST /xmla 200 Execute begin session=" + id[:4] + "… ",
		"2026-11-23T01:02:03Z 192.0.2.1:1234 POST /xmla 200 Execute use session=" + id[:4] + "… ",
		"2026-11-23T01:02:03Z 192.0.2.1:1234 POST /sql 500 fault=InvalidXml ",
		"2026-11-23T01:02:03Z 192.0.2.1:1234 POST /dsml 401 ",
	}
	for i, w := range wants {
		if !strings.HasPrefix(lines[i], w) {
			t.Fatalf("log line %d = %q, want prefix %q", i, lines[i], w)
		}
	}
	for _, secret := range []string{id, id[:5], "pw", "wrong", "Basic", "YWxpY2"} {
		if strings.Contains(log.String(), secret) {
			t.Fatalf("log contains %q:\n%s", secret, log.String())
		}
	}
}

func TestShortIDIsSafe(t *testing.T) {
	for id, want := range map[string]string{
		"4F2A6B":  "4F2A…",
		"ab":      "ab…",
		"a\nb c":  "a?b?…",
		"äöüß€xy": "äöüß…",
	} {
		if got := shortID(id); got != want {
			t.Fatalf("shortID(%q) = %q, want %q", id, got, want)
		}
	}
}
