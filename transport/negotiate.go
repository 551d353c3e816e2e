package transport

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/Azure/go-ntlmssp"
	krbclient "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// negotiateAuth answers a 401 offering Negotiate (RFC 4559): with Kerberos
// (AuthKerberos), or as Windows does (AuthNegotiate).
//
// Every request first goes without credentials. On a 401 whose
// WWW-Authenticate offers Negotiate:
//
//   - kerberos: log in (with the user and password when there is a
//     password, else from the FILE credential cache), get a ticket for the
//     SPN (Options.SPN, else HTTP/host of the URL), and send the request
//     once more with "Authorization: Negotiate <SPNEGO token>". That reply
//     is the answer, whatever it is: a server that rejects the token is not
//     asked again (gokrb5's spnego.Client.Do would loop for ever against a
//     bare "Negotiate", as IIS answers a rejected token). A failure to get a
//     ticket is a *KerberosError; nothing is sent with credentials then.
//   - negotiate: Kerberos as above when it can be tried — a password with
//     a krb5.conf (Options.Kerberos.Config, else /etc/krb5.conf), or, with
//     no password, a credential cache (Options.Kerberos.CCache, else
//     /tmp/krb5cc_UID) — and NTLMv2 otherwise, on a 401 offering NTLM or
//     Negotiate. When Kerberos is tried and fails, NTLM follows on the same
//     connection if there are a user and a password: the server rejected the
//     token (401 again), the KDC does not know the SPN or the user, the KDC
//     cannot be reached, the clocks differ. A password the KDC refused is
//     not tried again with NTLM (it would fail too and count twice towards a
//     lockout); that, or a failure with no password for NTLM, is the
//     *KerberosError.
//
// The password is never sent, as Basic or otherwise; the server's token on
// the final reply (mutual authentication) is not checked. A refused login
// is remembered for the life of the Client: it is not tried again.
func negotiateAuth(next http.RoundTripper, opt Options) (http.RoundTripper, error) {
	return &negotiator{next: next, opt: opt}, nil
}

type negotiator struct {
	next http.RoundTripper
	opt  Options

	mu       sync.Mutex
	krb      *krbclient.Client // logged in; nil until the first challenge
	loginErr error             // a failed login, not tried again
}

// RoundTrip takes the credentials prepare put on req as Basic auth off
// before anything is sent.
func (n *negotiator) RoundTrip(req *http.Request) (*http.Response, error) {
	user, password, _ := req.BasicAuth()
	req = req.Clone(req.Context()) // a RoundTripper must not change its request
	req.Header.Del("Authorization")
	if err := rewindable(req); err != nil {
		return nil, err
	}
	resp, err := n.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	offer := offered(resp.Header)
	canNTLM := n.opt.Auth == AuthNegotiate && user != "" && password != "" && (offer.ntlm || offer.negotiate)
	if offer.negotiate && n.tryKerberos(password) {
		authz, kerr := n.kerberosHeader(req, user, password)
		switch {
		case kerr == nil:
			again, err := n.resend(req, resp, authz)
			if err != nil || again.StatusCode != http.StatusUnauthorized || !canNTLM {
				return again, err
			}
			resp = again // the server rejected the token: NTLM
		case !canNTLM || errors.Is(kerr, ErrKerberosPassword):
			discard(resp)
			return nil, kerr
		}
	}
	if !canNTLM {
		return resp, nil
	}
	return n.ntlm(req, resp, offer, user, password)
}

// tryKerberos says whether Kerberos is the method to try: always for
// AuthKerberos; for AuthNegotiate when it has what it needs.
func (n *negotiator) tryKerberos(password string) bool {
	if n.opt.Auth == AuthKerberos {
		return true
	}
	if password != "" {
		_, found, err := loadKrb5Conf(n.opt.Kerberos.Config)
		return found || err != nil // a broken krb5.conf is reported, or NTLM follows
	}
	return ccacheExists(n.opt.Kerberos.CCache)
}

// kerberosHeader is the Authorization header with a SPNEGO token for req's
// service.
func (n *negotiator) kerberosHeader(req *http.Request, user, password string) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.loginErr != nil {
		return "", n.loginErr
	}
	if n.krb == nil {
		cl, err := kerberosLogin(n.opt, user, password)
		if err != nil {
			n.loginErr = err
			return "", err
		}
		n.krb = cl
	}
	spn := servicePrincipal(req.Context(), n.opt, n.krb.Config, req.URL.Hostname())
	// SetSPNEGOHeader only reads req's URL when the SPN is empty; here it
	// never is, so the Host header stays as it was.
	r := &http.Request{Header: http.Header{}}
	if err := spnego.SetSPNEGOHeader(n.krb, r, spn); err != nil {
		who := n.krb.Credentials.CName().PrincipalNameString() + "@" + n.krb.Credentials.Domain()
		return "", &KerberosError{Principal: who, SPN: spn, Reason: krbReason(err), Err: err}
	}
	return r.Header.Get("Authorization"), nil
}

