// Package refserver is soapsess's built-in reference server: an in-process
// http.Handler that speaks three real SOAP session protocols — Microsoft's DSML
// session extension ([MS-DSML]), XML for Analysis sessions (SSAS-like, plus the
// Virtuoso spelling) and SQL Server's native SOAP sessions (sqloptions:sqlSession)
// — with the real servers' session semantics: unguessable IDs, idle expiry,
// sessions bound to the user who began them, and the servers' own fault shapes.
//
// It exists so the CLI can be demonstrated and tested without Windows, SSAS or
// SQL Server. It is written independently of the client packages (stdlib
// encoding/xml only), so that a bug shared by client and server cannot hide;
// the one shared piece is the BER codec of the paged results control
// (package ldapcontrol), which is tested on its own against the encodings
// Windows writes. It stores sessions and an LDAP-like directory (small, or
// with Options.DSMLEntries generated users, searchable in pages inside a DSML
// session as through DSML Services for Windows), and per session state for
// /sql (a temp table and its transaction: a tiny SQL subset is executed, see
// sqlsoap.go) and /xmla (see xmla.go). It executes no other SQL and no MDX.
//
// For testing clients' session handling: Options.IdleTimeouts gives an
// endpoint its own idle timeout; Options.Latency holds every request of a
// session on the server, and Overlaps counts the requests of a session that
// arrived while another of it was in flight (a client should send one at a
// time); ExpireAll expires every session at once, as idleness would.
//
// What it holds is bounded, so that it can be left running and loaded: at
// most Options.MaxSessions live sessions (a begin beyond them gets the
// endpoint's own fault), found for expiry through a heap rather than a scan,
// a few paged-search cursors and session objects per session, a capped
// number of added directory entries, and each request's body must arrive
// within Options.BodyTimeout. LimitListener caps the connections of the
// http.Server it runs in.
package refserver

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	IdleTimeout   time.Duration    // DSML and SSAS-like XMLA sessions expire after this much inactivity (Virtuoso's never do); 0 => 10*time.Minute
	SQLMaxTimeout int              // seconds; the SQL endpoint's SESSION_TIMEOUT (cap and default); 0 => 300
	MaxBody       int64            // max request body bytes; 0 => 1<<20
	Password      string           // if non-empty, every request must carry HTTP Basic auth with this password (any user name), else 401 with an HTML body
	Log           io.Writer        // one line per request; nil => no log
	Now           func() time.Time // clock for expiry; nil => time.Now (tests inject a fake clock)
	// GzipMinimum is the smallest reply gzipped for a client that accepts it;
	// 0 => 1024, as web servers leave small replies alone; 1 gzips everything.
	GzipMinimum int
	// DSMLEntries adds that many generated users to the DSML directory, in
	// the container DSMLUsersDN (cn=Users,dc=example,dc=com), as
	// "cn=User 00001,cn=Users,dc=example,dc=com" and on, each with
	// objectClass (top, person, organizationalPerson, user), cn, sn,
	// sAMAccountName and mail; numbers have at least five digits, zero-padded.
	// They are built when a search reaches them, so a large directory costs
	// almost no memory. 0 => only the small fixed directory, without
	// cn=Users; values above MaxDSMLEntries are cut to it.
	DSMLEntries int
	// IdleTimeouts overrides IdleTimeout for one endpoint, keyed by its
	// path: PathDSML, PathXMLA or PathXMLAVirtuoso (whose sessions expire
	// only when named here); a value of 0 or less leaves the default in
	// force. Other keys are ignored, PathSQL among
	// them: a SQL session keeps the timeout it was granted (SQLMaxTimeout).
	IdleTimeouts map[string]time.Duration
	// Latency holds every request that names a session (a use or an end on
	// any endpoint, not a begin) at least this long on the server, while it
	// counts as in flight for that session (see Overlaps), or until its
	// client goes away. 0 => no delay.
	Latency time.Duration
	// MaxSessions caps the live sessions of all endpoints together; a begin
	// beyond it is refused with the endpoint's own fault (DSML: Bad Session
	// Request, as DSFW answers at MaxSessionsAllowed) until one ends or
	// expires. 0 => DefaultMaxSessions.
	MaxSessions int
	// BodyTimeout is how long a request's body may take to arrive once its
	// headers are in; a slower one is answered 408 and its connection
	// closed, so that a client trickling bytes holds no connection for
	// long. It needs a ResponseWriter that can set read deadlines
	// (http.NewResponseController), as net/http's own does. 0 =>
	// DefaultBodyTimeout.
	BodyTimeout time.Duration
}

