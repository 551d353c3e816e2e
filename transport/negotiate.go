package transport

import (
	"net/http"

	"github.com/Azure/go-ntlmssp"
	krbclient "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/spnego"
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

// Kerberos comes from gokrb5 (its SPNEGO client, not spnego.Client.Do).
var (
	_ = krbclient.NewWithPassword
	_ = config.Load
	_ = credentials.LoadCCache
	_ = spnego.SetSPNEGOHeader
)
