package transport

import (
	"net/http"
	"slices"
	"strings"
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

func TestAnswersAndMethodFor(t *testing.T) {
	iis := []string{"Negotiate", "NTLM"}
	for _, tc := range []struct {
		m       Auth
		offered []string
		want    bool
	}{
		{AuthBasic, iis, false},
		{AuthNTLM, []string{"Negotiate"}, true}, // NTLM inside Negotiate
		{AuthKerberos, []string{"NTLM"}, false},
		{AuthKerberos, iis, true},
		{AuthNegotiate, []string{"ntlm"}, true},
		{AuthDigest, []string{"Basic", "Digest"}, true},
		{AuthNone, iis, false},
	} {
		if got := tc.m.Answers(tc.offered); got != tc.want {
			t.Errorf("%s.Answers(%q) = %v, want %v", tc.m, tc.offered, got, tc.want)
		}
	}
	for offered, want := range map[string]Auth{"Negotiate NTLM": AuthNegotiate, "NTLM": AuthNTLM, "Bearer Digest Basic": AuthDigest, "Bearer": ""} {
		if got := MethodFor(strings.Fields(offered)); got != want {
			t.Errorf("MethodFor(%s) = %q, want %q", offered, got, want)
		}
	}
}
