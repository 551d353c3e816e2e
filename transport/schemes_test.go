package transport

import (
	"net/http"
	"slices"
	"testing"
)

func TestSchemes(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    []string
	}{
		{[]string{"Negotiate", "NTLM"}, []string{"Negotiate", "NTLM"}},
		{[]string{`Basic realm="a, b", Digest realm="x", qop="auth,auth-int", nonce="n", algorithm=MD5`}, []string{"Basic", "Digest"}},
		{[]string{"Negotiate oRQwEqADCgEBoQsGCSqGSIb3EgECAg==", "negotiate"}, []string{"Negotiate"}},
		{[]string{`Digest realm="say \"hi, there\"", nonce="1"`, "Bearer"}, []string{"Digest", "Bearer"}},
		{[]string{`Digest realm = "a", nonce = "1",qop=auth, Basic realm="b"`}, []string{"Digest", "Basic"}},
		{nil, nil},
	} {
		h := http.Header{}
		for _, v := range tc.headers {
			h.Add("WWW-Authenticate", v)
		}
		if got := Schemes(h, "WWW-Authenticate"); !slices.Equal(got, tc.want) {
			t.Errorf("Schemes(%q) = %q, want %q", tc.headers, got, tc.want)
		}
	}
}
