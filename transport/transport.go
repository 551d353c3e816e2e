// Package transport posts SOAP requests over HTTP(S) and hands back the
// reply with its body still streaming, telling apart failures before the
// server was reached from failures after. It owns what goes on the wire
// besides the envelope: authentication (Basic, Digest, NTLM, Kerberos),
// TLS, proxies, timeouts, compression, and the one rendering of requests
// and replies, as
// written on the connection and with secrets redacted, that a Trace and a
// Preview show.
package transport

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/go-ntlmssp"
)

// Response is the server's final reply. Body streams, decompressed; the
// caller closes it. A failure while reading it is an *Error.
type Response struct {
	Proto   string
	Status  int
	Reason  string // e.g. "500 Internal Server Error"
	Header  http.Header
	Body    io.ReadCloser
	Elapsed time.Duration // until the status line and headers arrived
	// TransferEncoding is the reply's Transfer-Encoding, which Go takes
	// out of Header ("chunked").
	TransferEncoding []string
	resp             *http.Response
	head             string
}

// Head is the status line and headers as a trace shows them (rendered, and
// redacted, when first asked for: most runs never do).
func (r *Response) Head() string {
	if r.head == "" && r.resp != nil {
		r.head = renderResponse(r.resp)
	}
	return r.head
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Error is a transport failure. Reached says whether the request may have
// reached the server (so a session may have changed state there).
type Error struct {
	URL     string
	Reached bool
	Err     error
}

func (e *Error) Error() string { return fmt.Sprintf("POST %s: %v", e.URL, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// ErrMaxTime is wrapped by the Error of a request that ran out of
// Options.MaxTime.
var ErrMaxTime = errors.New("no reply within the time allowed")

// ConfigError says which connection setting cannot be used.
type ConfigError struct {
	Setting string // "auth", "cacert", "cert", "key" or "proxy"
	Value   string
	Err     error
}

func (e *ConfigError) Error() string { return e.Setting + " " + e.Value + ": " + e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// ErrURLCredentials is wrapped by the error for a URL (endpoint or proxy)
// with a user or password in it: they would be kept on disk with the session.
var ErrURLCredentials = errors.New("credentials in the URL are not accepted")

// URLError says an endpoint URL cannot be a SOAP endpoint.
type URLError struct {
	URL string
	Err error
}

func (e *URLError) Error() string { return e.URL + ": " + e.Err.Error() }
func (e *URLError) Unwrap() error { return e.Err }

// CheckURL refuses what cannot be a SOAP endpoint: anything but an http://
// or https:// URL with a host, and credentials in the URL.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &URLError{URL: raw, Err: errors.New("want an http:// or https:// URL")}
	}
	if u.User != nil {
		return &URLError{URL: u.Redacted(), Err: ErrURLCredentials}
	}
	return nil
}

// Auth is an HTTP authentication method.
type Auth string

// Auth methods. The zero value is Basic when a user is given.
const (
	AuthBasic     Auth = "basic"
	AuthDigest    Auth = "digest"
	AuthNTLM      Auth = "ntlm"
	AuthKerberos  Auth = "kerberos"  // Kerberos inside SPNEGO (Negotiate)
	AuthNegotiate Auth = "negotiate" // SPNEGO as Windows does it: Kerberos when it can, else NTLM
	AuthNone      Auth = "none"
)

// AuthMethods lists the methods ParseAuth takes.
var AuthMethods = []Auth{AuthBasic, AuthDigest, AuthNTLM, AuthKerberos, AuthNegotiate, AuthNone}

// ParseAuth checks an auth method's name; "" is the default (Basic with a
// user).
func ParseAuth(s string) (Auth, error) {
	if s == "" {
		return "", nil
	}
	for _, a := range AuthMethods {
		if string(a) == s {
			return a, nil
		}
	}
	return "", &ConfigError{Setting: "auth", Value: s, Err: errors.New("unknown method")}
}

// NTLM reports whether the method may be an NTLM handshake.
func (a Auth) NTLM() bool { return a == AuthNTLM || a == AuthNegotiate }

// Challenged reports whether the method answers the server's 401: the
// first request goes without credentials.
func (a Auth) Challenged() bool { return a != "" && a != AuthBasic && a != AuthNone }

// Options shape how a client connects. The zero value is safe: TLS verified
// against the system's CAs, the proxy New's caller chooses, Basic auth when
// a user is given.
type Options struct {
	Auth           Auth
	User           string // DOMAIN\user, user@domain or a plain name
	Password       string
	CACert         string // PEM file of CAs to trust besides the system's
	Cert, Key      string // PEM files of a client certificate and its key
	Insecure       bool   // do not verify the server's certificate
	Proxy          string // proxy URL; "" uses ProxyFromEnv
	ConnectTimeout time.Duration
	MaxTime        time.Duration // bounds a whole request, reply included; 0 for none
	Header         http.Header   // extra request headers, replacing ours of the same name
	// Kerberos is where Kerberos (AuthKerberos, AuthNegotiate) finds its
	// configuration and tickets; SPN names the service when the URL's host
	// does not (HTTP/host).
	Kerberos Kerberos
	SPN      string
	// Jar, when set, gives every request the cookies it holds for the URL
	// and is handed every cookie a reply sets, each round of an NTLM
	// handshake included (a load balancer's affinity cookie on the first
	// 401 must come back on the next round). Traces show their values as
	// [redacted].
	Jar http.CookieJar
}

// Kerberos says where Kerberos's files are, as the caller found them (this
// package reads no environment): Config is krb5.conf ($KRB5_CONFIG, else
// /etc/krb5.conf), CCache the credential cache ($KRB5CCNAME, "FILE:" prefix
// allowed; only FILE caches can be read). A password, when Options has one,
// logs in instead of the cache.
type Kerberos struct {
	Config string
	CCache string
}

// Trace receives what goes over the wire, rendered with secrets redacted
// (see RenderRequest). Any field may be nil.
type Trace struct {
	// Request is called for every HTTP request as it is sent, each round of
	// an NTLM handshake included, with its head (request line and headers)
	// and its body.
	Request func(head string, body []byte)
	// Response is called with the head of every reply as it arrives.
	Response func(head string)
	// ReplyBody receives a copy of the final reply's body as it streams.
	ReplyBody io.Writer
}

// Client posts requests. Use New.
type Client struct {
	http *http.Client
	opt  Options
	// UserAgent is sent with every request.
	UserAgent string
	// IdleTimeout bounds a pause while the reply body streams.
	IdleTimeout time.Duration
	// Trace, when set, sees each request and reply.
	Trace *Trace
	// Secrets are values a trace hides wherever they appear, as it does
	// the password (template variables whose names say they are secret).
	Secrets []string

	proxy func(*http.Request) (*url.URL, error) // nil: none
	tr    *http.Transport
}

// Timeouts for one request.
const (
	ConnectTimeout = 15 * time.Second
	ReplyTimeout   = 5 * time.Minute // servers may compute long before the first byte
	// IdleTimeout is how long a reply may send nothing before it is given up.
	IdleTimeout = 2 * time.Minute
)

// The request headers every SOAP request carries.
const (
	accept         = "text/xml, application/soap+xml, */*;q=0.5"
	acceptEncoding = "gzip"
)

// New returns a client configured by opt, with proxies chosen by
// proxyFromEnv when opt.Proxy is empty (http.ProxyFromEnvironment, or nil
// for none).
func New(opt Options, proxyFromEnv func(*http.Request) (*url.URL, error)) (*Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opt.Insecure}
	if opt.CACert != "" {
		pem, err := os.ReadFile(opt.CACert)
		if err != nil {
			return nil, &ConfigError{Setting: "cacert", Value: opt.CACert, Err: err}
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{Setting: "cacert", Value: opt.CACert, Err: errors.New("no PEM certificate in it")}
		}
		tlsConf.RootCAs = pool
	}
	if opt.Cert != "" || opt.Key != "" {
		if opt.Cert == "" || opt.Key == "" {
			return nil, &ConfigError{Setting: "cert", Value: opt.Cert, Err: errors.New("a client certificate and its key go together")}
		}
		pair, err := tls.LoadX509KeyPair(opt.Cert, opt.Key)
		if err != nil {
			return nil, &ConfigError{Setting: "cert", Value: opt.Cert, Err: err}
		}
		tlsConf.Certificates = []tls.Certificate{pair}
	}
	proxy := proxyFromEnv
	if opt.Proxy != "" {
		u, err := url.Parse(opt.Proxy)
		if err != nil || u.Host == "" {
			return nil, &ConfigError{Setting: "proxy", Value: opt.Proxy, Err: errors.New("not a URL")}
		}
		if u.User != nil {
			return nil, &ConfigError{Setting: "proxy", Value: u.Redacted(), Err: ErrURLCredentials}
		}
		proxy = http.ProxyURL(u)
	}
	if _, err := ParseAuth(string(opt.Auth)); err != nil {
		return nil, err
	}
	connect := opt.ConnectTimeout
	if connect <= 0 {
		connect = ConnectTimeout
	}
	c := &Client{opt: opt, UserAgent: "soapsess", IdleTimeout: IdleTimeout, proxy: proxy}
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   connect,
		TLSClientConfig:       tlsConf,
		ResponseHeaderTimeout: ReplyTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		// Accept-Encoding is set on the request and gzip decoded here, so
		// that the request a trace shows is the one on the wire.
		DisableCompression: true,
	}
	// The trace sits below the auth handshakes (Digest, NTLM, Kerberos), so
	// it sees every round; the cookies between the two, so that every round
	// carries them and the trace shows the Cookie header as sent.
	var rt http.RoundTripper = &tracer{next: tr, c: c}
	if opt.Jar != nil {
		rt = &cookies{next: rt, jar: opt.Jar}
	}
	// The credentials ride to the method's RoundTripper as Basic auth on
	// the request (see prepare); it takes them off before anything is sent.
	switch opt.Auth {
	case AuthDigest:
		var err error
		if rt, err = digestAuth(rt, opt); err != nil {
			return nil, err
		}
	case AuthKerberos, AuthNegotiate:
		var err error
		if rt, err = negotiateAuth(rt, opt); err != nil {
			return nil, err
		}
	case AuthNTLM:
		// The Negotiator answers a 401 offering NTLM or Negotiate with the
		// NTLMv2 handshake; it never sends the credentials as Basic
		// (AllowBasicAuth is off).
		rt = ntlmssp.Negotiator{RoundTripper: rt}
	}
	c.http = &http.Client{Transport: rt, CheckRedirect: noRedirects}
	c.tr = tr
	return c, nil
}

