package session

import (
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/soapsess/soapsess/state"
)

// A session's cookies are kept as the server set them (state.Cookie: the
// Set-Cookie attributes, the request's URL, the time) and replayed in
// order into a net/http/cookiejar.Jar when the session is used again, so
// that domain, path, Secure and expiry follow the standard library's
// rules (RFC 6265) rather than ours. cookiejar.Jar cannot list what it
// holds; cookieJar records what it is handed instead, and keepCookies
// merges that into the state file. No public suffix list is used: a
// session's jar only ever sends cookies back to the session's own URL, so
// a cookie scoped to a public suffix can reach no other site.

// cookieJar is a session's cookie jar: a cookiejar.Jar, and the cookies
// set since it was made that the state file does not have yet.
type cookieJar struct {
	jar *cookiejar.Jar

	mu  sync.Mutex
	new []state.Cookie
	now func() time.Time
}

// newCookieJar is a jar holding the kept cookies, replayed in order as of
// now: an expired one is not there, and one deleted later is gone.
func newCookieJar(kept []state.Cookie, now func() time.Time) *cookieJar {
	jar, _ := cookiejar.New(nil) // never fails without options
	for _, c := range kept {
		u, err := url.Parse(c.URL)
		if err != nil || u.Host == "" {
			continue // not one we wrote; a jar would not have taken it either
		}
		jar.SetCookies(u, []*http.Cookie{replayed(c)})
	}
	return &cookieJar{jar: jar, now: now}
}

// replayed is a kept cookie as a jar is given it now: Max-Age, counted
// from when it came, becomes the time it runs out (a deleting one's is in
// the past).
func replayed(c state.Cookie) *http.Cookie {
	return &http.Cookie{Name: c.Name, Value: c.Value, Domain: c.Domain, Path: c.Path, Expires: c.Expiry(),
		Secure: c.Secure, HttpOnly: c.HTTPOnly, SameSite: sameSite(c.SameSite)}
}

// Cookies implements http.CookieJar.
func (j *cookieJar) Cookies(u *url.URL) []*http.Cookie { return j.jar.Cookies(u) }

// SetCookies implements http.CookieJar, recording the cookies for
// keepCookies.
func (j *cookieJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	j.jar.SetCookies(u, cs)
	where := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String() // no query: a jar reads none
	j.mu.Lock()
	defer j.mu.Unlock()
	at := j.now().UTC()
	for _, c := range cs {
		exp := c.Expires
		if !exp.IsZero() {
			exp = exp.UTC()
		}
		j.new = append(j.new, state.Cookie{URL: where, Received: at, Name: c.Name, Value: c.Value,
			Domain: c.Domain, Path: c.Path, Expires: exp, MaxAge: c.MaxAge,
			Secure: c.Secure, HTTPOnly: c.HttpOnly, SameSite: sameSiteName(c.SameSite)})
	}
}

// unsaved are the cookies set since the last save.
func (j *cookieJar) unsaved() []state.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.new)
}

// saved drops the first n cookies of unsaved: the state file has them.
func (j *cookieJar) saved(n int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.new = slices.Delete(j.new, 0, min(n, len(j.new)))
}

// jar is the session's cookie jar, made from the cookies kept in its state
// the first time and kept in Conn.Jar, so that the client made for Conn
// sends and receives them. A jar the caller put in Conn.Jar is used as it
// is, and nothing of it is kept.
func (s *Session) jar() (http.CookieJar, error) {
	if s.Conn.Jar == nil {
		s.Conn.Jar = newCookieJar(s.State.Cookies, time.Now)
	}
	return s.Conn.Jar, nil
}

// keepCookies writes to the state file the cookies the server set since
// the last time, merged under the session's lock with those other
// processes kept meanwhile: in the order they came, one per name and
// scope (the last), none expired. A session ended or begun again meanwhile
// is left as it is. Call it after every request the server answered.
func (s *Session) keepCookies() error {
	j, ok := s.Conn.Jar.(*cookieJar)
	if !ok {
		return nil
	}
	got := j.unsaved()
	if len(got) == 0 {
		return nil
	}
	_, err := s.m.Store.Update(s.State.Name, func(st *state.Session) error {
		if st.ID != s.State.ID {
			return nil // begun again meanwhile: these were not its cookies
		}
		st.Cookies = mergeCookies(st.Cookies, got, j.now())
		s.State.Cookies = st.Cookies
		return nil
	})
	if errors.Is(err, state.ErrNoSession) {
		err = nil // ended meanwhile
	}
	if err == nil {
		j.saved(len(got))
	}
	return err
}

// mergeCookies adds the cookies received to those kept, in the order they
// came, and keeps what a jar would hold at now: per name and scope only the
// last (a later one replaces or deletes it), nothing expired, nothing a
// jar refuses for its domain.
func mergeCookies(kept, received []state.Cookie, now time.Time) []state.Cookie {
	all := slices.Concat(kept, received)
	slices.SortStableFunc(all, func(a, b state.Cookie) int { return a.Received.Compare(b.Received) })
	type id struct{ domain, path, name string }
	key := func(c state.Cookie) id {
		d, _, p := c.Scope()
		return id{d, p, c.Name}
	}
	last := map[id]int{}
	for i, c := range all {
		last[key(c)] = i
	}
	var out []state.Cookie
	for i, c := range all {
		if last[key(c)] == i && !c.Expired(now) && domainMatches(c) {
			out = append(out, c)
		}
	}
	return out
}

// domainMatches reports whether a jar takes the cookie for its Domain: one
// with none is the host's own; one with a Domain must be the host or a
// domain above it (RFC 6265 5.3 step 6).
func domainMatches(c state.Cookie) bool {
	domain, hostOnly, _ := c.Scope()
	if hostOnly {
		return true
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	return domain != "" && (host == domain || strings.HasSuffix(host, "."+domain))
}

func sameSiteName(s http.SameSite) string {
	switch s {
	case http.SameSiteLaxMode:
		return "lax"
	case http.SameSiteStrictMode:
		return "strict"
	case http.SameSiteNoneMode:
		return "none"
	}
	return ""
}

func sameSite(s string) http.SameSite {
	switch s {
	case "lax":
		return http.SameSiteLaxMode
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		return http.SameSiteNoneMode
	}
	return http.SameSiteDefaultMode
}
