package reply

import (
	"regexp"
	"testing"
)

// isNCName agrees with the regular expression it replaced.
func TestIsNCName(t *testing.T) {
	re := regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}_.\-\x{B7}]*$`)
	for _, s := range []string{"", "a", "_", "Fault", "row", "x1", "1x", "a-b", "-a", ".a", "a.b", "a·b", "·a",
		"Größe", "名前", "a:b", "a b", "a\u0663", "\u0663a", "a\u00B2", "a\u2160", "\u2160", "a$", "ab\n"} {
		if got, want := isNCName(s), re.MatchString(s); got != want {
			t.Errorf("isNCName(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