// Defaults for Options.
const (
	// DefaultMaxSessions is a hundred times DSFW's MaxSessionsAllowed (100):
	// far more than any test or demonstration opens, few enough to keep the
	// server's memory bounded.
	DefaultMaxSessions = 10000
	// DefaultBodyTimeout lets a full 1 MiB body (the default MaxBody) arrive
	// at 100 KiB/s.
	DefaultBodyTimeout = 10 * time.Second
)

// Server is the reference server. Create it with New; it is safe for
// concurrent use.
type Server struct {
	opts     Options
	idle     map[string]time.Duration // by endpoint; /sql has none
	sqlMax   int
	maxBody  int64
	bodyTime time.Duration
	gzipMin  int
	now      func() time.Time
	sessions *sessionStore
	dir      *directory
	routes   map[string]func(*call) reply
	logMu    sync.Mutex
	flights  flights
	// entered, when set (by tests), is called by each request that names a
	// session once it is in flight for it, before it is held for Latency.
	entered func(endpoint, id string)
}

// Endpoint paths served by the Server.
const (
	PathDSML         = "/dsml"
	PathXMLA         = "/xmla"
	PathXMLAVirtuoso = "/xmla/virtuoso"
	PathSQL          = "/sql"
)

// New returns a Server with its own session table and directory.
func New(opts Options) *Server {
	s := &Server{
		opts:    opts,
		sqlMax:  opts.SQLMaxTimeout,
		maxBody: opts.MaxBody,
		now:     opts.Now,
		dir:     newDirectory(opts.DSMLEntries),
	}
	idle := opts.IdleTimeout
	if idle <= 0 {
		idle = 10 * time.Minute
	}
	s.idle = map[string]time.Duration{}
	for _, p := range []string{PathDSML, PathXMLA, PathXMLAVirtuoso} {
		s.idle[p] = idle
		if d := opts.IdleTimeouts[p]; d > 0 {
			s.idle[p] = d
		}
	}
	if s.sqlMax <= 0 {
		s.sqlMax = 300
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	s.gzipMin = opts.GzipMinimum
	if s.gzipMin <= 0 {
		s.gzipMin = 1024
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.bodyTime = opts.BodyTimeout
	if s.bodyTime <= 0 {
		s.bodyTime = DefaultBodyTimeout
	}
	maxSessions := opts.MaxSessions
	if maxSessions <= 0 {
		maxSessions = DefaultMaxSessions
	}
	s.sessions = newSessionStore(s.now, maxSessions)
	s.routes = map[string]func(*call) reply{
		PathDSML:         s.serveDSML,
		PathXMLA:         s.xmlaHandler(xmlaSSAS),
		PathXMLAVirtuoso: s.xmlaHandler(xmlaVirtuoso),
		PathSQL:          s.serveSQL,
	}
	return s
}

// ActiveSessions returns the number of live (unexpired, unended) sessions
// across all endpoints.
func (s *Server) ActiveSessions() int {
	return s.sessions.active()
}

// ExpireAll expires every live session now, exactly as if its idle timeout
// had passed: each is closed (an open SQL transaction rolled back, XMLA
// session objects and DSML cursors dropped) and its ID is unknown from then
// on. It returns how many sessions it expired. Tests use it to make the server
// forget its sessions without waiting.
func (s *Server) ExpireAll() int {
	return s.sessions.expireAll()
}

// OpenTransactions returns the number of live /sql sessions with an open
// transaction. Ending or expiring a session rolls its transaction back.
func (s *Server) OpenTransactions() int {
	return s.sessions.openTransactions()
}

// Cursors returns the number of open paged searches (DSML paged results
// cursors) across all live sessions. A cursor is freed by the last page of
// its search, by an abandon (size 0 with its cookie), by being discarded when
// its session opens an eleventh, or with its session (EndSession or expiry).
func (s *Server) Cursors() int {
	return s.sessions.cursors()
}

// DSMLEntryDNs returns, in the directory's order, the DNs a DSML search of
// base with searchScope ("baseObject", "singleLevel" or "wholeSubtree") and a filter
// matching everything would return, without the size limit; nil when base
// does not exist. It panics on any other scope.
func (s *Server) DSMLEntryDNs(base, searchScope string) []string {
	sc, ok := map[string]scope{"baseObject": scopeBase, "singleLevel": scopeOne, "wholeSubtree": scopeSub}[searchScope]
	if !ok {
		panic("refserver: DSMLEntryDNs: scope " + strconv.Quote(searchScope) + " is not baseObject, singleLevel or wholeSubtree")
	}
	return s.dir.dns(normDN(base), sc)
}

// call is one accepted SOAP request as the dialect handlers see it.
type call struct {
	r        *http.Request
	endpoint string // the route, e.g. PathDSML
	body     []byte
	user     string // Basic-auth user name, "" when none was sent
	log      *logEntry
	// flight is the session the request is in flight for, once it has
	// named one (Server.inSession).
	flight *sessionKey
}

// reply is a complete SOAP response.
type reply struct {
	status int
	body   []byte
}

// logEntry collects what a handler wants in the request's log line.
type logEntry struct {
	op      string // body operation, e.g. Execute
	action  string // begin, use or end
	session string // full ID; shortened when written
	fault   string
	overlap bool // arrived while another request of its session was in flight
}

const index = `soapsess reference server

POST /dsml           DSML v2 with the Microsoft DSML session extension ([MS-DSML])
POST /xmla           XML for Analysis sessions, SSAS style (SessionId)
POST /xmla/virtuoso  XML for Analysis sessions, OpenLink Virtuoso style (SessionID)
POST /sql            SQL Server native XML Web Services sessions (sqloptions:sqlSession)

Requests: SOAP 1.1, Content-Type text/xml. The server keeps sessions and an
in-memory directory for DSML; inside a DSML session, searches page with the
paged results control (1.2.840.113556.1.4.319). /sql executes only BEGIN TRAN,
COMMIT, ROLLBACK, INSERT INTO #t VALUES (n) and SELECT COUNT(*) FROM #t on a
per-session temp table; /xmla keeps CREATE SESSION SET/MEMBER names and the
begin's Catalog and DataSourceInfo per session (Discover MDSCHEMA_SETS and
DISCOVER_PROPERTIES); nothing else is executed.
`

// ServeHTTP routes a request to the endpoint named by its path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	entry := &logEntry{}
	rec := &statusRecorder{ResponseWriter: w}
	defer func() { s.logRequest(r, rec.statusCode(), entry, time.Since(start)) }()
	// The body must be in by this deadline, whether this handler reads it
	// or net/http drains it after an early reply; net/http clears it once
	// the body has been read to its end, so a request held longer (Latency)
	// is not cut. Without a ResponseWriter that supports deadlines
	// (httptest.ResponseRecorder) there is none.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(start.Add(s.bodyTime))

	// Authentication comes first, as in IIS, so that nothing about the server
	// is revealed to an unauthenticated caller.
	if s.opts.Password != "" && !s.authorized(r) {
		writeUnauthorized(rec)
		return
	}
	if r.URL.Path == "/" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			rec.Header().Set("Allow", "GET, HEAD")
			writePlain(rec, http.StatusMethodNotAllowed, "method not allowed: use GET\n")
			return
		}
		writePlain(rec, http.StatusOK, index)
		return
	}
	handler, ok := s.routes[r.URL.Path]
	if !ok {
		writePlain(rec, http.StatusNotFound, "not found: see / for the endpoints\n")
		return
	}
	if r.Method != http.MethodPost {
		rec.Header().Set("Allow", http.MethodPost)
		writePlain(rec, http.StatusMethodNotAllowed, "method not allowed: SOAP endpoints take POST\n")
		return
	}
	if !isTextXML(r.Header.Get("Content-Type")) {
		writePlain(rec, http.StatusUnsupportedMediaType, "unsupported media type: send Content-Type text/xml (SOAP 1.1)\n")
		return
	}
	// The original writer, not rec: MaxBytesReader uses it to close the
	// connection after an oversized body.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			writePlain(rec, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes\n", s.maxBody))
		case errors.Is(err, os.ErrDeadlineExceeded):
			// net/http closes the connection after this reply: the rest
			// of the body is never read.
			writePlain(rec, http.StatusRequestTimeout, fmt.Sprintf("request body not received within %s\n", s.bodyTime))
		default:
			writePlain(rec, http.StatusBadRequest, "cannot read request body\n")
		}
		return
	}
	user, _, _ := r.BasicAuth()
	rep := s.handle(handler, &call{r: r, endpoint: r.URL.Path, body: body, user: user, log: entry})
	s.writeSOAP(rec, r, rep)
}

