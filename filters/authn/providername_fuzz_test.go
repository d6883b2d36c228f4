package authn

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzIsProviderName holds isProviderName to the regular expression it
// replaced (which compiled in every VM's _initialize), kept here as its
// specification.
func FuzzIsProviderName(f *testing.F) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	for _, seed := range []string{"idp", "Corp_IdP-2", "", "my idp", "idp\n", "é", strings.Repeat("a", 64), strings.Repeat("a", 65)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := isProviderName(name), pattern.MatchString(name); got != want {
			t.Fatalf("isProviderName(%q) = %v, the pattern says %v", name, got, want)
		}
	})
}
