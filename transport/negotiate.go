package transport

import (
	"net/http"

	"github.com/Azure/go-ntlmssp"
)

// negotiateAuth answers a 401 offering Negotiate: with Kerberos
// (AuthKerberos), or as Windows does (AuthNegotiate). Kerberos is not
// written yet: negotiate is NTLM inside SPNEGO, as before.
func negotiateAuth(next http.RoundTripper, opt Options) (http.RoundTripper, error) {
	if opt.Auth == AuthKerberos {
		return nil, &ConfigError{Setting: "auth", Value: string(opt.Auth), Err: errNotYet}
	}
	return ntlmssp.Negotiator{RoundTripper: next}, nil
}

var errNotYet = notYet{}

type notYet struct{}

func (notYet) Error() string { return "not supported yet" }