// CloseIdleConnections closes the connections kept for the next request.
func (c *Client) CloseIdleConnections() { c.tr.CloseIdleConnections() }

// viaProxy is the proxy a plain http:// request is written to, nil when
// none: an https:// request goes through a CONNECT tunnel as it is.
func (c *Client) viaProxy(r *http.Request) *url.URL {
	if c.proxy == nil || r.URL.Scheme != "http" {
		return nil
	}
	u, err := c.proxy(r)
	if err != nil {
		return nil
	}
	return u
}

// noRedirects hands a redirect back instead of following it: following a
// POST turns it into a GET without the envelope.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// prepare adds what every request carries: the headers, extra headers and
// credentials. For the methods that answer a challenge (Digest, NTLM,
// Kerberos) the credentials ride as Basic auth to the method's
// RoundTripper, which takes them off before anything is sent.
func (c *Client) prepare(req *http.Request) error {
	if err := CheckURL(req.URL.String()); err != nil {
		return err
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", acceptEncoding)
	req.Header.Set("User-Agent", c.UserAgent)
	for k, vs := range c.opt.Header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.opt.User != "" && c.opt.Auth != AuthNone {
		req.SetBasicAuth(c.opt.User, c.opt.Password)
	}
	return nil
}

// Preview renders the request as it would first go on the wire, sending
// nothing: with NTLM, the first request carries no credentials, and the
// handshake follows the server's 401.
func (c *Client) Preview(req *http.Request) (head string, body []byte, err error) {
	if err := c.prepare(req); err != nil {
		return "", nil, err
	}
	if c.opt.Auth.Challenged() {
		req.Header.Del("Authorization")
	}
	if c.opt.Jar != nil {
		for _, ck := range c.opt.Jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
	}
	return c.render(req)
}

func (c *Client) render(req *http.Request) (string, []byte, error) {
	raw, err := wire(req, c.viaProxy(req))
	if err != nil {
		return "", nil, err
	}
	head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	secrets := c.secrets()
	return renderHead(head, secrets...), redact(body, secrets...), nil
}

// secrets are the password, and the user and password as Basic auth
// carries them, for redaction by value.
func (c *Client) secrets() []string {
	if c.opt.Password == "" {
		return c.Secrets
	}
	basic := base64.StdEncoding.EncodeToString([]byte(c.opt.User + ":" + c.opt.Password))
	return append([]string{c.opt.Password, basic}, c.Secrets...)
}

// Do posts req (its context bounds it) and returns the final reply,
// whatever its status, with its body still to be read.
func (c *Client) Do(req *http.Request) (*Response, error) {
	if err := c.prepare(req); err != nil {
		return nil, err
	}
	ctx := req.Context()
	var cancel context.CancelFunc
	if c.opt.MaxTime > 0 {
		ctx, cancel = context.WithTimeoutCause(ctx, c.opt.MaxTime, fmt.Errorf("%w (%s)", ErrMaxTime, c.opt.MaxTime))
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	req = req.WithContext(ctx)
	where := req.URL.Redacted()
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		if cause := context.Cause(ctx); errors.Is(cause, ErrMaxTime) {
			err = cause
		}
		// A login that failed before the request went (Kerberos) never reached
		// the server with it, whatever legs went before.
		return nil, &Error{URL: where, Reached: reached(err) && !errors.As(err, new(*KerberosError)), Err: unwrapURL(err)}
	}
	out := &Response{Proto: resp.Proto, Status: resp.StatusCode, Reason: resp.Status, Header: resp.Header,
		Elapsed: time.Since(start), TransferEncoding: resp.TransferEncoding, resp: resp}
	rb := &replyBody{r: resp.Body, c: resp.Body, url: where, ctx: ctx, cancel: cancel, idle: c.IdleTimeout, gzip: gzipped(resp.Header)}
	if rb.idle > 0 {
		rb.timer = time.AfterFunc(rb.idle, func() { rb.stalled.Store(true); cancel() })
	}
	out.Body = rb
	if c.Trace != nil && c.Trace.ReplyBody != nil {
		out.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(rb, c.Trace.ReplyBody), rb}
	}
	return out, nil
}

