package reply

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/soapsess/soapsess/printer"
)

// replySeeds are the corpus messages and every XML file of the cmd
// scripts: faults of both versions, DSML errorResponses, XMLA Messages,
// SQL Server SqlMessages, and replies with none.
func replySeeds(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	files, _ := filepath.Glob(filepath.Join(corpus, "*", "*.xml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
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
			if strings.HasSuffix(f.Name, ".xml") {
				out = append(out, f.Data)
			}
		}
	}
	if len(out) < 60 {
		t.Fatalf("only %d seeds", len(out))
	}
	return out
}

// FuzzProblems reads fuzzed replies for the problems they report, with the
// built-in dialects' rules, as send reads a reply (RequireSOAP, its header
// and body printed as they come) and as fmt reads a document (on two
// cores, printed whole). Nothing panics; when both read a SOAP envelope
// they find the same problems; every problem has a kind, a severity and a
// summary.
func FuzzProblems(f *testing.F) {
	for _, b := range replySeeds(f) {
		f.Add(b)
	}
	rules, err := builtinRules()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var out bytes.Buffer
		p := printer.New(&out, printer.Options{Pretty: true, Trusted: true})
		sent, serr := Stream(bytes.NewReader(doc), StreamOptions{RequireSOAP: true, NotSOAP: &out, Header: p, Body: p, Errors: rules})
		p.Close()
		quiet, qerr := Stream(bytes.NewReader(doc), StreamOptions{RequireSOAP: true, Errors: rules})
		if (serr == nil) != (qerr == nil) || serr == nil && !reflect.DeepEqual(sent, quiet) {
			t.Fatalf("printing the reply changed what was read: %+v, %v; without: %+v, %v", sent, serr, quiet, qerr)
		}
		d := printer.New(&out, printer.Options{Pretty: true, Trusted: true})
		fmted, ferr := Stream(bytes.NewReader(doc), StreamOptions{Async: true, Document: d, Errors: rules})
		d.Close()
		if serr == nil && ferr == nil && sent.Version != "" && !reflect.DeepEqual(sent.Problems, fmted.Problems) {
			t.Fatalf("send and fmt read different problems:\n%+v\n%+v", sent.Problems, fmted.Problems)
		}
		for _, st := range []*Streamed{sent, fmted} {
			if st == nil {
				continue
			}
			for _, pr := range st.Problems {
				if pr.Kind == "" || pr.Severity != SeverityError && pr.Severity != SeverityWarning || pr.Summary() == "" {
					t.Fatalf("a problem without a kind, severity or summary: %+v", pr)
				}
				pr.Text()
			}
		}
	})
}
