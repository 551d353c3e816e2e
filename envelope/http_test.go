package envelope

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// NewRequest is the one place a request is made: the envelope, and the
// action where each SOAP version wants it, the caller's or the dialect's.
func TestNewRequest(t *testing.T) {
	login, err := Load(os.DirFS("../examples/dialects/login"), "login", "../examples/dialects/login")
	if err != nil {
		t.Fatal(err)
	}
	discover := mustBody(t, []byte(`<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"/>`))
	whoami := mustBody(t, []byte(`<d:Whoami xmlns:d="urn:Demo"/>`))
	for _, tt := range []struct {
		name        string
		d           *Dialect
		body        *Body
		action      string
		contentType string
		soapAction  []string // nil: no SOAPAction header at all
	}{
		{"1.1", dialect(t, "xmla"), discover, "", "text/xml; charset=utf-8", []string{`"urn:schemas-microsoft-com:xml-analysis:Discover"`}},
		{"1.1 --action", dialect(t, "xmla"), discover, `"urn:mine"`, "text/xml; charset=utf-8", []string{`"urn:mine"`}},
		{"1.2", login, whoami, "", `application/soap+xml; charset=utf-8; action="urn:Demo#Whoami"`, nil},
		{"1.2 --action", login, whoami, `"urn:mine"`, `application/soap+xml; charset=utf-8; action="urn:mine"`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := tt.d.NewRequest(context.Background(), "http://127.0.0.1:1/x", Request{
				Phase: Session, Values: Values{ID: "S-1", IDName: "SessionId", Vars: map[string]string{"user": "ann"}}, Body: tt.body, Action: tt.action})
			if err != nil {
				t.Fatal(err)
			}
			if req.Method != "POST" || req.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("%s Content-Type %q; want %q", req.Method, req.Header.Get("Content-Type"), tt.contentType)
			}
			if got := req.Header.Values("SOAPAction"); strings.Join(got, "|") != strings.Join(tt.soapAction, "|") {
				t.Errorf("SOAPAction %q; want %q", got, tt.soapAction)
			}
			env, err := io.ReadAll(req.Body)
			if err != nil || !strings.Contains(string(env), "S-1") || !strings.Contains(string(env), string(tt.body.XML)) {
				t.Errorf("envelope %s (%v): want the session header and the body", env, err)
			}
			if req.GetBody == nil || req.ContentLength != int64(len(env)) {
				t.Errorf("the body cannot be sent again (GetBody %v, length %d of %d)", req.GetBody != nil, req.ContentLength, len(env))
			}
		})
	}
}

// A body of one's own pages by hand: {{pagedControl SIZE LAST}} writes the
// control's value, with the cookie of the last page's control value (as the
// server sent it) given as a variable.
func TestPagedControlInABodyTemplate(t *testing.T) {
	d := dialect(t, "dsml")
	src := []byte(`<searchRequest xmlns="urn:oasis:names:tc:DSML:2:0:core" dn="dc=x"><control type="1.2.840.113556.1.4.319"><controlValue>{{pagedControl 500 .Var.last}}</controlValue></control><filter><present name="cn"/></filter></searchRequest>`)
	for last, want := range map[string]string{
		"":                     "MAYCAgH0BAA=",     // the first page
		"MIQAAAAJAgIB9AQDAQID": "MAkCAgH0BAMBAgM=", // after a page whose cookie is 01 02 03, long form as Windows writes it
	} {
		out, err := d.RenderBody("search.xml", src, Values{Vars: map[string]string{"last": last}})
		if err != nil || !strings.Contains(string(out), "<controlValue>"+want+"</controlValue>") {
			t.Errorf("last %q: %s, %v; want %s", last, out, err, want)
		}
	}
	for _, bad := range []string{"not base64!", "AQID"} {
		if _, err := d.RenderBody("search.xml", src, Values{Vars: map[string]string{"last": bad}}); err == nil {
			t.Errorf("%q was taken for a control value", bad)
		}
	}
}
