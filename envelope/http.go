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
	env, err := d.build(r.Phase, r.Values, r.Body)
	if err != nil {
		return nil, err
	}
	inner, err := d.inner(r.Body)
	if err != nil {
		return nil, err
	}
	ct, action, err := d.httpHeaders(inner, r.Action)
	if err != nil {
		return nil, err
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

// httpHeaders returns the Content-Type and SOAPAction headers of a request
// with body b: the action given, else the dialect's for the body. SOAP 1.1
// sends the action in a SOAPAction header, quoted as written; SOAP 1.2 puts
// it, unquoted, in the Content-Type's action parameter and sends no
// SOAPAction header.
func (d *Dialect) httpHeaders(b *Body, action string) (contentType, soapAction string, err error) {
	if action == "" {
		if action, err = d.renderAction(b); err != nil {
			return "", "", err
		}
	}
	if d.SOAPVersion == "1.2" {
		ct := "application/soap+xml; charset=utf-8"
		if a := strings.Trim(action, `"`); a != "" {
			ct += `; action="` + a + `"`
		}
		return ct, "", nil
	}
	return "text/xml; charset=utf-8", action, nil
}

// renderAction renders the manifest's soapaction template for a body.
func (d *Dialect) renderAction(b *Body) (string, error) {
	var buf bytes.Buffer
	err := d.soapAction.Execute(&buf, map[string]string{"Method": b.Local, "Namespace": b.Namespace})
	if err != nil {
		return "", &DialectError{"dialect " + d.Name + ": soapaction", err}
	}
	return buf.String(), nil
}

// HasDefaultBody reports whether the dialect has its own body for a phase,
// so that none need be given.
func (d *Dialect) HasDefaultBody(p Phase) bool {
	_, ok := d.bodies[p]
	return ok
}
