package refserver

import (
	"container/heap"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"
)

var (
	// errNoSession covers unknown, ended and expired IDs alike: the real servers
	// do not tell them apart, and neither may we (an ID is a bearer secret).
	errNoSession = errors.New("session not found")
	// errWrongUser means the ID is live but was begun by another user.
	errWrongUser = errors.New("session belongs to another user")
	// errTooManySessions refuses a begin while the store holds its maximum
	// of live sessions (Options.MaxSessions); each endpoint answers it with
	// its own fault.
	errTooManySessions = errors.New("too many live sessions")
)

type session struct {
	key      sessionKey
	user     string
	lastUsed time.Time
	idle     time.Duration
	// deadline is lastUsed+idle, when the session expires unless used again;
	// index is its place in the store's expiry heap.
	deadline time.Time
	index    int
	// cursors are the session's open paged searches (DSML only), by cookie.
	// They live and die with the session, as DSFW's paged-search state lives
	// on the session's own LDAP connection: ending or expiring the session
	// drops them with it.
	cursors map[string]*cursor
	clock   uint64 // orders cursors by last use
	// sql is a /sql session's temp table and transaction (sqlsoap.go).
	sql *sqlState
	// xmla is an XMLA session's begin properties and session objects (xmla.go).
	xmla *xmlaState
}

// close runs when the session ends or expires: an open SQL transaction is
// rolled back, as SQL Server does when a SOAP session goes away, and the
// session-scoped XMLA objects go with the session.
func (s *session) close() {
	if s.sql != nil {
		s.sql.rollback()
	}
	s.xmla = nil
}

// cursor is where an open paged search stands: the search it belongs to (its
// base, scope and filter, canonically) and the sequence number of the next
// directory entry to look at. It holds no entries.
type cursor struct {
	search  string
	next    uint64
	lastUse uint64
}

// maxCursorsPerSession is Active Directory's default MaxResultSetsPerConn:
// "The LDAP server allows no more than MaxResultSetsPerConn cookies per LDAP
// connection" (Microsoft, "How LDAP server cookies are handled"). As there,
// storing one more discards another (here the least recently used), whose
// cookie then fails like any unknown one.
const maxCursorsPerSession = 10

var (
	// errNoCursor: the cookie is not one of this session's open searches.
	errNoCursor = errors.New("paged results cookie unknown in this session")
	// errOtherSearch: the cookie is the session's, for another search.
	errOtherSearch = errors.New("paged results cookie issued for a different search")
)

func (s *session) expired(now time.Time) bool {
	return !now.Before(s.deadline)
}

// sessionKey scopes IDs to the endpoint that issued them: a session begun on
// /xmla is unknown on /xmla/virtuoso, as SQL Server requires for its endpoints.
type sessionKey struct {
	endpoint string
	id       string
}

// sessionStore holds the live sessions of all endpoints, at most max of
// them. Expired sessions are removed lazily, whenever a request or
// ActiveSessions looks at the table; the expiry heap finds them without
// looking at the others, so a begin costs the same among 50,000 idle
// sessions as among ten.
type sessionStore struct {
	mu     sync.Mutex
	now    func() time.Time
	max    int
	m      map[sessionKey]*session
	expiry expiryHeap
	// examined counts the sessions sweeps have looked at, for tests to
	// tell a sweep of the expired from a scan of the whole table.
	examined int
}

func newSessionStore(now func() time.Time, maxSessions int) *sessionStore {
	return &sessionStore{now: now, max: maxSessions, m: map[sessionKey]*session{}}
}

// begin creates a session bound to user and returns its new ID.
func (st *sessionStore) begin(endpoint string, newID func() string, user string, idle time.Duration) (string, error) {
	return st.beginWith(endpoint, newID, user, idle, nil)
}

// beginWith is begin with init run on the new session, under the store's
// lock, before anyone else can see it. It fails with errTooManySessions
// while max sessions are live, as DSFW refuses a BeginSession at
// MaxSessionsAllowed ([MS-DSML] §3.1.4.1).
func (st *sessionStore) beginWith(endpoint string, newID func() string, user string, idle time.Duration, init func(*session)) (string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweep(now)
	if len(st.m) >= st.max {
		return "", errTooManySessions
	}
	for {
		k := sessionKey{endpoint, newID()}
		if _, taken := st.m[k]; taken {
			continue
		}
		sess := &session{key: k, user: user, lastUsed: now, idle: idle, deadline: now.Add(idle)}
		if init != nil {
			init(sess)
		}
		st.m[k] = sess
		heap.Push(&st.expiry, sess)
		return k.id, nil
	}
}

// touch validates a request inside a session and restarts its idle timer.
// A request from another user leaves the session exactly as it was.
func (st *sessionStore) touch(endpoint, id, user string) error {
	return st.use(endpoint, id, user, nil)
}

// use is touch with fn run on the session under the store's lock, so that a
// request's reads and changes of session state are atomic.
func (st *sessionStore) use(endpoint, id, user string, fn func(*session)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	s, err := st.lookup(sessionKey{endpoint, id}, user, now)
	if err != nil {
		return err
	}
	s.lastUsed = now
	s.deadline = now.Add(s.idle)
	heap.Fix(&st.expiry, s.index)
	if fn != nil {
		fn(s)
	}
	return nil
}

