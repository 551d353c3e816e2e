package xmltok

import (
	"regexp"
	"strings"
	"sync"
)

var encodingDecl = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`encoding\s*=\s*["']([A-Za-z0-9._-]+)["']`)
})

// DeclaredEncoding is the encoding an XML declaration names, "" when it
// names none.
func DeclaredEncoding(decl []byte) string {
	if m := encodingDecl().FindSubmatch(decl); m != nil {
		return string(m[1])
	}
	return ""
}

// IsUTF8 reports whether an encoding name means UTF-8 (ASCII is a subset).
func IsUTF8(enc string) bool {
	switch strings.ToLower(enc) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return true
	}
	return false
}
