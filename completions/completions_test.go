package completions

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"
)

// Every shell's template renders, fills in every field, and keeps what the
// shell needs first (zsh's #compdef line).
func TestGenerate(t *testing.T) {
	p := Params{GeneratedBy: "GENERATED-BY", CompleteFlag: "--COMPLETE-FLAG", Fish: "FISH-COMMANDS\n"}
	for _, sh := range Shells() {
		got, err := Generate(sh, p)
		if err != nil {
			t.Fatalf("%s: %v", sh, err)
		}
		for _, want := range []string{p.GeneratedBy, p.CompleteFlag} {
			if !bytes.Contains(got, []byte(want)) {
				t.Errorf("%s: %q not filled in:\n%s", sh, want, got)
			}
		}
		if bytes.Contains(got, []byte("{{")) || bytes.Contains(got, []byte("no value")) || bytes.HasPrefix(got, []byte("\n")) {
			t.Errorf("%s: template text left in the script:\n%s", sh, got)
		}
		if sh == "fish" && !bytes.Contains(got, []byte("\nFISH-COMMANDS\n")) {
			t.Errorf("fish: the commands' completions are missing:\n%s", got)
		}
		if sh == "zsh" && !bytes.HasPrefix(got, []byte("#compdef soapsess\n")) {
			t.Errorf("zsh: the script does not start with #compdef:\n%s", got)
		}
	}
	if _, err := Generate("tcsh", p); err == nil || !strings.Contains(err.Error(), `no completion for "tcsh"`) {
		t.Errorf("tcsh: %v", err)
	}
}

// Each template belongs to a shell: none is left over, unused.
func TestTemplatesAllUsed(t *testing.T) {
	used := map[string]bool{}
	for _, sh := range Shells() {
		path, err := Template(sh)
		if err != nil {
			t.Fatal(err)
		}
		used[path] = true
	}
	paths, err := fs.Glob(templates, "templates/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(used) {
		t.Errorf("templates %v, shells use %v", paths, used)
	}
	for _, p := range paths {
		if !used[p] {
			t.Errorf("%s is no shell's template", p)
		}
	}
}