// gzipped reports a body sent with gzip (x-gzip is its old name, RFC 9110
// 8.4.1.3), identity codings aside.
func gzipped(h http.Header) bool {
	var codings []string
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	return len(codings) == 1 && (codings[0] == "gzip" || codings[0] == "x-gzip")
}

// cookies sends the jar's cookies with every request and hands the jar
// those every reply sets, as http.Client does with its Jar, but for each
// round of an NTLM handshake (which happens below http.Client).
type cookies struct {
	next http.RoundTripper
	jar  http.CookieJar
}

func (c *cookies) RoundTrip(req *http.Request) (*http.Response, error) {
	if cs := c.jar.Cookies(req.URL); len(cs) > 0 {
		req = req.Clone(req.Context()) // a RoundTripper must not change its request
		for _, ck := range cs {
			req.AddCookie(ck)
		}
	}
	resp, err := c.next.RoundTrip(req)
	if err == nil {
		if rc := resp.Cookies(); len(rc) > 0 {
			c.jar.SetCookies(req.URL, rc)
		}
	}
	return resp, err
}

// tracer shows every request and reply that goes over the wire.
type tracer struct {
	next http.RoundTripper
	c    *Client
}

func (t *tracer) RoundTrip(req *http.Request) (*http.Response, error) {
	tr := t.c.Trace
	if tr != nil && tr.Request != nil {
		// The head as Go writes it; the body from GetBody, as the transport
		// reads req.Body itself.
		if head, body, err := t.c.render(req); err == nil {
			tr.Request(head, body)
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil && tr != nil && tr.Response != nil {
		tr.Response(renderResponse(resp))
	}
	return resp, err
}

// wire is the request exactly as written on the connection, body included;
// through a proxy with the absolute URL, and the Proxy-Authorization Go's
// transport adds for a proxy URL with credentials.
func wire(req *http.Request, proxy *url.URL) ([]byte, error) {
	r := req.Clone(req.Context())
	if proxy != nil && proxy.User != nil && r.Header.Get("Proxy-Authorization") == "" {
		pw, _ := proxy.User.Password()
		r.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(proxy.User.Username()+":"+pw)))
	}
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = b
	} else if req.Body != nil && req.Body != http.NoBody {
		return nil, errors.New("the request body cannot be read twice")
	}
	var buf bytes.Buffer
	write := r.Write
	if proxy != nil {
		write = r.WriteProxy
	}
	if err := write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// replyBody decodes gzip, turns read failures into transport errors, and
