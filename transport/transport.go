// Package transport posts SOAP 1.1 envelopes over HTTP and returns the
// whole reply, telling apart failures before the server was reached from
// failures after.
package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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

// Request is one SOAP call.
type Request struct {
	URL         string
	SOAPAction  string // sent as is, quotes included; "" sends no header
	ContentType string
	Body        []byte
	User        string // HTTP Basic auth when non-empty
	Password    string
}

// Response is the server's reply. Body streams; the caller closes it. A
// failure while reading it is an *Error.
type Response struct {
	Proto   string
	Status  int
	Reason  string // e.g. "500 Internal Server Error"
	Header  http.Header
	Body    io.ReadCloser
	Elapsed time.Duration // until the status line and headers arrived
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

// Client posts requests. The zero value is not usable; use New.
type Client struct {
	http *http.Client
	// Trace, when set, receives the request and reply as they go over the wire.
	Trace io.Writer
	// UserAgent is sent with every request.
	UserAgent string
	// IdleTimeout bounds a pause while the reply body streams.
	IdleTimeout time.Duration
	// TraceBody also copies the reply body to Trace as it streams.
	TraceBody bool
	// Secrets are hidden wherever a trace would show them.
	Secrets []string
	opt     Options
}

// Timeouts for one request.
const (
	ConnectTimeout = 15 * time.Second
	ReplyTimeout   = 5 * time.Minute // servers may compute long before the first byte
)

// New returns a client with TLS verification on and proxies from the
// environment.
func New() *Client {
	c, _ := NewWith(Options{}) // the zero Options cannot fail
	return c
}

// Options shape how a client connects. The zero value is safe: TLS verified
// against the system's CAs, proxies from the environment, Basic auth when a
// user is given.
type Options struct {
	// Auth is "basic" (the default when a user is given), "ntlm" or
	// "negotiate" (NTLM, also inside SPNEGO, as IIS offers it), or "none".
	Auth           string
	CACert         string // PEM file of CAs to trust besides the system's
	Cert, Key      string // PEM files of a client certificate and its key
	Insecure       bool   // do not verify the server's certificate
	Proxy          string // proxy URL; "" takes HTTP(S)_PROXY and NO_PROXY from the environment
	ConnectTimeout time.Duration
	MaxTime        time.Duration // bounds a whole request, reply included; 0 for none
	Header         http.Header   // extra request headers
}

// Auth methods.
const (
	AuthBasic     = "basic"
	AuthNTLM      = "ntlm"
	AuthNegotiate = "negotiate"
	AuthNone      = "none"
)

// NewWith returns a client configured by opt.
func NewWith(opt Options) (*Client, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opt.Insecure}
	if opt.CACert != "" {
		pem, err := os.ReadFile(opt.CACert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", opt.CACert)
		}
		tlsConf.RootCAs = pool
	}
	if opt.Cert != "" || opt.Key != "" {
		if opt.Cert == "" || opt.Key == "" {
			return nil, errors.New("--cert and --key go together")
		}
		pair, err := tls.LoadX509KeyPair(opt.Cert, opt.Key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		tlsConf.Certificates = []tls.Certificate{pair}
	}
	proxy := http.ProxyFromEnvironment
	if opt.Proxy != "" {
		u, err := url.Parse(opt.Proxy)
		if err != nil || u.Host == "" {
			return nil, errors.New("--proxy: not a URL")
		}
		if u.User != nil {
			return nil, errors.New("--proxy: credentials in the URL are not accepted, as the session keeps its proxy; put them in HTTPS_PROXY")
		}
		proxy = http.ProxyURL(u)
	}
	connect := opt.ConnectTimeout
	if connect <= 0 {
		connect = ConnectTimeout
	}
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   connect,
		TLSClientConfig:       tlsConf,
		ResponseHeaderTimeout: ReplyTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		// Go asks for gzip and decodes it transparently.
	}
	var rt http.RoundTripper = tr
	switch opt.Auth {
	case "", AuthBasic, AuthNone:
	case AuthNTLM, AuthNegotiate:
		// The Negotiator answers a 401 offering NTLM or Negotiate with the
		// NTLMv2 handshake, from the user and password set as Basic auth on
		// the request (which it never sends as such).
		rt = ntlmssp.Negotiator{RoundTripper: tr}
	default:
		return nil, fmt.Errorf("--auth %q: want basic, ntlm, negotiate or none", opt.Auth)
	}
	return &Client{http: &http.Client{Transport: rt, CheckRedirect: noRedirects}, UserAgent: "soapsess", IdleTimeout: IdleTimeout, opt: opt}, nil
}

// noRedirects hands a redirect back instead of following it: following a
// POST turns it into a GET without the envelope.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// IdleTimeout is how long a reply may send nothing before it is given up.
const IdleTimeout = 2 * time.Minute

// Do posts one request and returns the reply, whatever its status, with its
// body still to be read.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{URL: r.URL, Err: errors.New("not an http:// or https:// URL")}
	}
	if u.User != nil {
		return nil, &Error{URL: u.Redacted(), Err: errors.New("credentials in the URL are not accepted; use --user and SOAPSESS_PASSWORD")}
	}
	var cancel context.CancelFunc
	if c.opt.MaxTime > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.opt.MaxTime)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		cancel()
		return nil, &Error{URL: r.URL, Err: err}
	}
	req.Header.Set("Content-Type", r.ContentType)
	if r.SOAPAction != "" {
		req.Header.Set("SOAPAction", r.SOAPAction)
	}
	req.Header.Set("Accept", "text/xml, application/soap+xml, */*;q=0.5")
	req.Header.Set("User-Agent", c.UserAgent)
	for k, vs := range c.opt.Header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.User != "" && c.opt.Auth != AuthNone {
		req.SetBasicAuth(r.User, r.Password)
	}
	if c.Trace != nil {
		c.traceRequest(req, r.Body)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		if c.opt.MaxTime > 0 && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no reply within --max-time %s", c.opt.MaxTime)
		}
		return nil, &Error{URL: r.URL, Reached: reached(err), Err: unwrapURL(err)}
	}
	out := &Response{Proto: resp.Proto, Status: resp.StatusCode, Reason: resp.Status, Header: resp.Header, Elapsed: time.Since(start)}
	var body io.Reader = resp.Body
	if c.Trace != nil {
		c.traceResponse(out)
		if c.TraceBody {
			body = io.TeeReader(body, c.Trace)
		}
	}
	rb := &replyBody{r: body, c: resp.Body, url: r.URL, cancel: cancel, idle: c.IdleTimeout}
	if rb.idle > 0 {
		rb.timer = time.AfterFunc(rb.idle, func() { rb.stalled.Store(true); cancel() })
	}
	out.Body = rb
	return out, nil
}

// replyBody turns read failures into transport errors, and gives up on a
// reply that stops sending for longer than idle.
type replyBody struct {
	r       io.Reader
	c       io.Closer
	url     string
	cancel  context.CancelFunc
	idle    time.Duration
	timer   *time.Timer
	stalled atomic.Bool
}

func (b *replyBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.timer != nil {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		if b.stalled.Load() {
			err = fmt.Errorf("the reply stopped for %s", b.idle)
		}
		err = &Error{URL: b.url, Reached: true, Err: fmt.Errorf("reading the reply: %w", err)}
	}
	return n, err
}

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