// ntlm runs the NTLMv2 handshake after resp, a 401 offering it: NTLM when
// the first 401 offered it, else NTLM inside Negotiate, as go-ntlmssp's
// Negotiator does. A reply that is not the challenge ends it.
func (n *negotiator) ntlm(req *http.Request, resp *http.Response, offer offers, user, password string) (*http.Response, error) {
	scheme := "Negotiate"
	if offer.ntlm {
		scheme = "NTLM"
	}
	hello, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		return resp, nil
	}
	resp, err = n.resend(req, resp, scheme+" "+base64.StdEncoding.EncodeToString(hello))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	challenge := token(resp.Header, scheme)
	if challenge == nil {
		return resp, nil
	}
	auth, err := ntlmssp.NewAuthenticateMessage(challenge, user, password, nil)
	if err != nil {
		return resp, nil
	}
	return n.resend(req, resp, scheme+" "+base64.StdEncoding.EncodeToString(auth))
}

// resend sends req again, its body from the start, with authz, once the
// previous reply is read to the end (so that the connection, which an
// NTLM handshake is bound to, is used again).
func (n *negotiator) resend(req *http.Request, prev *http.Response, authz string) (*http.Response, error) {
	discard(prev)
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	r.Header.Set("Authorization", authz)
	return n.next.RoundTrip(r)
}

// rewindable gives req a GetBody, reading its body into memory when it has
// none, so that each leg of a handshake sends the whole body.
func rewindable(req *http.Request) error {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return err
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.Body, _ = req.GetBody()
	return nil
}

// discard reads a reply that is answered by another request (a 401 page:
// small) and closes it; up to 64 KiB is read, so that the connection can
// be used again.
func discard(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// offers are the schemes a 401 offers that this file speaks.
type offers struct{ negotiate, ntlm bool }

func offered(h http.Header) offers {
	var o offers
	for _, v := range h.Values("WWW-Authenticate") {
		for _, c := range strings.Split(v, ",") { // several challenges may share a header
			scheme, _, _ := strings.Cut(strings.TrimSpace(c), " ")
			switch {
			case strings.EqualFold(scheme, "Negotiate"):
				o.negotiate = true
			case strings.EqualFold(scheme, "NTLM"):
				o.ntlm = true
			}
		}
	}
	return o
}

// token is the decoded token of scheme's challenge, nil when there is none.
func token(h http.Header, scheme string) []byte {
	for _, v := range h.Values("WWW-Authenticate") {
		s, data, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok || !strings.EqualFold(s, scheme) {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data)); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}

// Schemes are the authentication schemes a 401's WWW-Authenticate headers
// offer (or a 407's Proxy-Authenticate, with key), in order, each once:
// "Negotiate", "NTLM", "Basic". A header may hold several challenges,
// separated by commas like their parameters, which have an "=" after their
// name; commas inside quoted strings are not separators.
func Schemes(h http.Header, key string) []string {
	var out []string
	for _, v := range h.Values(key) {
		for _, c := range splitChallenges(v) {
			scheme, rest, _ := strings.Cut(strings.TrimSpace(c), " ")
			if scheme == "" || strings.ContainsAny(scheme, `="`) || strings.HasPrefix(strings.TrimLeft(rest, " \t"), "=") {
				continue // an auth-param of the challenge before: name=value, or name = value
			}
			if !slices.ContainsFunc(out, func(s string) bool { return strings.EqualFold(s, scheme) }) {
				out = append(out, scheme)
			}
		}
	}
	return out
}

// splitChallenges splits a header value at the commas outside quotes.
func splitChallenges(v string) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// answers are the schemes of the challenges each method answers: NTLM is
// also carried inside Negotiate (ntlmssp.Negotiator answers both), and
// Kerberos only inside Negotiate.
var answers = map[Auth][]string{
	AuthBasic:     {"Basic"},
	AuthDigest:    {"Digest"},
	AuthNTLM:      {"NTLM", "Negotiate"},
	AuthKerberos:  {"Negotiate"},
	AuthNegotiate: {"Negotiate", "NTLM"},
}

// Answers reports whether method a answers a challenge of one of the
// schemes a 401 offered (as Schemes gives them).
func (a Auth) Answers(schemes []string) bool {
	for _, s := range schemes {
		for _, ours := range answers[a] {
			if strings.EqualFold(s, ours) {
				return true
			}
		}
	}
	return false
}

// MethodFor is the method that answers the first of the schemes offered
// that one answers, as Windows would pick it (Negotiate before NTLM); ""
// when none does.
func MethodFor(schemes []string) Auth {
	for _, s := range schemes {
		for _, m := range []Auth{AuthNegotiate, AuthNTLM, AuthDigest, AuthBasic} {
			if strings.EqualFold(s, answers[m][0]) {
				return m
			}
		}
	}
	return ""
}