// gives up on a reply that stops sending for longer than idle. A failure
// names its cause (MaxTime, idle) and stays: a reader that reads on gets
// it again, not the closed connection the cause left behind.
type replyBody struct {
	r       io.Reader
	c       io.Closer
	gzip    bool
	zr      *gzip.Reader
	url     string
	ctx     context.Context // the request's: its cause says why it ended
	cancel  context.CancelFunc
	idle    time.Duration
	timer   *time.Timer
	stalled atomic.Bool
	err     error // the first read failure, returned from then on
}

func (b *replyBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	var (
		n   int
		err error
	)
	switch {
	case b.gzip && b.zr == nil:
		b.zr, err = gzip.NewReader(&idleReader{b})
		if err == nil {
			n, err = b.zr.Read(p)
		}
	case b.gzip:
		n, err = b.zr.Read(p)
	default:
		n, err = b.read(p)
	}
	if err != nil && err != io.EOF {
		var te *Error
		if !errors.As(err, &te) {
			err = &Error{URL: b.url, Reached: true, Err: fmt.Errorf("reading the reply: %w", err)}
		}
		b.err = err
	}
	return n, err
}

// read reads the raw body, resetting the idle timer.
func (b *replyBody) read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.timer != nil {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		switch {
		case b.stalled.Load():
			err = fmt.Errorf("the reply stopped for %s", b.idle)
		case errors.Is(context.Cause(b.ctx), ErrMaxTime):
			err = context.Cause(b.ctx)
		}
		err = &Error{URL: b.url, Reached: true, Err: fmt.Errorf("reading the reply: %w", err)}
	}
	return n, err
}

type idleReader struct{ b *replyBody }

func (r *idleReader) Read(p []byte) (int, error) { return r.b.read(p) }

func (b *replyBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.c.Close()
	b.cancel()
	return err
}

// reached reports whether a failed request may have reached the server: a
// failure to resolve, connect or shake hands means it cannot have.
func reached(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return false
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return false
	}
	if strings.Contains(err.Error(), "TLS handshake") {
		return false
	}
	return true
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
