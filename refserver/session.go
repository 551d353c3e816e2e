package refserver

import (
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
)

type session struct {
	user     string
	lastUsed time.Time
	idle     time.Duration
}

func (s *session) expired(now time.Time) bool {
	return !now.Before(s.lastUsed.Add(s.idle))
}

// sessionKey scopes IDs to the endpoint that issued them: a session begun on
// /xmla is unknown on /xmla/virtuoso, as SQL Server requires for its endpoints.
type sessionKey struct {
	endpoint string
	id       string
}

// sessionStore holds the live sessions of all endpoints. Expired sessions are
// removed lazily, whenever a request or ActiveSessions looks at the table.
type sessionStore struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[sessionKey]*session
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{now: now, m: map[sessionKey]*session{}}
}

// begin creates a session bound to user and returns its new ID.
func (st *sessionStore) begin(endpoint string, newID func() string, user string, idle time.Duration) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweep(now)
	for {
		k := sessionKey{endpoint, newID()}
		if _, taken := st.m[k]; taken {
			continue
		}
		st.m[k] = &session{user: user, lastUsed: now, idle: idle}
		return k.id
	}
}

// touch validates a request inside a session and restarts its idle timer.
// A request from another user leaves the session exactly as it was.
func (st *sessionStore) touch(endpoint, id, user string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	s, err := st.lookup(sessionKey{endpoint, id}, user, now)
	if err != nil {
		return err
	}
	s.lastUsed = now
	return nil
}

// end validates a request inside a session and removes the session. Claiming
// the removal before the body runs makes two racing ends see one success.
func (st *sessionStore) end(endpoint, id, user string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	k := sessionKey{endpoint, id}
	if _, err := st.lookup(k, user, st.now()); err != nil {
		return err
	}
	delete(st.m, k)
	return nil
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
		delete(st.m, k)
		return nil, errNoSession
	}
	if s.user != user {
		return nil, errWrongUser
	}
	return s, nil
}

// sweep must be called with mu held.
func (st *sessionStore) sweep(now time.Time) {
	for k, s := range st.m {
		if s.expired(now) {
			delete(st.m, k)
		}
	}
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
