package envelope

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/soapsess/soapsess/reply"
)

// compileErrors checks the manifest's [[errors]] tables; an error names the
// file and line of the key at fault.
func (d *Dialect) compileErrors(raw []byte, file string) error {
	m := &d.manifest
	for i, e := range m.Errors {
		r, err := reply.NewErrorRule(e, m.Namespaces)
		if err != nil {
			var de *reply.DeclError
			key := ""
			if errors.As(err, &de) {
				key = de.Key
			}
			return &DialectError{fmt.Sprintf("%s:%d", file, errorsLine(raw, i, key)), fmt.Errorf("[[errors]] #%d: %w", i+1, err)}
		}
		d.errors = append(d.errors, r)
	}
	return nil
}

// errorsLine is the line of raw where the i-th (from 0) [[errors]] table
// sets key, or else where that table begins (1 when not found).
func errorsLine(raw []byte, i int, key string) int { return tableLine(raw, "errors", i, key) }

// tableLine is the line of raw where the i-th (from 0) [[name]] table sets
// key, or else where that table begins (1 when not found).
func tableLine(raw []byte, name string, i int, key string) int {
	table, n := 0, -1
	inString := "" // the delimiter of the multi-line string being read
	for ln, l := range strings.Split(string(raw), "\n") {
		t := strings.TrimSpace(l)
		if inString != "" {
			if strings.Count(t, inString)%2 == 1 {
				inString = ""
			}
			continue
		}
		for _, q := range []string{`'''`, `"""`} {
			if strings.Count(t, q)%2 == 1 {
				inString = q
			}
		}
		switch {
		case strings.HasPrefix(t, "[[") && tableName(t) == name:
			n++
			if n == i {
				table = ln + 1
			}
		case strings.HasPrefix(t, "[") && n == i:
			return table // the table ends without the key
		case n == i && key != "" && strings.HasPrefix(t, key) && strings.HasPrefix(strings.TrimSpace(t[len(key):]), "="):
			return ln + 1
		}
	}
	return max(table, 1)
}

// keyLine is the line of raw where the key k (a dotted path) is set: the
// first line setting its last part in a table named by the others (1 when
// not found).
func keyLine(raw []byte, k toml.Key) int {
	if len(k) == 0 {
		return 1
	}
	table, key := strings.Join(k[:len(k)-1], "."), k[len(k)-1]
	in := table == ""
	for ln, l := range strings.Split(string(raw), "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "["):
			in = tableName(t) == table
		case in && strings.HasPrefix(t, key) && strings.HasPrefix(strings.TrimSpace(t[len(key):]), "="):
			return ln + 1
		}
	}
	return 1
}

// tableName is the name in a table header line, "[name]" or "[[name]]".
func tableName(header string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(header, "["), "]")
	return strings.TrimSpace(name)
}

// Errors returns the dialect's compiled [[errors]] conventions, for
// reply.StreamOptions.Errors; a dialect whose manifest has no errors key
// gets the built-ins' (BuiltinErrors).
func (d *Dialect) Errors() []reply.ErrorRule {
	if d.inheritErrors {
		return BuiltinErrors()
	}
	return slices.Clone(d.errors)
}

// BuiltinErrors returns the conventions of all the built-in dialects, for
// reading a reply whose dialect is not known (soapsess fmt).
func BuiltinErrors() []reply.ErrorRule { return slices.Clone(builtinErrors()) }

var builtinErrors = sync.OnceValue(func() []reply.ErrorRule {
	var all []reply.ErrorRule
	for _, name := range Builtins() {
		d, err := Builtin(name)
		if err != nil {
			panic(err) // the built-ins are tested to load
		}
		all = append(all, d.errors...)
	}
	return all
})
