package state

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Cookies are kept as received, values included, in the private file and
// read back as they were.
func TestCookiesRoundTrip(t *testing.T) {
	s := newStore(t)
	at := time.Date(2026, 11, 23, 1, 0, 0, 123456789, time.UTC)
	want := []Cookie{
		{URL: "http://127.0.0.1:1/xmla", Received: at, Name: "JSESSIONID", Value: "v-1", HTTPOnly: true},
		{URL: "https://farm.example/msmdpump.dll", Received: at.Add(time.Second), Name: "MDXAUTH", Value: "v-2",
			Domain: ".example", Path: "/", Expires: at.Add(time.Hour), MaxAge: 60, Secure: true, SameSite: "strict"},
	}
	sess := sample("c")
	sess.Cookies = want
	if err := s.Create(sess); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("c")
	if err != nil || !reflect.DeepEqual(got.Cookies, want) {
		t.Fatalf("Get = %+v, %v; want the cookies %+v", got.Cookies, err, want)
	}
	if _, err := s.Update("c", func(st *Session) error { st.Cookies = st.Cookies[:1]; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get("c"); err != nil || !reflect.DeepEqual(got.Cookies, want[:1]) {
		t.Errorf("after Update: %+v, %v", got.Cookies, err)
	}
	p := filepath.Join(s.Dir, "c.json")
	if err := CheckPrivate(p); err != nil {
		t.Errorf("the session file: %v", err)
	}
	if fi, _ := os.Stat(p); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o, want 600", fi.Mode().Perm())
	}
}

// A file from before cookies were kept still loads, and one without
// cookies does not grow an empty list.
func TestStateWithoutCookies(t *testing.T) {
	s := newStore(t)
	old := `{"name":"old","dialect":"xmla","url":"http://127.0.0.1:1/xmla","session_id":"X","created":"2026-11-23T01:00:00Z","last_used":"2026-11-23T01:00:00Z","requests":3}`
	if err := os.WriteFile(filepath.Join(s.Dir, "old.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("old")
	if err != nil || got.Cookies != nil || got.Requests != 3 {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := s.Update("old", func(*Session) error { return nil }); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(s.Dir, "old.json"))
	if strings.Contains(string(raw), "cookies") {
		t.Errorf("rewritten with a cookies field:\n%s", raw)
	}
}

func TestCookieExpiryAndScope(t *testing.T) {
	at := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	c := Cookie{URL: "http://Host.Example:8080/a/b/xmla", Received: at, Name: "n"}
	if !c.Expiry().IsZero() || c.Expired(at.Add(1000*time.Hour)) {
		t.Errorf("a session cookie: expiry %v", c.Expiry())
	}
	c.Expires = at.Add(time.Hour)
	if c.Expired(at.Add(time.Hour-time.Second)) || !c.Expired(at.Add(time.Hour)) {
		t.Errorf("Expires: expiry %v", c.Expiry())
	}
	c.MaxAge = 60 // wins over Expires
	if c.Expiry() != at.Add(time.Minute) {
		t.Errorf("Max-Age: expiry %v", c.Expiry())
	}
	c.MaxAge = -1
	if !c.Expired(at) {
		t.Errorf("Max-Age=0: not expired at once")
	}
	for _, tc := range []struct {
		url, domain, path string
		wantDomain        string
		wantHostOnly      bool
		wantPath          string
	}{
		{"http://Host.Example:8080/a/b/xmla", "", "", "host.example", true, "/a/b"},
		{"http://host.example/xmla", ".Example", "/", "example", false, "/"},
		{"http://host.example", "", "relative", "host.example", true, "/"},
		{"http://127.0.0.1:9/x", "127.0.0.1", "/x", "127.0.0.1", true, "/x"},
	} {
		d, h, p := Cookie{URL: tc.url, Domain: tc.domain, Path: tc.path}.Scope()
		if d != tc.wantDomain || h != tc.wantHostOnly || p != tc.wantPath {
			t.Errorf("%s Domain=%q Path=%q: scope %q %v %q; want %q %v %q", tc.url, tc.domain, tc.path, d, h, p,
				tc.wantDomain, tc.wantHostOnly, tc.wantPath)
		}
	}
}
