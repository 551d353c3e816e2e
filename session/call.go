package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/soapsess/soapsess/envelope"
	"github.com/soapsess/soapsess/reply"
	"github.com/soapsess/soapsess/state"
	"github.com/soapsess/soapsess/transport"
	"github.com/soapsess/soapsess/xmltok"
)

// Conn is how calls reach the server: the transport's settings (auth and
// credentials, TLS, proxy, timeouts, extra headers) and a SOAPAction to send
// instead of the dialect's.
type Conn struct {
	transport.Options
	Action string
}

// Body is a request body. Its zero value asks for the dialect's own body
// for the phase (an error when it has none: ErrNoBody).
type Body struct {
	R        io.Reader // one XML element, or a whole SOAP envelope
	Name     string    // for messages: a file name, "standard input"
	Template bool      // fill in the template values ({{.Var.name}}, {{.ID}}, …) first
	// Max is the most bytes a body may have; 0 means DefaultMaxBody. A
	// larger one is refused (*BodyTooLargeError) having read at most Max+1
	// bytes of R, so that /dev/zero or a runaway pipe cannot take the memory.
	Max int64
}

// DefaultMaxBody is the limit on a request body when Body.Max is 0. A body
// is held whole (to check it, to send it again after a restart, to keep it
// in a journal), a few times over as the envelope is built and sent.
const DefaultMaxBody = 256 << 20

// ErrNoBody is returned when no body is given and the dialect has none of
// its own for the phase.
var ErrNoBody = errors.New("no body given, and the dialect has none of its own")

// Sinks say where a reply goes as it streams. All are optional.
type Sinks struct {
	// Header receives the SOAP Header element, standing alone.
	Header reply.TokenWriter
	// Body receives each element of the SOAP Body, standing alone.
	Body reply.TokenWriter
	// Raw receives the reply's bytes as received (decompressed); Header and
	// Body still receive their parts.
	Raw io.Writer
	// NotSOAP receives a reply that is not a SOAP envelope, whole (an HTML
	// error page), so that nothing the server sent is lost.
	NotSOAP io.Writer
	// Keep holds the whole reply (up to KeepLimit) in Result.Kept.
	Keep bool
	// Arrived is called when the final reply's status and headers are in,
	// before its body streams.
	Arrived func(*transport.Response)
	// Reading wraps the reply body as it streams (to show progress).
	Reading func(io.Reader) io.Reader
}

// KeepLimit bounds a reply held whole: a begin or end reply, to find the
// session ID or the end's confirmation in it, or one kept with Sinks.Keep.
const KeepLimit = 64 << 20

// Result is what a call brought back.
type Result struct {
	// Reply is the final reply's status line and headers; nil when no reply
	// came. Its body has been read.
	Reply *transport.Response
	// SOAP says the reply was a SOAP envelope: the server's SOAP stack
	// answered (a fault included).
	SOAP bool
	// Problems are the faults, errors and warnings the reply reported, in
	// its order. The first error is also the call's *FaultError.
	Problems []reply.Problem
	// Kept is the whole reply, with Sinks.Keep.
	Kept []byte
	// Preview is the request a dry run would have sent.
	Preview *Preview
	// Session is the session as the call leaves it: begun, used, or (end)
	// as it was before it ended.
	Session *Session
	// Granted is the session timeout a begin's reply granted, in seconds (0
	// when it says none); compare with the one asked for.
	Granted int
	// Attempts is how many requests an end took.
	Attempts int
	// Gone says, for an end, that the server no longer knew the session
	// (its words): it had ended or expired, and is forgotten here too.
	Gone string
	// Orphan is the ID of a session the reply of a failed begin opened
	// nonetheless; it was ended again unless OrphanErr says why not.
	Orphan    string
	OrphanErr error
	// Replayed is how many journal requests a new begin replayed (Again);
	// Restarted says a request was sent again in a new session.
	Replayed  int
	Restarted *Restart
	// Pages and Entries are what SendAllPages read; AbandonErr is why a
	// search it gave up could not be abandoned on the server (nil when it
	// was, or when none was left open).
	Pages, Entries int
	AbandonErr     error
	// Captured are the variables the reply set (see envelope.Capture),
	// Cleared those it removed, Unmatched the captures whose value it did
	// not hold (the variables stay as they were). CaptureSkipped says the
	// reply was too large to search for them.
	// EndWarnings say what an end dropped with the session (an open
	// transaction), as the dialect's captures declare.
	EndWarnings    []string
	Captured       map[string]string
	Cleared        []string
	Unmatched      []string
	CaptureSkipped bool

	parsed *reply.Reply
}