// handle runs handler and then ends the request's flight, before its reply is
// written: a client that sends its next request only once it has this reply
// must never be counted as overlapping.
func (s *Server) handle(handler func(*call) reply, c *call) reply {
	defer s.land(c)
	return handler(c)
}

func (s *Server) authorized(r *http.Request) bool {
	_, pass, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.Password)) == 1
}

// isTextXML reports whether a Content-Type names text/xml, the SOAP 1.1 media type.
func isTextXML(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/xml")
}

// unauthorizedPage imitates IIS's 401 page: the case of an HTTP error whose
// body is not SOAP, which clients must report sensibly.
const unauthorizedPage = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>401 - Unauthorized: Access is denied due to invalid credentials.</title>
</head>
<body>
<div id="header"><h1>Server Error</h1></div>
<div id="content">
 <div class="content-container"><fieldset>
  <h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2>
  <h3>You do not have permission to view this directory or page using the credentials that you supplied.</h3>
 </fieldset></div>
</div>
</body>
</html>
`

func writeUnauthorized(w http.ResponseWriter) {
	h := w.Header()
	h.Set("WWW-Authenticate", `Basic realm="soapsess"`)
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", strconv.Itoa(len(unauthorizedPage)))
	w.WriteHeader(http.StatusUnauthorized)
	// A failed write means the client went away; there is no one to tell.
	_, _ = io.WriteString(w, unauthorizedPage)
}

func writePlain(w http.ResponseWriter, status int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, text)
}

// writeSOAP sends a SOAP reply, gzipped when the client asked for it (Go's
// HTTP client always does, which exercises the client's gzip path).
func (s *Server) writeSOAP(w http.ResponseWriter, r *http.Request, rep reply) {
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Add("Vary", "Accept-Encoding")
	body := rep.body
	if len(body) >= s.gzipMin && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		// Writes to a bytes.Buffer cannot fail.
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = buf.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)
}

// acceptsGzip reports whether an Accept-Encoding value lists gzip with a
// non-zero quality.
func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !found {
			return true
		}
		if v, err := strconv.ParseFloat(q, 64); err != nil || v > 0 {
			return true
		}
	}
	return false
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// logRequest writes one line per request. Session IDs are bearer secrets, so
// only their first four characters appear; credentials never do.
func (s *Server) logRequest(r *http.Request, status int, e *logEntry, d time.Duration) {
	if s.opts.Log == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s %d", s.now().UTC().Format(time.RFC3339), r.RemoteAddr, r.Method, r.URL.EscapedPath(), status)
	if e.op != "" {
		b.WriteString(" " + e.op)
	}
	if e.action != "" {
		b.WriteString(" " + e.action)
	}
	if e.session != "" {
		b.WriteString(" session=" + shortID(e.session))
	}
	if e.fault != "" {
		b.WriteString(" fault=" + e.fault)
	}
	fmt.Fprintf(&b, " %s", d.Round(100*time.Microsecond))
	if e.overlap {
		b.WriteString(" overlap")
	}
	b.WriteString("\n")
	s.logMu.Lock()
	defer s.logMu.Unlock()
	// Logging must never fail a request; a broken log writer is the caller's to notice.
	_, _ = io.WriteString(s.opts.Log, b.String())
}

// shortID keeps the first four characters of an ID, made safe for a log line
// (IDs sent by clients may contain anything).
func shortID(id string) string {
	var b strings.Builder
	n := 0
	for _, c := range id {
		if n == 4 {
			break
		}
		if c <= ' ' || c == 0x7f || c == '\u2028' || c == '\u2029' {
			c = '?'
		}
		b.WriteRune(c)
		n++
	}
	return b.String() + "…"
}
