package state

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/soapsess/soapsess/internal/testdir"
)

// stateSeeds are session files as soapsess writes them (a session with
// everything a file can hold, one ended) and the hand-made ones of the cmd
// scripts.
func stateSeeds(t testing.TB) [][]byte {
	t.Helper()
	now := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	full := &Session{
		Dialect: "xmla", URL: "https://olap.example.com/olap/msmdpump.dll", ID: "5E302251-889C-09D5", IDName: "SessionId",
		Created: now, LastUsed: now.Add(time.Minute), Timeout: 600, User: `CORP\ann`, Auth: "ntlm",
		CACert: "/etc/ca.pem", Proxy: "http://proxy:3128", SPN: "HTTP/olap.example.com",
		Vars: map[string]string{"database": "Sales", "last": ""}, Requests: 7,
		Cookies: []Cookie{{URL: "https://olap.example.com/olap/", Received: now, Name: "ASP.NET_SessionId", Value: "x1",
			Path: "/olap", Expires: now.Add(time.Hour), MaxAge: 60, Secure: true, HTTPOnly: true, SameSite: "lax"}},
		IdleTimeout: 3600, IdleFrom: "dialect",
		Begin: &Recipe{Request: Request{BodyName: "begin.xml", Vars: map[string]string{"mustunderstand": "soap"}}, Timeout: 600},
		Journal: []Request{{Body: "<Execute xmlns=\"urn:schemas-microsoft-com:xml-analysis\"/>", BodyName: "create.xml", Template: true,
			Captures: []Capture{{Name: "tx", XPath: "//x:Descriptor", NS: map[string]string{"x": "urn:x"}}}, Added: now}},
	}
	ended := &Session{Dialect: "dsml", URL: "http://dc/dsml", ID: "S", Created: now, LastUsed: now, Requests: 2,
		Ended: Rejected, EndedAt: now}
	var out [][]byte
	for _, s := range []*Session{full, ended} {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	scripts, _ := filepath.Glob("../cmd/testdata/*.txtar")
	for _, s := range scripts {
		a, err := txtar.ParseFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			if strings.HasSuffix(f.Name, ".json") {
				out = append(out, f.Data)
			}
		}
	}
	return out
}

// FuzzStateFile reads a fuzzed session file as every command does. A file
// that does not read is a *CorruptError, left as it is, and no session can
// be created over it; one that reads is written back unchanged by an
// update, listed, and its cookies answer for their expiry and scope.
func FuzzStateFile(f *testing.F) {
	for _, b := range stateSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Open(filepath.Join(testdir.New(t), "state"))
		if err != nil {
			t.Fatal(err)
		}
		const name = "fuzzed"
		file := s.Path(name)
		if err := os.WriteFile(file, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		sess, err := s.Get(name)
		if err != nil {
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Get: %T %v; want a *CorruptError", err, err)
			}
			if after, _ := os.ReadFile(file); string(after) != string(raw) {
				t.Fatal("a corrupt file was changed")
			}
			if err := s.Create(&Session{Name: name, Dialect: "xmla", URL: "http://h/", ID: "X"}); !errors.As(err, &ce) {
				t.Fatalf("Create over a corrupt file: %v", err)
			}
			if _, errs := s.List(); len(errs) != 1 {
				t.Fatalf("List: %d errors, want the corrupt file's", len(errs))
			}
			return
		}
		now := time.Now()
		for _, c := range sess.Cookies {
			c.Expiry()
			c.Expired(now)
			c.Scope()
		}
		sess.Open()
		want, err := json.Marshal(sess)
		if err != nil {
			t.Fatalf("a session read does not encode: %v", err)
		}
		if _, err := s.Update(name, func(*Session) error { return nil }); err != nil {
			t.Fatalf("Update: %v", err)
		}
		again, err := s.Get(name)
		if err != nil {
			t.Fatalf("a session written back does not read: %v", err)
		}
		got, _ := json.Marshal(again)
		if string(got) != string(want) {
			t.Fatalf("written back, the session changed:\n%s\n%s", want, got)
		}
		if list, errs := s.List(); len(list) != 1 || len(errs) > 0 {
			t.Fatalf("List: %d sessions, errors %v", len(list), errs)
		}
		if _, err := s.MarkEnded(name, sess.ID, Ended); err != nil {
			t.Fatalf("MarkEnded: %v", err)
		}
		if ok, err := s.Delete(name, sess.ID); !ok || err != nil {
			t.Fatalf("Delete: %v, %v", ok, err)
		}
	})
}
