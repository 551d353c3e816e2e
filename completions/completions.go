// Package completions holds soapsess's shell completion scripts, printed by
// `soapsess completion SHELL`. Each script is generated from its template in
// templates/ and the command line's own definition (go test ./cmd -run
// TestGeneratedFiles -update), and committed.
package completions

import (
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strings"
	"text/template"
)

//go:embed soapsess.bash _soapsess soapsess.fish soapsess.ps1
var files embed.FS

//go:embed templates/*.tmpl
var templates embed.FS

// names maps a shell to its script's file name.
var names = map[string]string{
	"bash":       "soapsess.bash",
	"zsh":        "_soapsess",
	"fish":       "soapsess.fish",
	"powershell": "soapsess.ps1",
}

// Shells lists the shells there are scripts for.
func Shells() []string {
	out := make([]string, 0, len(names))
	for s := range names {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// File is the name of a shell's script in this directory.
func File(shell string) (string, error) {
	f, ok := names[shell]
	if !ok {
		return "", fmt.Errorf("no completion for %q (there are: %s)", shell, strings.Join(Shells(), ", "))
	}
	return f, nil
}

// Script returns a shell's completion script.
func Script(shell string) ([]byte, error) {
	f, err := File(shell)
	if err != nil {
		return nil, err
	}
	return files.ReadFile(f)
}

// Template is the path, in this directory, of the template a shell's script
// is generated from.
func Template(shell string) (string, error) {
	f, err := File(shell)
	if err != nil {
		return "", err
	}
	return "templates/" + f + ".tmpl", nil
}

// Params are what the templates fill in.
type Params struct {
	// GeneratedBy says, in the script's first comment, where the script
	// comes from and that it is not to be edited.
	GeneratedBy string
	// CompleteFlag ends the command line a script runs to ask soapsess for
	// the candidates.
	CompleteFlag string
	// Fish is the fish completions of the commands and flags (from
	// urfave/cli's ToFishCompletion); only the fish template uses it.
	Fish string
}

// Generate renders a shell's script from its template.
func Generate(shell string, p Params) ([]byte, error) {
	path, err := Template(shell)
	if err != nil {
		return nil, err
	}
	text, err := templates.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := template.New(path).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
