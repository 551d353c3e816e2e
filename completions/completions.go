// Package completions holds soapsess's shell completion scripts, generated
// from the command line's own definition (go test ./cmd -run
// TestGeneratedFiles -update) and printed by `soapsess completion SHELL`.
package completions

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

//go:embed soapsess.bash _soapsess soapsess.fish soapsess.ps1
var files embed.FS

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
