package reply

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/soapsess/soapsess/printer"
)

// FuzzStream runs what fmt and send run, the async lexer included, with the
// built-in dialects' error rules: it never panics, and copying without
// Pretty gives back the input exactly.
func FuzzStream(f *testing.F) {
	files, _ := filepath.Glob("../testdata/corpus/*/*.xml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	rules, err := builtinRules()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, async := range []bool{false, true} {
			var raw bytes.Buffer
			p := printer.New(&raw, printer.Options{Trusted: true})
			_, err := Stream(bytes.NewReader(doc), StreamOptions{Document: p, Async: async, Errors: rules})
			if cerr := p.Close(); err == nil && cerr == nil && !bytes.Equal(raw.Bytes(), bytes.TrimPrefix(doc, bom)) {
				t.Fatalf("async=%v: the document did not come back as it was", async)
			}
			var body bytes.Buffer
			bp := printer.New(&body, printer.Options{Pretty: true, Trusted: true})
			Stream(bytes.NewReader(doc), StreamOptions{RequireSOAP: true, NotSOAP: &body, Header: bp, Body: bp, Errors: rules})
			bp.Close()
		}
	})
}
