package transport

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/icholy/digest"
)

// DigestError says why a server's Digest challenge cannot be answered: it
// asks for an algorithm or a qop this package does not compute. (Without
// it, the server's 401 would come back as if the password were wrong.)
type DigestError struct {
	Algorithm string // as the server named it; "" means MD5
	QOP       string // as the server offered it, comma-separated
	Err       error  // a challenge that could not be read, instead
}

func (e *DigestError) Error() string {
	if e.Err != nil {
		return "the server's Digest challenge cannot be read: " + e.Err.Error()
	}
	what := "algorithm=" + e.Algorithm
	if e.Algorithm == "" {
		what = "algorithm MD5"
	}
	if e.QOP != "" {
		what += " with qop=" + e.QOP
	}
	return "the server asks for Digest " + what + ", which cannot be answered (MD5, SHA-256 and SHA-512-256 can, with qop=auth, auth-int or none; their -sess forms with qop=auth or auth-int)"
}

func (e *DigestError) Unwrap() error { return e.Err }

// digestLegs bounds the requests one RoundTrip sends: the first, the
// answer to its challenge, and one more for a nonce the server called
// stale. A server that keeps answering 401 gets its last 401 back.
const digestLegs = 3

// digestAuth answers a 401 offering Digest (RFC 7616): MD5, SHA-256,
// SHA-512-256 and their -sess forms, qop=auth or auth-int (icholy/digest
// computes the responses; -sess is added here). The credentials come as
// Basic auth on the request (see prepare) and are taken off before it is
// sent: the first request of a host goes without them, and the body goes
// again with the answer (requests carry GetBody; one without is held in
// memory). A challenge is kept for the host and answered with the next
// nonce count on later requests, so they need no 401 first.
func digestAuth(next http.RoundTripper, _ Options) (http.RoundTripper, error) {
	return &digestTransport{next: next, cache: map[string]*digestNonce{}}, nil
}

type digestTransport struct {
	next  http.RoundTripper
	mu    sync.Mutex
	cache map[string]*digestNonce // by host:port
}

// digestNonce is a challenge kept for a host and the nonce count last
// sent with it.
type digestNonce struct {
	chal *digest.Challenge
	nc   int
}

func (t *digestTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	user, password, ok := req.BasicAuth()
	if !ok { // no user: nothing to answer a challenge with
		return t.next.RoundTrip(req)
	}
	// A RoundTripper must not change its request, and the Basic header
	// must never leave.
	base := req.Clone(req.Context())
	base.Header.Del("Authorization")
	if base.GetBody == nil && base.Body != nil && base.Body != http.NoBody {
		b, err := io.ReadAll(base.Body)
		base.Body.Close()
		if err != nil {
			return nil, err
		}
		base.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		base.Body, _ = base.GetBody()
	}
	host := req.URL.Host
	chal, nc := t.kept(host)
	cached := chal != nil
	var answered []string // nonces this request has answered
	for leg := 1; ; leg++ {
		r := base
		if leg > 1 {
			r = base.Clone(base.Context())
			if base.GetBody != nil {
				b, err := base.GetBody()
				if err != nil {
					return nil, err
				}
				r.Body = b
			}
		}
		if chal != nil {
			auth, err := digestCredentials(r, chal, nc, user, password)
			if err != nil {
				return nil, err
			}
			r.Header.Set("Authorization", auth)
			answered = append(answered, chal.Nonce)
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			return resp, err
		}
		next, err := findDigestChallenge(resp.Header)
		if err != nil {
			resp.Body.Close()
			return nil, err
		}
		// Answer again only a challenge not answered yet, after a request
		// that had no credentials, or had them from a kept challenge (the
		// server may have restarted), or whose nonce the server calls
		// stale: a plain 401 to fresh credentials is a wrong password.
		retry := next != nil && leg < digestLegs && !slices.Contains(answered, next.Nonce) &&
			(chal == nil || cached || next.Stale)
		if !retry {
			if chal != nil {
				t.forget(host, chal)
			}
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can serve the next leg
		resp.Body.Close()
		chal, nc, cached = next, t.keep(host, next), false
	}
}

// kept is the challenge kept for host, if any, and the nonce count to send
// with it next.
func (t *digestTransport) kept(host string) (*digest.Challenge, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.cache[host]
	if k == nil {
		return nil, 0
	}
	k.nc++
	return k.chal, k.nc
}

// keep keeps chal for host and returns its first nonce count.
func (t *digestTransport) keep(host string, chal *digest.Challenge) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cache[host] = &digestNonce{chal: chal, nc: 1}
	return 1
}

