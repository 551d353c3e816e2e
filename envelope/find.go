package envelope

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Find loads the dialect called name: a built-in; or a directory, when name
// is a path (it holds a path separator or starts with "."); or the directory
// name in userDir, the user's own dialects ("" for none). Built-in names come
// first, so a user's directory cannot change what "xmla" means.
func Find(name, userDir string) (*Dialect, error) {
	if isPath(name) {
		abs, err := filepath.Abs(name)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%w: %s is not a dialect directory", ErrUnknownDialect, name)
		}
		d, err := Load(os.DirFS(abs), filepath.Base(abs), abs)
		if err != nil {
			return nil, err
		}
		d.ref = abs
		return d, nil
	}
	if d, err := Builtin(name); err == nil {
		d.ref = name
		return d, nil
	}
	if userDir != "" && ValidName(name) {
		dir := filepath.Join(userDir, name)
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			d, err := Load(os.DirFS(dir), name, dir)
			if err != nil {
				return nil, err
			}
			d.ref = name
			return d, nil
		}
	}
	known := Builtins()
	for _, i := range List(userDir) {
		if i.Source != "built-in" && !contains(known, i.Name) {
			known = append(known, i.Name)
		}
	}
	return nil, fmt.Errorf("%w %q (known: %s; or give a dialect directory's path)", ErrUnknownDialect, name, strings.Join(known, ", "))
}

// Ref is how to find the dialect again (what a session keeps): its name, or
// the absolute path it was loaded from.
func (d *Dialect) Ref() string {
	if d.ref == "" {
		return d.Name
	}
	return d.ref
}

func isPath(name string) bool {
	return strings.ContainsRune(name, filepath.Separator) || strings.ContainsRune(name, '/') || strings.HasPrefix(name, ".")
}

// ValidName reports whether name can name a dialect in the user's directory.
func ValidName(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Info describes one dialect for a listing.
type Info struct {
	Name        string
	Source      string // "built-in" or a directory
	Description string
	Err         error // a broken dialect is listed with what is wrong with it
	Shadowed    bool  // a user's dialect with a built-in's name, which is never used
}

// List lists the built-in dialects and those in userDir.
func List(userDir string) []Info {
	var out []Info
	for _, n := range Builtins() {
		d, err := Builtin(n)
		i := Info{Name: n, Source: "built-in", Err: err}
		if d != nil {
			i.Description = d.Description
		}
		out = append(out, i)
	}
	if userDir == "" {
		return out
	}
	entries, err := os.ReadDir(userDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			out = append(out, Info{Name: "?", Source: userDir, Err: err})
		}
		return out
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && ValidName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		dir := filepath.Join(userDir, n)
		d, err := Load(os.DirFS(dir), n, dir)
		i := Info{Name: n, Source: dir, Err: err, Shadowed: contains(Builtins(), n)}
		if d != nil {
			i.Description = d.Description
		}
		out = append(out, i)
	}
	return out
}

// WriteCopy writes the dialect's files into dir, which must not exist yet,
// as a starting point for a dialect of one's own.
func (d *Dialect) WriteCopy(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists already; pick another name or remove it", dir)
	}
	names, files, err := d.Files()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}
