package session

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/soapsess/soapsess/refserver"
	"github.com/soapsess/soapsess/state"
)

// cookieNames are the names of the cookies a request carries, sorted.
func cookieNames(r *http.Request) []string {
	var names []string
	for _, c := range r.Cookies() {
		names = append(names, c.Name+"="+c.Value)
	}
	slices.Sort(names)
	return names
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Kept cookies replayed into a jar go where the standard library's jar
// sends them: Secure ones over https only, by path, not once expired, not
// after a later cookie deleted them.
func TestKeptCookiesReplayed(t *testing.T) {
	// The jar reads the clock itself.
	now := time.Now().UTC()
	at := now.Add(-time.Hour)
	kept := []state.Cookie{
		{URL: "http://farm.example/olap/msmdpump.dll", Received: at, Name: "plain", Value: "1"},
		{URL: "https://farm.example/olap/msmdpump.dll", Received: at, Name: "secure", Value: "2", Secure: true},
		{URL: "http://farm.example/olap/msmdpump.dll", Received: at, Name: "other", Value: "3", Path: "/other"},
		{URL: "http://farm.example/olap/msmdpump.dll", Received: at, Name: "root", Value: "4", Domain: ".farm.example", Path: "/"},
		{URL: "http://farm.example/olap/msmdpump.dll", Received: at, Name: "maxage", Value: "5", MaxAge: 60}, // ran out 59 minutes ago
		{URL: "http://farm.example/olap/msmdpump.dll", Received: at, Name: "expires", Value: "6", Expires: at.Add(30 * time.Minute)},
		{URL: "http://farm.example/olap/msmdpump.dll", Received: at, Name: "later", Value: "7", MaxAge: 7200},
		{URL: "http://farm.example/olap/msmdpump.dll", Received: at, Name: "deleted", Value: "8"},
		{URL: "http://farm.example/olap/msmdpump.dll", Received: at.Add(time.Second), Name: "deleted", MaxAge: -1},
		{URL: "http://farm.example/olap/msmdpump.dll", Received: at, Name: "foreign", Value: "9", Domain: "elsewhere.example"},
	}
	j := newCookieJar(kept, func() time.Time { return now })
	names := func(raw string) []string {
		var out []string
		for _, c := range j.Cookies(mustURL(t, raw)) {
			out = append(out, c.Name+"="+c.Value)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		url  string
		want []string
	}{
		{"http://farm.example/olap/msmdpump.dll", []string{"later=7", "plain=1", "root=4"}},
		{"https://farm.example/olap/msmdpump.dll", []string{"later=7", "plain=1", "root=4", "secure=2"}},
		{"http://farm.example/other/x", []string{"other=3", "root=4"}},
		{"http://node2.farm.example/olap/x", []string{"root=4"}},
		{"http://elsewhere.example/olap/x", nil},
	} {
		if got := names(tc.url); !slices.Equal(got, tc.want) {
			t.Errorf("%s gets %q, want %q", tc.url, got, tc.want)
		}
	}
	if got := mergeCookies(kept, nil, now); len(got) != 5 {
		var n []string
		for _, c := range got {
			n = append(n, c.Name)
		}
		t.Errorf("merged: %q; want plain, secure, other, root and later: expired, deleted and foreign ones dropped", n)
	}
}

// What each process received is merged into the file under its lock:
// nothing another process kept meanwhile is lost, a cookie set again
// replaces the older one, and nothing is written when nothing came.
func TestKeepCookiesMerges(t *testing.T) {
	f := newFixture(t)
	f.begin()
	u := mustURL(t, f.srv.URL+"/xmla?q=secret-query")
	var sessions []*Session
	for range 2 {
		s, err := f.m.Open("s")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.jar(); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Go(func() {
			s.Conn.Jar.SetCookies(u, []*http.Cookie{{Name: "shared", Value: "v"}, {Name: "own" + string(rune('a'+i)), Value: "x"}})
			if err := s.keepCookies(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	st, err := f.m.Store.Get("s")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range st.Cookies {
		names = append(names, c.Name)
		if c.URL != f.srv.URL+"/xmla" {
			t.Errorf("cookie %s kept for %q; want the URL without its query", c.Name, c.URL)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"owna", "ownb", "shared"}) {
		t.Errorf("kept %q; want owna, ownb and one shared", names)
	}
	// Nothing new: nothing written.
	p := f.m.Store.Path("s")
	before, _ := os.Stat(p)
	if err := sessions[0].keepCookies(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(p); !os.SameFile(before, after) {
		t.Errorf("the state file was rewritten with no new cookie")
	}
	// A session ended meanwhile is not brought back.
	if _, err := f.m.Forget("s"); err != nil {
		t.Fatal(err)
	}
	sessions[1].Conn.Jar.SetCookies(u, []*http.Cookie{{Name: "late", Value: "y"}})
	if err := sessions[1].keepCookies(); err != nil {
		t.Errorf("keepCookies after the session ended: %v", err)
	}
	if _, err := f.m.Store.Get("s"); err == nil {
		t.Errorf("keepCookies brought an ended session back")
	}
}

// cookieServer is the reference server behind a balancer that pins a
// session to a node with a cookie set at begin, and refuses later requests
// without it. It also sets a Secure cookie and one for another path (over
// http, neither comes back), and one that a send's reply deletes.
type cookieServer struct {
	next http.Handler
	mu   sync.Mutex
	seen map[string][]string // the cookies each phase carried
}

func (c *cookieServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	phase := "send"
	switch {
	case bytes.Contains(b, []byte("BeginSession")):
		phase = "begin"
	case bytes.Contains(b, []byte("EndSession")):
		phase = "end"
	}
	c.mu.Lock()
	c.seen[phase] = cookieNames(r)
	c.mu.Unlock()
	switch phase {
	case "begin":
		http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: "node-1", Path: "/", HttpOnly: true})
		http.SetCookie(w, &http.Cookie{Name: "tls", Value: "only", Secure: true})
		http.SetCookie(w, &http.Cookie{Name: "other", Value: "path", Path: "/other"})
		http.SetCookie(w, &http.Cookie{Name: "brief", Value: "until-send"})
	case "send":
		http.SetCookie(w, &http.Cookie{Name: "brief", MaxAge: -1})
		fallthrough
	default:
		if ck, err := r.Cookie("JSESSIONID"); err != nil || ck.Value != "node-1" {
			http.Error(w, "this node does not know the session", http.StatusForbidden)
			return
		}
	}
	c.next.ServeHTTP(w, r)
}

// A cookie set at begin goes back on send and end, each from a session
// loaded anew as another process would; Secure and Path are honoured, and
// a cookie the server deleted is gone from the file and the requests.
func TestCookiesKeptAcrossCalls(t *testing.T) {
	f := newFixture(t)
	cs := &cookieServer{next: refserver.New(refserver.Options{}), seen: map[string][]string{}}
	f.h.set(cs)
	// Through the server as a proxy, so that the URL's host is not
	// loopback: the jar counts loopback as a secure origin, as browsers do.
	f.m.ProxyFromEnv = func(*http.Request) (*url.URL, error) { return url.Parse(f.srv.URL) }
	res, err := f.m.Begin(context.Background(), BeginOptions{Name: "s", URL: "http://farm.example/xmla", Dialect: dialect(t, "xmla")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Session.Conn.Jar == nil {
		t.Fatal("the session has no cookie jar")
	}
	res.Session.Close()
	kept, err := f.m.Store.Get("s")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range kept.Cookies {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"JSESSIONID", "tls", "other", "brief"}) {
		t.Errorf("begin kept %q", names)
	}

	s, err := f.m.Open("s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), Request{Body: body(discover)}); err != nil {
		t.Fatalf("send: %v", err)
	}
	s.Close()
	if st, _ := f.m.Store.Get("s"); st == nil || slices.ContainsFunc(st.Cookies, func(c state.Cookie) bool { return c.Name == "brief" }) {
		t.Errorf("after send, the deleted cookie is still kept")
	}
	s, err = f.m.Open("s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.End(context.Background(), Request{}); err != nil {
		t.Fatalf("end: %v", err)
	}
	want := map[string][]string{
		"begin": nil,
		"send":  {"JSESSIONID=node-1", "brief=until-send"},
		"end":   {"JSESSIONID=node-1"},
	}
	for phase, w := range want {
		if got := cs.seen[phase]; !slices.Equal(got, w) {
			t.Errorf("%s carried %q, want %q", phase, got, w)
		}
	}
	if st, err := f.m.Store.Get("s"); err != nil || st.Open() || len(st.Cookies) > 0 {
		t.Errorf("after end the record is %+v, %v; want it ended, without cookies", st, err)
	}
}
