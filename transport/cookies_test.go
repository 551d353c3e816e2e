package transport

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
)

// The jar's cookies go out with every request, those a reply sets come
// back into it, and the trace shows neither value.
func TestCookiesThroughTheJar(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Cookie"))
		if len(seen) == 1 {
			http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "affinity-42", Path: "/"})
			http.SetCookie(w, &http.Cookie{Name: "other", Value: "elsewhere-7", Path: "/other"})
		}
		io.WriteString(w, "<ok/>")
	}))
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var trace strings.Builder
	c := client(t, Options{Jar: jar})
	c.Trace = &Trace{
		Request:  func(head string, body []byte) { trace.WriteString(head) },
		Response: func(head string) { trace.WriteString(head) },
	}
	for range 2 {
		resp, err := c.Do(post(t, srv.URL+"/xmla", "<e/>"))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if len(seen) != 2 || seen[0] != "" || seen[1] != "JSESSIONID=affinity-42" {
		t.Errorf("Cookie headers sent: %q; want none, then JSESSIONID only (Path /other)", seen)
	}
	s := trace.String()
	if strings.Contains(s, "affinity-42") || strings.Contains(s, "elsewhere-7") {
		t.Errorf("the trace shows a cookie's value:\n%s", s)
	}
	for _, want := range []string{"Cookie: [redacted]\n", "Set-Cookie: [redacted]\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("trace lacks %q:\n%s", want, s)
		}
	}
	head, _, err := c.Preview(post(t, srv.URL+"/xmla", "<e/>"))
	if err != nil || !strings.Contains(head, "Cookie: [redacted]\n") || strings.Contains(head, "affinity-42") {
		t.Errorf("preview = %q, %v; want the Cookie header, redacted", head, err)
	}
}

// A header of the caller's own is kept, the jar's cookies added to it.
func TestCookiesAddToACookieHeaderGiven(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Cookie")
	}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	req := post(t, srv.URL+"/x", "<e/>")
	jar.SetCookies(req.URL, []*http.Cookie{{Name: "b", Value: "2"}})
	resp, err := client(t, Options{Jar: jar, Header: http.Header{"Cookie": {"a=1"}}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "a=1; b=2" {
		t.Errorf("Cookie = %q, want a=1; b=2", got)
	}
}

// A cookie set on the 401 that starts an NTLM handshake comes back on the
// handshake's next round: load balancers pin the connection's server so.
func TestCookiesAcrossNTLMRounds(t *testing.T) {
	var rounds []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		rounds = append(rounds, r.Header.Get("Cookie"))
		if !strings.HasPrefix(r.Header.Get("Authorization"), "NTLM ") {
			http.SetCookie(w, &http.Cookie{Name: "lb", Value: "node-3"})
			w.Header().Set("WWW-Authenticate", "NTLM")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "<ok/>") // the negotiate message accepted as it is (RFC 4559 5)
	}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	resp, err := client(t, Options{Jar: jar, Auth: AuthNTLM, User: `CORP\ann`, Password: "pw"}).Do(post(t, srv.URL+"/x", "<e/>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Status != 200 || len(rounds) != 2 || rounds[0] != "" || rounds[1] != "lb=node-3" {
		t.Errorf("status %d, Cookie per round %q; want 200 and none, then lb=node-3", resp.Status, rounds)
	}
}