// Preview is a request as it would first go on the wire, secrets redacted.
type Preview struct {
	Head     string // request line and headers
	Envelope []byte
}

// exchange is one SOAP call of a session.
type exchange struct {
	url     string
	dialect *envelope.Dialect
	conn    Conn
	client  *transport.Client // made for conn
	req     envelope.Request
	sinks   Sinks
	whole   bool // parse the whole reply: begin and end read it
	dryRun  bool
	// captures, the dialect's and the request's, are applied to the reply;
	// one too large to hold whole is not searched (Result.CaptureSkipped).
	captures []envelope.Capture
}

// newClient makes the HTTP client for a connection's settings.
func (m *Manager) newClient(c Conn) (*transport.Client, error) {
	proxy := m.ProxyFromEnv
	if proxy == nil {
		proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	}
	cl, err := transport.New(c.Options, proxy)
	if err != nil {
		return nil, err
	}
	if m.UserAgent != "" {
		cl.UserAgent = m.UserAgent
	}
	cl.Trace = m.Trace
	return cl, nil
}

// do builds and posts the request and streams the reply to the sinks. It
// returns a Result whenever the server answered, with an error when the
// answer is not a success.
func (m *Manager) do(ctx context.Context, x exchange) (*Result, error) {
	x.req.Action = x.conn.Action
	req, err := x.dialect.NewRequest(ctx, x.url, x.req)
	if err != nil {
		return nil, err
	}
	cl := x.client
	cl.Secrets = cl.Secrets[:0]
	for name, v := range x.req.Values.Vars {
		if transport.SecretName(name) {
			cl.Secrets = append(cl.Secrets, v)
		}
	}
	res := &Result{}
	if x.dryRun {
		head, env, err := cl.Preview(req)
		if err != nil {
			return nil, err
		}
		res.Preview = &Preview{Head: head, Envelope: env}
		return res, nil
	}
	resp, err := cl.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &InterruptedError{URL: x.url, While: "waiting for", Err: err}
		}
		return nil, err
	}
	defer resp.Body.Close()
	res.Reply = resp
	if x.sinks.Arrived != nil {
		x.sinks.Arrived(resp)
	}

	got := &counter{r: resp.Body}
	var body io.Reader = got
	if x.sinks.Reading != nil {
		body = x.sinks.Reading(body)
	}
	var keep *bytes.Buffer
	if x.whole || x.sinks.Keep || len(x.captures) > 0 {
		keep = &bytes.Buffer{}
		body = io.TeeReader(body, &limited{w: keep, n: KeepLimit})
	}
	opt := reply.StreamOptions{RequireSOAP: true, NotSOAP: x.sinks.NotSOAP, Header: x.sinks.Header, Body: x.sinks.Body,
		Errors: x.dialect.Errors()}
	if x.sinks.Raw != nil {
		body = io.TeeReader(body, x.sinks.Raw)
		opt.NotSOAP = nil
	}
	if opt.NotSOAP == nil {
		opt.NotSOAP = io.Discard // still read to the end: Raw and Keep see it all
	}
	st, serr := reply.Stream(body, opt)
	if st != nil {
		res.Problems = st.Problems
	}
	ct := resp.Header.Get("Content-Type")
	if serr != nil {
		if ctx.Err() != nil {
			return res, &InterruptedError{URL: x.url, While: "reading the reply from", Err: serr}
		}
		var ns *reply.NotSOAPError
		var te *transport.Error
		switch {
		case errors.As(serr, &te) && errors.Is(te, io.ErrUnexpectedEOF):
			// Short of its Content-Length or last chunk, or of the end of its
			// gzip stream: cut off. Not an answer, so not counted.
			return res, &TruncatedError{URL: x.url, Received: got.n, Gzip: gzipped(resp), Err: te}
		case errors.As(serr, &te): // the connection broke, or the gzip stream did
			return res, te
		case errors.Is(serr, xmltok.ErrIncomplete) && closeDelimited(resp):
			// Its end is where the connection closed, so only the document
			// shows that it was cut.
			return res, &TruncatedError{URL: x.url, Received: got.n, Gzip: gzipped(resp),
				Err: &transport.Error{URL: x.url, Reached: true, Err: fmt.Errorf("reading the reply: %w", serr)}}
		case errors.As(serr, &ns):
			if got.n == 0 {
				serr = &reply.NotSOAPError{Err: ErrEmptyReply}
			}
			if loc := resp.Header.Get("Location"); resp.Status >= 300 && resp.Status < 400 && loc != "" {
				return res, &RedirectError{URL: x.url, Reason: resp.Reason, Location: loc}
			}
			if !resp.OK() {
				return res, newHTTPError(x.url, resp, ct, false, serr)
			}
			return res, &ReplyError{URL: x.url, Reason: resp.Reason, ContentType: ct, Err: serr}
		}
		res.SOAP = true
		if !resp.OK() {
			return res, newHTTPError(x.url, resp, ct, true, serr)
		}
		return res, &ReplyError{URL: x.url, Reason: resp.Reason, ContentType: ct, Err: &MalformedError{serr}}
	}
	res.SOAP = true
	// A reply that reports an error may still change the session's state
	// (a failed batch that ended a transaction): it is read for captures
	// too, and parsed for whoever needs it whole, before its error returns.
	fe := firstError(res.Problems, x)
	failed := fe != nil || !resp.OK()
	if keep != nil {
		switch {
		case keep.Len() >= KeepLimit:
			if !failed && (x.whole || x.sinks.Keep) {
				return res, &ReplyError{URL: x.url, Reason: resp.Reason, ContentType: ct, Err: ErrTooLarge}
			}
			res.CaptureSkipped = len(x.captures) > 0
		default:
			parsed, perr := reply.Parse(keep.Bytes())
			if perr != nil {
				if !failed {
					return res, &ReplyError{URL: x.url, Reason: resp.Reason, ContentType: ct, Err: perr}
				}
				break
			}
			res.parsed = parsed
			if x.sinks.Keep {
				res.Kept = keep.Bytes()
			}
			if err := res.capture(x.captures); err != nil && !failed {
				return res, err
			}
		}
	}
	if fe != nil {
		return res, fe
	}
	if !resp.OK() {
		return res, newHTTPError(x.url, resp, ct, true, nil)
	}
	return res, nil
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// closeDelimited reports a reply whose body ends where the connection
// closes: HTTP/1.x with neither Content-Length nor chunked encoding (RFC
// 9112 6.3), where a cut connection looks like the end of the body.
func closeDelimited(r *transport.Response) bool {
	if !strings.HasPrefix(r.Proto, "HTTP/1.") || r.Header.Get("Content-Length") != "" {
		return false
	}
	return len(r.TransferEncoding) == 0 // Go takes it out of the header
}

