package envelope

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/soapsess/soapsess/reply"
)

// txtarFiles are the files of the cmd scripts whose names end in suffix:
// the manifests and bodies the end-to-end tests use.
func txtarFiles(t testing.TB, suffix string) [][]byte {
	t.Helper()
	scripts, _ := filepath.Glob("../cmd/testdata/*.txtar")
	if len(scripts) == 0 {
		t.Fatal("no cmd scripts")
	}
	var out [][]byte
	for _, s := range scripts {
		a, err := txtar.ParseFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			if strings.HasSuffix(f.Name, suffix) {
				out = append(out, f.Data)
			}
		}
	}
	return out
}

// manifestSeeds are every manifest there is: the built-ins', the
// examples', the scripts'.
func manifestSeeds(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range Builtins() {
		b, err := fs.ReadFile(builtin, "dialects/"+name+"/manifest.toml")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	files, _ := filepath.Glob("../examples/dialects/*/manifest.toml")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, b)
		}
	}
	out = append(out, txtarFiles(t, "manifest.toml")...)
	if len(out) < 8 {
		t.Fatalf("only %d manifests", len(out))
	}
	return out
}

// corpusReplies are the corpus messages that parse as SOAP.
func corpusReplies(t testing.TB) []*reply.Reply {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(corpus, "*", "*.xml"))
	var out []*reply.Reply
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := reply.Parse(b); err == nil {
			out = append(out, r)
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d corpus replies", len(out))
	}
	return out
}

// FuzzLoadManifest loads a fuzzed manifest.toml beside the xmla dialect's
// templates. A manifest that does not load is a *DialectError; one that
// does is used as a session uses it, and nothing panics: its templates
// rendered for every phase, a request built, its XPaths (session ID,
// timeout, end confirmation, captures, error rules) and patterns run over
// every corpus reply.
func FuzzLoadManifest(f *testing.F) {
	for _, m := range manifestSeeds(f) {
		f.Add(m)
	}
	templates := fstest.MapFS{}
	sub, err := fs.Sub(builtin, "dialects/xmla")
	if err != nil {
		f.Fatal(err)
	}
	fs.WalkDir(sub, ".", func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && p != "manifest.toml" {
			b, _ := fs.ReadFile(sub, p)
			templates[p] = &fstest.MapFile{Data: b}
		}
		return nil
	})
	replies := corpusReplies(f)
	var raws [][]byte
	files, _ := filepath.Glob(filepath.Join(corpus, "*", "*.response.xml"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		raws = append(raws, b)
	}
	body, err := ParseBody([]byte(`<Discover xmlns="urn:schemas-microsoft-com:xml-analysis"><RequestType>DISCOVER_DATASOURCES</RequestType></Discover>`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, manifest []byte) {
		fsys := fstest.MapFS{"manifest.toml": &fstest.MapFile{Data: manifest}}
		for k, v := range templates {
			fsys[k] = v
		}
		d, err := Load(fsys, "fuzzed", "fuzzed")
		if err != nil {
			var de *DialectError
			if !errors.As(err, &de) {
				t.Fatalf("Load: %T %v; want a *DialectError", err, err)
			}
			return
		}
		d.IdleTimeout("http://host/olap/msmdpump.dll")
		d.UsesTimeout()
		d.UsesPassword()
		d.BeginOnly("database")
		if _, _, err := d.Files(); err != nil {
			t.Fatalf("Files: %v", err)
		}
		v := Values{ID: "S-1", IDName: "SessionId", Timeout: 60, User: "u", URL: "http://host/", Vars: d.Vars()}
		for _, p := range Phases {
			d.Header(p, v)
			d.DefaultBody(p, v)
		}
		d.CheckValues(v)
		if req, err := d.NewRequest(context.Background(), "http://host/", Request{Phase: Session, Values: v, Body: body}); err == nil {
			var env bytes.Buffer
			env.ReadFrom(req.Body)
			if _, err := reply.Stream(&env, reply.StreamOptions{RequireSOAP: true}); err != nil {
				t.Fatalf("the request built is not a SOAP envelope: %v", err)
			}
		}
		for _, r := range replies {
			d.Session(r)
			d.EndConfirmed(r)
			for _, c := range d.Captures() {
				if c.Value != nil {
					r.Values(c.Value)
				}
				if c.Clear != nil {
					r.Matches(c.Clear)
				}
			}
		}
		for _, raw := range raws {
			st, _ := reply.Stream(bytes.NewReader(raw), reply.StreamOptions{RequireSOAP: true, Errors: d.Errors()})
			if st != nil {
				for _, p := range st.Problems {
					d.Rejected(p)
					p.Summary()
				}
			}
		}
	})
}

// bodySeeds are request bodies: the corpus requests and the scripts'.
func bodySeeds(t testing.TB) [][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(corpus, "*", "*.xml"))
	var out [][]byte
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(f, "request") {
			out = append(out, b)
		}
	}
	return append(out, txtarFiles(t, ".xml")...)
}

// FuzzParseBody checks request bodies as send does. A body is taken or
// refused with a *BodyError; one taken parses again to the same element,
// and every built-in dialect either refuses it (its [body] require, with
// a *BodyError) or builds a request around it that is a well-formed SOAP
// envelope holding it.
func FuzzParseBody(f *testing.F) {
	for _, b := range bodySeeds(f) {
		f.Add(b)
	}
	var dialects []*Dialect
	for _, name := range Builtins() {
		d, err := Builtin(name)
		if err != nil {
			f.Fatal(err)
		}
		dialects = append(dialects, d)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		b, err := ParseBody(src)
		if err != nil {
			var be *BodyError
			if !errors.As(err, &be) {
				t.Fatalf("ParseBody: %T %v; want a *BodyError", err, err)
			}
			return
		}
		again, err := ParseBody(b.XML)
		if err != nil || !bytes.Equal(again.XML, b.XML) || again.Local != b.Local || again.Namespace != b.Namespace {
			t.Fatalf("%q parsed to %q (%s in %q), which parses to %+v, %v", src, b.XML, b.Local, b.Namespace, again, err)
		}
		for _, d := range dialects {
			v := Values{ID: "S-1", IDName: "SessionId", Vars: d.Vars()}
			req, err := d.NewRequest(context.Background(), "http://host/", Request{Phase: Session, Values: v, Body: b})
			if err != nil {
				var be *BodyError
				if !errors.As(err, &be) {
					t.Fatalf("%s: %T %v; want a *BodyError", d.Name, err, err)
				}
				continue
			}
			var env bytes.Buffer
			env.ReadFrom(req.Body)
			if _, err := reply.Stream(bytes.NewReader(env.Bytes()), reply.StreamOptions{RequireSOAP: true}); err != nil {
				t.Fatalf("%s: the request around %q is not a SOAP envelope: %v\n%s", d.Name, b.XML, err, env.Bytes())
			}
		}
	})
}
