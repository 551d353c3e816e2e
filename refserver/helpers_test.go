package refserver

import (
	"bytes"
	"encoding/xml"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// corpusDir holds the real example messages (a verbatim copy of the shared corpus; read only).
var corpusDir = filepath.Join("..", "testdata", "corpus")

func readCorpus(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatalf("read corpus file: %v", err)
	}
	return string(b)
}

// fakeClock is the injected Options.Now, so expiry is tested without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestServer(opts Options) (*Server, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC)}
	opts.Now = clock.Now
	return New(opts), clock
}

type reqOption func(*http.Request)

func asUser(user string) reqOption {
	return func(r *http.Request) { r.SetBasicAuth(user, "secret") }
}

func post(t *testing.T, h http.Handler, path, body string, opts ...reqOption) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	for _, o := range opts {
		o(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// xdoc is a reply parsed with encoding/xml's namespace-resolving Token, flat,
// so tests can ask for elements by expanded name whatever prefixes the server chose.
type xdoc struct {
	elems []*xelem
}

type xelem struct {
	name     xml.Name
	attrs    []xml.Attr
	text     string
	parent   *xelem
	children []*xelem
}

func parseDoc(t *testing.T, body []byte) *xdoc {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(body))
	doc := &xdoc{}
	var stack []*xelem
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reply is not well-formed XML: %v\n%s", err, body)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := &xelem{name: tk.Name, attrs: append([]xml.Attr(nil), tk.Attr...)}
			if len(stack) > 0 {
				e.parent = stack[len(stack)-1]
				e.parent.children = append(e.parent.children, e)
			}
			doc.elems = append(doc.elems, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tk)
			}
		}
	}
	if len(doc.elems) == 0 {
		t.Fatalf("reply has no elements: %q", body)
	}
	return doc
}

func (d *xdoc) all(space, local string) []*xelem {
	var out []*xelem
	for _, e := range d.elems {
		if e.name.Space == space && e.name.Local == local {
			out = append(out, e)
		}
	}
	return out
}

func (d *xdoc) one(t *testing.T, space, local string) *xelem {
	t.Helper()
	all := d.all(space, local)
	if len(all) != 1 {
		t.Fatalf("want one {%s}%s in the reply, found %d", space, local, len(all))
	}
	return all[0]
}

// local finds the first element with this local name in any namespace
// (SOAP 1.1 fault children are unqualified on some servers, SOAP-namespaced on SSAS).
func (d *xdoc) local(t *testing.T, local string) *xelem {
	t.Helper()
	for _, e := range d.elems {
		if e.name.Local == local {
			return e
		}
	}
	t.Fatalf("no element %s in the reply", local)
	return nil
}

func (e *xelem) attr(space, local string) (string, bool) {
	for _, a := range e.attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// qnameValue resolves a QName written as element text (a faultcode) against
// the namespace declarations in scope.
func (e *xelem) qnameValue() xml.Name {
	text := strings.TrimSpace(e.text)
	prefix, local, ok := strings.Cut(text, ":")
	if !ok {
		return xml.Name{Local: text}
	}
	for p := e; p != nil; p = p.parent {
		for _, a := range p.attrs {
			if a.Name.Space == "xmlns" && a.Name.Local == prefix {
				return xml.Name{Space: a.Value, Local: local}
			}
		}
	}
	return xml.Name{Space: prefix, Local: local}
}

// qnameIn resolves a QName held in an attribute of e.
func (e *xelem) qnameIn(v string) xml.Name {
	return (&xelem{text: v, parent: e}).qnameValue()
}

func xmlAttr(s string) string { return html.EscapeString(s) }

// fault checks that rec is an HTTP 500 SOAP fault and returns the parsed reply.
func fault(t *testing.T, rec *httptest.ResponseRecorder) *xdoc {
	t.Helper()
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500; body:\n%s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Fatalf("fault Content-Type = %q", ct)
	}
	doc := parseDoc(t, rec.Body.Bytes())
	doc.one(t, soapEnvNS, "Fault")
	return doc
}

// ok checks for an HTTP 200 SOAP reply without a Fault.
func ok(t *testing.T, rec *httptest.ResponseRecorder) *xdoc {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body:\n%s", rec.Code, rec.Body)
	}
	doc := parseDoc(t, rec.Body.Bytes())
	if len(doc.all(soapEnvNS, "Fault")) != 0 {
		t.Fatalf("unexpected fault:\n%s", rec.Body)
	}
	doc.one(t, soapEnvNS, "Envelope")
	return doc
}