// end validates a request inside a session and removes the session. Claiming
// the removal before the body runs makes two racing ends see one success.
func (st *sessionStore) end(endpoint, id, user string) error {
	return st.endWith(endpoint, id, user, nil)
}

// endWith is end with fn run on the session (the end request's own body)
// before the session is closed and removed, all under the store's lock.
func (st *sessionStore) endWith(endpoint, id, user string, fn func(*session)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, err := st.lookup(sessionKey{endpoint, id}, user, st.now())
	if err != nil {
		return err
	}
	if fn != nil {
		fn(s)
	}
	st.remove(s)
	return nil
}

// remove closes s and deletes it; it must be called with mu held.
func (st *sessionStore) remove(s *session) {
	s.close()
	delete(st.m, s.key)
	heap.Remove(&st.expiry, s.index)
}

// openTransactions counts the live sessions with an open SQL transaction.
func (st *sessionStore) openTransactions() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweep(st.now())
	n := 0
	for _, s := range st.m {
		if s.sql != nil && s.sql.tx != nil {
			n++
		}
	}
	return n
}

// takeCursor removes and returns the session's cursor for cookie, if search
// is the one it belongs to; a cookie presented for another search stays valid
// for its own.
func (st *sessionStore) takeCursor(k sessionKey, cookie, search string) (*cursor, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.live(k)
	if s == nil {
		return nil, errNoCursor
	}
	c, ok := s.cursors[cookie]
	if !ok {
		return nil, errNoCursor
	}
	if c.search != search {
		return nil, errOtherSearch
	}
	delete(s.cursors, cookie)
	return c, nil
}

// putCursor stores c under a fresh random cookie and returns the cookie. When
// the session has gone meanwhile (an EndSession's own body, or expiry), the
// cursor is dropped with it and the cookie leads nowhere.
func (st *sessionStore) putCursor(k sessionKey, c *cursor) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	cookie := string(randomBytes(16))
	s := st.live(k)
	if s == nil {
		return cookie
	}
	if s.cursors == nil {
		s.cursors = map[string]*cursor{}
	}
	for s.cursors[cookie] != nil {
		cookie = string(randomBytes(16))
	}
	for len(s.cursors) >= maxCursorsPerSession {
		var oldest string
		for ck, oc := range s.cursors {
			if oldest == "" || oc.lastUse < s.cursors[oldest].lastUse {
				oldest = ck
			}
		}
		delete(s.cursors, oldest)
	}
	s.clock++
	c.lastUse = s.clock
	s.cursors[cookie] = c
	return cookie
}

// cursors counts the open paged searches of all live sessions.
func (st *sessionStore) cursors() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweep(st.now())
	n := 0
	for _, s := range st.m {
		n += len(s.cursors)
	}
	return n
}

// live returns the session k if it exists and has not expired; it must be
// called with mu held. Cursor operations run after the request was admitted
// and do not check the user again.
func (st *sessionStore) live(k sessionKey) *session {
	s, ok := st.m[k]
	if !ok {
		return nil
	}
	if s.expired(st.now()) {
		st.remove(s)
		return nil
	}
	return s
}

// expireAll removes every live session as expiry would and returns how many
// there were.
func (st *sessionStore) expireAll() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweep(st.now())
	n := len(st.m)
	for _, s := range st.m {
		s.close()
	}
	clear(st.m)
	st.expiry = nil
	return n
}

func (st *sessionStore) active() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweep(st.now())
	return len(st.m)
}

// lookup must be called with mu held.
func (st *sessionStore) lookup(k sessionKey, user string, now time.Time) (*session, error) {
	s, ok := st.m[k]
	if !ok {
		return nil, errNoSession
	}
	if s.expired(now) {
		st.remove(s)
		return nil, errNoSession
	}
	if s.user != user {
		return nil, errWrongUser
	}
	return s, nil
}

// sweep removes the expired sessions, soonest deadline first, and stops at
// the first live one; it must be called with mu held.
func (st *sessionStore) sweep(now time.Time) {
	for len(st.expiry) > 0 {
		st.examined++
		s := st.expiry[0]
		if !s.expired(now) {
			return
		}
		st.remove(s)
	}
}

// expiryHeap is a min-heap of sessions by deadline (container/heap); each
// session knows its index, so a use moves it and an end removes it in
// O(log n).
type expiryHeap []*session

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *expiryHeap) Push(x any) {
	s := x.(*session)
	s.index = len(*h)
	*h = append(*h, s)
}

func (h *expiryHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.index = -1
	return s
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	// crypto/rand.Read never returns an error (since Go 1.24 it crashes the
	// program instead), so there is nothing to handle.
	_, _ = rand.Read(b)
	return b
}

// newDSMLID returns 32 lowercase hex characters (128 random bits).
func newDSMLID() string {
	return hex.EncodeToString(randomBytes(16))
}

// newXMLAID returns an uppercase GUID-shaped ID, as SSAS issues.
func newXMLAID() string {
	h := strings.ToUpper(hex.EncodeToString(randomBytes(16)))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newSQLID returns base64 of 16 random bytes: sqlSession/@sessionId is
// xs:base64Binary, and the '+', '/' and '=' it may contain exercise clients'
// escaping.
func newSQLID() string {
	return base64.StdEncoding.EncodeToString(randomBytes(16))
}