// forget drops chal for host, unless another request kept a newer one.
func (t *digestTransport) forget(host string, chal *digest.Challenge) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if k := t.cache[host]; k != nil && k.chal == chal {
		delete(t.cache, host)
	}
}

// digestHashes are the algorithms answered, weakest first: of several
// Digest challenges, the strongest is taken (RFC 7616 3.7). Each also
// goes with -sess.
var digestHashes = []struct {
	name string
	new  func() hash.Hash
}{
	{"MD5", md5.New},
	{"SHA-256", sha256.New},
	{"SHA-512-256", sha512.New512_256},
}

// digestHash is the hash of an algorithm's name, whether it is a -sess
// form, and its rank among digestHashes (from 1; 0 for one not answered).
func digestHash(algorithm string) (h func() hash.Hash, sess bool, rank int) {
	name, sess := strings.CutSuffix(strings.ToUpper(algorithm), "-SESS")
	if name == "" && !sess {
		name = "MD5" // RFC 2617: no algorithm is MD5
	}
	for i, a := range digestHashes {
		if a.name == name {
			return a.new, sess, 2*i + 1 + btoi(sess)
		}
	}
	return nil, false, 0
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// findDigestChallenge is the strongest Digest challenge in a 401's
// headers that can be answered; nil when none offers Digest, and a
// *DigestError when those that do cannot be answered.
func findDigestChallenge(h http.Header) (*digest.Challenge, error) {
	var (
		best    *digest.Challenge
		rank    int
		refused *DigestError
	)
	for _, v := range h.Values("WWW-Authenticate") {
		if !digest.IsDigest(v) {
			continue
		}
		c, err := digest.ParseChallenge(v)
		if err != nil {
			if refused == nil {
				refused = &DigestError{Err: err}
			}
			continue
		}
		for i, q := range c.QOP {
			c.QOP[i] = strings.TrimSpace(q) // qop="auth, auth-int"
		}
		_, sess, r := digestHash(c.Algorithm)
		qop := len(c.QOP) == 0 || c.SupportsQOP("auth") || c.SupportsQOP("auth-int")
		if r == 0 || !qop || (sess && len(c.QOP) == 0) { // -sess needs a cnonce, sent only with a qop
			if refused == nil || refused.Err != nil {
				refused = &DigestError{Algorithm: c.Algorithm, QOP: strings.Join(c.QOP, ",")}
			}
			continue
		}
		if r > rank {
			best, rank = c, r
		}
	}
	if best != nil {
		return best, nil
	}
	if refused != nil {
		return nil, refused
	}
	return nil, nil
}

// digestCredentials is the Authorization header answering chal for r.
// icholy/digest computes it; for a -sess algorithm, from the session key
// A1 = H(H(user:realm:password):nonce:cnonce) (RFC 7616 3.4.2), which it
// takes ready-made.
func digestCredentials(r *http.Request, chal *digest.Challenge, nc int, user, password string) (string, error) {
	newHash, sess, _ := digestHash(chal.Algorithm)
	o := digest.Options{Method: r.Method, URI: r.URL.RequestURI(), GetBody: r.GetBody, Count: nc,
		Username: user, Password: password}
	c := *chal
	if sess {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		o.Cnonce = hex.EncodeToString(b[:])
		o.A1 = hashHex(newHash(), hashHex(newHash(), user, c.Realm, password), c.Nonce, o.Cnonce)
		c.Algorithm, _ = strings.CutSuffix(strings.ToUpper(c.Algorithm), "-SESS")
	}
	cred, err := digest.Digest(&c, o)
	if err != nil {
		return "", fmt.Errorf("answering the Digest challenge: %w", err)
	}
	cred.Algorithm = chal.Algorithm // as the server spelled it
	return cred.String(), nil
}

// hashHex is the hex digest of parts joined by colons.
func hashHex(h hash.Hash, parts ...string) string {
	h.Write([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(h.Sum(nil))
}
