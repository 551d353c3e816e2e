package envelope

import (
	"bytes"
	"context"
	"net/http"
	"strings"
)

// Request is what one phase of a session sends.
type Request struct {
	Phase  Phase
	Values Values
	Body   *Body
	// Action is sent instead of the dialect's SOAPAction ("" keeps the
	// dialect's): in the SOAPAction header for SOAP 1.1, in the
	// Content-Type's action parameter for SOAP 1.2.
	Action string
}

// NewRequest builds the HTTP request of one phase of a session: the
// envelope around the body with the phase's session header, the
// Content-Type and the SOAPAction. It is the one place requests are made;
// what else goes on the wire (credentials, Accept, User-Agent) is the
// transport's.
func (d *Dialect) NewRequest(ctx context.Context, url string, r Request) (*http.Request, error) {
	env, err := d.Build(r.Phase, r.Values, r.Body)
	if err != nil {
		return nil, err
	}
	inner, err := d.Inner(r.Body)
	if err != nil {
		return nil, err
	}
	ct, action, err := d.HTTPHeaders(inner)
	if err != nil {
		return nil, err
	}
	if r.Action != "" {
		if d.SOAPVersion == "1.2" {
			ct = soap12ContentType(r.Action)
		} else {
			action = r.Action
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(env))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	if action != "" {
		req.Header.Set("SOAPAction", action)
	}
	return req, nil
}

// soap12ContentType carries a SOAP 1.2 action, unquoted, in the Content-Type.
func soap12ContentType(action string) string {
	ct := "application/soap+xml; charset=utf-8"
	if a := strings.Trim(action, `"`); a != "" {
		ct += `; action="` + a + `"`
	}
	return ct
}

// HasDefaultBody reports whether the dialect has its own body for a phase,
// so that none need be given.
func (d *Dialect) HasDefaultBody(p Phase) bool {
	_, ok := d.bodies[p]
	return ok
}
