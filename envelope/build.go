package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/antchfx/xmlquery"
)

// Values are what the header templates of a dialect can refer to. Build
// XML-escapes every one of them, so a value can neither break the envelope
// nor inject markup into it.
type Values struct {
	ID      string            // {{.ID}}: the session ID
	IDName  string            // {{.IDName}}: name of the attribute or element the server returned the ID in
	Timeout int               // {{.Timeout}}: session timeout asked for, in seconds; 0 when not asked
	User    string            // {{.User}}
	URL     string            // {{.URL}}
	Vars    map[string]string // {{.Var.name}}: the dialect's variables
}

// xmlName is compiled on first use: every soapsess run pays for package
// initialisation, and most never need it.
var xmlName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*(:[A-Za-z_][A-Za-z0-9._-]*)?$`)
})

// ErrEnvelopeBody is returned when a body is itself a SOAP envelope.
var ErrEnvelopeBody = errors.New("body is already a whole SOAP envelope; give just the element that goes inside <Body>")

// Build renders the envelope for one phase of a session around body.
func (d *Dialect) Build(p Phase, v Values, b *Body) ([]byte, error) {
	if b.IsEnvelope() {
		return nil, &BodyError{ErrEnvelopeBody}
	}
	if err := d.CheckBody(b); err != nil {
		return nil, err
	}
	header, err := d.Header(p, v)
	if err != nil {
		return nil, err
	}
	var env bytes.Buffer
	env.WriteString(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + NSSOAP11 + `">` + "\n")
	if len(header) > 0 {
		env.WriteString("<SOAP-ENV:Header>")
		env.Write(header)
		env.WriteString("</SOAP-ENV:Header>\n")
	}
	env.WriteString("<SOAP-ENV:Body>")
	env.Write(b.XML)
	env.WriteString("</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n")
	// The body was checked and every value escaped; checking the whole keeps a
	// broken template from ever reaching a server.
	if err := wellFormed(env.Bytes()); err != nil {
		return nil, &DialectError{"dialect " + d.Name + ": " + string(p) + ".xml", fmt.Errorf("renders a broken envelope: %w", err)}
	}
	return env.Bytes(), nil
}

// Header renders the SOAP header entries of one phase.
func (d *Dialect) Header(p Phase, v Values) ([]byte, error) {
	vars := d.Vars()
	for k, val := range v.Vars {
		vars[k] = val
	}
	for k, val := range vars {
		vars[k] = escape(val)
	}
	idName := v.IDName
	if idName != "" && !xmlName().MatchString(idName) {
		return nil, fmt.Errorf("session ID name %q is not an XML name", idName)
	}
	data := map[string]any{
		"ID": escape(v.ID), "IDName": idName, "Timeout": v.Timeout,
		"User": escape(v.User), "URL": escape(v.URL), "Var": vars,
	}
	var buf bytes.Buffer
	if err := d.headers.ExecuteTemplate(&buf, string(p)+".xml", data); err != nil {
		return nil, &DialectError{"dialect " + d.Name + ": " + string(p) + ".xml", err}
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// CheckBody refuses a body the dialect's servers cannot take.
func (d *Dialect) CheckBody(b *Body) error {
	req := d.manifest.Body.Require
	if req == "" {
		return nil
	}
	if len(b.XML) == 0 {
		return &BodyError{fmt.Errorf("the %s dialect needs a body: %s", d.Name, d.manifest.Body.Expect)}
	}
	doc, err := xmlquery.Parse(bytes.NewReader(b.XML))
	if err != nil {
		return &BodyError{err}
	}
	if ok := truthy(d.compile(req).Evaluate(xmlquery.CreateXPathNavigator(doc))); !ok {
		expect := d.manifest.Body.Expect
		if expect == "" {
			expect = "an element matching " + req
		}
		got := "<" + b.Local + ">"
		if b.Namespace != "" {
			got += " in namespace " + b.Namespace
		}
		return &BodyError{fmt.Errorf("the %s dialect needs %s, not %s", d.Name, expect, got)}
	}
	return nil
}

func wellFormed(doc []byte) error { return check(doc, nil) }

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;",
	"\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;")

func escape(s string) string { return escaper.Replace(s) }

// CheckValues reports whether in-session and end headers can be made from
// v: a value read back from a state file that would break the envelope is
// caught before anything is sent.
func (d *Dialect) CheckValues(v Values) error {
	for _, p := range []Phase{Session, End} {
		h, err := d.Header(p, v)
		if err != nil {
			return err
		}
		env := `<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + NSSOAP11 + `"><SOAP-ENV:Header>` + string(h) + `</SOAP-ENV:Header><SOAP-ENV:Body/></SOAP-ENV:Envelope>`
		if err := wellFormed([]byte(env)); err != nil {
			return fmt.Errorf("the %s header would be broken: %w", p, err)
		}
	}
	return nil
}
