package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"text/template"

	"github.com/antchfx/xmlquery"
	"github.com/soapsess/soapsess/ldapcontrol"
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
	Vars    map[string]string // {{.Var.name}}: the dialect's variables and --var
	// {{.Password}}: for dialects whose begin is a login operation in the
	// body; it goes into that envelope and nowhere else.
	Password string
}

// xmlName is compiled on first use: every soapsess run pays for package
// initialisation, and most never need it.
var xmlName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*(:[A-Za-z_][A-Za-z0-9._-]*)?$`)
})

// build renders the envelope for one phase of a session around body. A body
// that is a whole envelope gets the session header put into its Header,
// replacing one of the dialect's own already there (see Insert).
func (d *Dialect) build(p Phase, v Values, b *Body) ([]byte, error) {
	if b.IsEnvelope() {
		return d.insert(p, v, b)
	}
	if err := d.checkBody(b); err != nil {
		return nil, err
	}
	header, err := d.Header(p, v)
	if err != nil {
		return nil, err
	}
	var env bytes.Buffer
	env.WriteString(`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + d.envelopeNS() + `">` + "\n")
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
	data, err := d.data(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := d.headers.ExecuteTemplate(&buf, string(p)+".xml", data); err != nil {
		return nil, d.templateError(string(p)+".xml", err)
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// data is what templates see: every value XML-escaped.
func (d *Dialect) data(v Values) (map[string]any, error) {
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
	mu := "1"
	if d.SOAPVersion == "1.2" {
		mu = "true"
	}
	return map[string]any{
		"ID": escape(v.ID), "IDName": idName, "Timeout": v.Timeout,
		"User": escape(v.User), "URL": escape(v.URL), "Var": vars,
		"Password": escape(v.Password), "SOAP": d.SOAPVersion, "MU": mu,
	}, nil
}

var missingKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`map has no entry for key "([^"]*)"`) })

// ErrMissingVar is what a *MissingVarError is (errors.Is).
var ErrMissingVar = errors.New("variable not set")

// MissingVarError is a variable a template needs and nobody set.
type MissingVarError struct {
	File string // the template
	Name string
}

func (e *MissingVarError) Error() string {
	return fmt.Sprintf("%s needs variable %q", e.File, e.Name)
}

// Is makes a MissingVarError an ErrMissingVar.
func (e *MissingVarError) Is(target error) bool { return target == ErrMissingVar }

// RefusedError is a template's own refusal, {{fail "message"}}: a variable
// with a value the dialect does not take, say.
type RefusedError struct {
	File    string // the template
	Message string // the template's words
}

func (e *RefusedError) Error() string { return e.Message }

// refused is the RefusedError in a template's execution error, with its file.
func refused(file string, err error) (*RefusedError, bool) {
	var r *RefusedError
	if !errors.As(err, &r) {
		return nil, false
	}
	return &RefusedError{File: file, Message: r.Message}, true
}

func (d *Dialect) templateError(file string, err error) error {
	if r, ok := refused(file, err); ok {
		return r
	}
	if m := missingKey().FindStringSubmatch(err.Error()); m != nil {
		return &MissingVarError{File: file, Name: m[1]}
	}
	return &DialectError{"dialect " + d.Name + ": " + file, err}
}

// templateFuncs are the functions header and body templates may call:
//
//	{{fail "message"}}                 refuse to render, with this message
//	{{pagedControl 500 .Var.last}}     the value of a paged results control
//	                                   (RFC 2696, base64) asking for 500
//	                                   entries after the page whose own
//	                                   control value (the controlValue of its
//	                                   searchResultDone, as the server sent
//	                                   it) is given; "" for the first page
var templateFuncs = template.FuncMap{
	"fail": func(msg string) (string, error) { return "", &RefusedError{Message: msg} },
	"pagedControl": func(size int, last string) (string, error) {
		if size < 0 {
			return "", fmt.Errorf("pagedControl: size %d", size)
		}
		var cookie []byte
		if last = strings.TrimSpace(last); last != "" {
			p, err := ldapcontrol.DecodePagedBase64(last)
			if err != nil {
				return "", fmt.Errorf("pagedControl: the last page's control value: %w", err)
			}
			cookie = p.Cookie
		}
		return ldapcontrol.Paged{Size: size, Cookie: cookie}.Base64(), nil
	},
}

// RenderBody runs a body through text/template with the same values the
// header templates see, escaped the same way.
func (d *Dialect) RenderBody(name string, src []byte, v Values) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(templateFuncs).Parse(string(src))
	if err != nil {
		return nil, &BodyError{err}
	}
	data, err := d.data(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		if r, ok := refused(name, err); ok {
			return nil, r
		}
		if m := missingKey().FindStringSubmatch(err.Error()); m != nil {
			return nil, &MissingVarError{File: name, Name: m[1]}
		}
		return nil, &BodyError{err}
	}
	return buf.Bytes(), nil
}

// checkBody refuses a body the dialect's servers cannot take.
func (d *Dialect) checkBody(b *Body) error {
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
		env := `<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + d.envelopeNS() + `"><SOAP-ENV:Header>` + string(h) + `</SOAP-ENV:Header><SOAP-ENV:Body/></SOAP-ENV:Envelope>`
		if err := wellFormed([]byte(env)); err != nil {
			return fmt.Errorf("the %s header would be broken: %w", p, err)
		}
	}
	return nil
}
