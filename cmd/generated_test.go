package cmd

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated man page and completion scripts")

// The man page and completion scripts are generated from the app and
// committed; this fails when a committed one is stale.
func TestGeneratedFiles(t *testing.T) {
	files, err := GeneratedFiles()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range files {
		full := filepath.Join("..", path)
		if *update {
			if err := os.WriteFile(full, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(full)
		if err != nil {
			t.Errorf("%s: %v (go test ./cmd -run TestGeneratedFiles -update writes it)", path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go test ./cmd -run TestGeneratedFiles -update", path)
		}
	}
}

// The man page is lint-clean for mandoc or groff, when either is installed.
func TestManPageLint(t *testing.T) {
	page := filepath.Join("..", "man", "soapsess.1")
	linted := false
	if mandoc, err := exec.LookPath("mandoc"); err == nil {
		linted = true
		if out, err := exec.Command(mandoc, "-T", "lint", "-W", "warning", page).CombinedOutput(); err != nil {
			t.Errorf("mandoc -T lint: %v\n%s", err, out)
		}
	}
	if groff, err := exec.LookPath("groff"); err == nil {
		linted = true
		out, err := exec.Command(groff, "-man", "-ww", "-z", page).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("groff -man -ww: %v\n%s", err, out)
		}
	}
	if !linted {
		t.Skip("neither mandoc nor groff is installed")
	}
}