// gzipped reports a reply sent gzipped (the transport decodes it).
func gzipped(r *transport.Response) bool {
	return strings.Contains(strings.ToLower(strings.Join(r.Header.Values("Content-Encoding"), ",")), "gzip")
}

// capture applies captures to the parsed reply, in order (a request's
// after its dialect's): a Clear that holds removes the variable, a Value
// that selects something sets it.
func (res *Result) capture(cs []envelope.Capture) error {
	for _, c := range cs {
		if c.Clear != nil {
			ok, err := res.parsed.Matches(c.Clear)
			if err != nil {
				return err
			}
			if ok {
				delete(res.Captured, c.Name)
				res.Cleared = append(res.Cleared, c.Name)
			}
		}
		if c.Value == nil {
			continue
		}
		vs, err := res.parsed.Values(c.Value)
		if err != nil {
			return err
		}
		if len(vs) == 0 || vs[0] == "" {
			res.Unmatched = append(res.Unmatched, c.Name)
			continue
		}
		if res.Captured == nil {
			res.Captured = map[string]string{}
		}
		res.Captured[c.Name] = vs[0]
		res.Cleared = slices.DeleteFunc(res.Cleared, func(n string) bool { return n == c.Name })
	}
	// A name another capture of the same name set is not unmatched.
	res.Unmatched = slices.DeleteFunc(res.Unmatched, func(n string) bool { _, ok := res.Captured[n]; return ok })
	slices.Sort(res.Unmatched)
	res.Unmatched = slices.Compact(res.Unmatched)
	return nil
}

