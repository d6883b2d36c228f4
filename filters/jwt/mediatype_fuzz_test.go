package jwt

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzIsMediaType holds isMediaType to the regular expression it replaced
// (which compiled in every VM's _initialize), kept here as its
// specification.
func FuzzIsMediaType(f *testing.F) {
	pattern := regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/)?[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)
	for _, seed := range []string{"at+jwt", "application/at+jwt", "a/b/c", "/jwt", "+jwt", "at+jwt\n", strings.Repeat("x", 127), strings.Repeat("x", 128)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, typ string) {
		if got, want := isMediaType(typ), pattern.MatchString(typ); got != want {
			t.Fatalf("isMediaType(%q) = %v, the pattern says %v", typ, got, want)
		}
	})
}