// MalformedError is wrapped by the ReplyError of a SOAP reply that is not
// well-formed XML.
type MalformedError struct{ Err error }

func (e *MalformedError) Error() string { return "not well-formed XML: " + e.Err.Error() }
func (e *MalformedError) Unwrap() error { return e.Err }

// firstError is the first error among the problems, rejected when any
// error says the server does not know the session (never on a begin).
func firstError(ps []reply.Problem, x exchange) *FaultError {
	var first *FaultError
	for _, p := range ps {
		if p.Severity != reply.SeverityError {
			continue
		}
		if first == nil {
			first = &FaultError{Problem: p}
		}
		if x.req.Phase != envelope.Begin && x.dialect.Rejected(p) {
			first.Rejected = true
		}
	}
	return first
}

// limited keeps at most n bytes and drops the rest; the reply still streams.
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// loaded is a request body read whole, so that it can be built again (a
// restart) and kept (a journal); given is false for the dialect's own.
type loaded struct {
	raw      []byte
	given    bool
	name     string
	template bool
}

// load reads a body whole, up to its limit.
func load(b Body) (loaded, error) {
	if b.R == nil {
		return loaded{}, nil
	}
	name := b.Name
	if name == "" {
		name = "the body"
	}
	limit := b.Max
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	raw, err := readAtMost(b.R, limit)
	if errors.Is(err, errOverLimit) {
		return loaded{}, &envelope.BodyError{Err: &BodyTooLargeError{Name: name, Limit: limit}}
	}
	if err != nil {
		return loaded{}, &envelope.BodyError{Err: fmt.Errorf("read %s: %w", name, err)}
	}
	return loaded{raw: raw, given: true, name: name, template: b.Template}, nil
}

var errOverLimit = errors.New("over the limit")

// readAtMost reads r to its end, or fails with errOverLimit once it has
// read limit+1 bytes. A regular file larger than limit is refused without
// reading it. Pieces are read as they come and joined once at the end: a
// body refused costs about its limit in memory, one accepted about twice
// its size, where io.ReadAll's one growing slice peaks at more than twice
// the limit (575 MB of RSS to refuse 256 MiB, against 259 MB).
func readAtMost(r io.Reader, limit int64) ([]byte, error) {
	if f, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
			return nil, errOverLimit
		}
	}
	lr := io.LimitReader(r, limit+1)
	var (
		pieces [][]byte
		total  int64
		size   = 32 << 10
	)
	for {
		piece := make([]byte, size)
		n := 0
		var err error
		for n < len(piece) && err == nil {
			var m int
			m, err = lr.Read(piece[n:])
			n += m
		}
		if n > 0 {
			pieces = append(pieces, piece[:n])
			total += int64(n)
		}
		if total > limit {
			return nil, errOverLimit
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		size = min(2*size, 8<<20)
	}
	if len(pieces) == 1 {
		return pieces[0], nil
	}
	raw := make([]byte, 0, total)
	for _, p := range pieces {
		raw = append(raw, p...)
	}
	return raw, nil
}

// build checks the body and fills in its template, or takes the dialect's
// own for phase p.
func (l loaded) build(d *envelope.Dialect, p envelope.Phase, v envelope.Values) (*envelope.Body, error) {
	if !l.given {
		def, ok, err := d.DefaultBody(p, v)
		if !ok {
			return nil, ErrNoBody
		}
		return def, err
	}
	raw := l.raw
	if l.template {
		var err error
		if raw, err = d.RenderBody(l.name, raw, v); err != nil {
			return nil, err
		}
	}
	eb, err := envelope.ParseBody(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	return eb, nil
}

// request is the body as a journal keeps it, with what went with it.
func (l loaded) request(vars map[string]string, caps []envelope.Capture, now time.Time) state.Request {
	r := state.Request{Template: l.template, Vars: vars, Added: now}
	if l.given {
		r.Body, r.BodyName = string(l.raw), l.name
	}
	for _, c := range caps {
		if c.XPath != "" {
			r.Captures = append(r.Captures, state.Capture{Name: c.Name, XPath: c.XPath, NS: c.NS})
		}
	}
	return r
}

// bodyOf is a kept request's body, to send again.
func bodyOf(r state.Request) Body {
	if r.BodyName == "" && r.Body == "" {
		return Body{}
	}
	return Body{R: strings.NewReader(r.Body), Name: r.BodyName, Template: r.Template}
}
