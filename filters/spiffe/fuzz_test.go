package spiffe

import (
	"strings"
	"testing"
)

// FuzzParse checks that whatever a certificate's URI SAN holds, Parse
// neither panics nor accepts what the grammar refuses, that an accepted ID
// is returned as written, and that a prefix never matches across a segment
// boundary. Its seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"spiffe://cluster.local/ns/orders/sa/billing",
		"spiffe://cluster.local",
		"spiffe://cluster.local/ns/orders-evil/sa/x",
		"SPIFFE://Cluster.local/ns/a",
		"spiffe://a@b:1/c?d#e",
		"spiffe://td/ns//a/../b/",
	} {
		f.Add(s)
	}
	m := &Matcher{under: []string{"spiffe://cluster.local/ns/orders/"}}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			if !id.IsZero() {
				t.Fatalf("refused %q but returned %q", s, id)
			}
			return
		}
		if id.String() != s || "spiffe://"+id.TrustDomain()+id.Path() != s {
			t.Fatalf("%q came back as %q (%q, %q)", s, id, id.TrustDomain(), id.Path())
		}
		if len(s) > MaxIDLength || !ValidTrustDomain(id.TrustDomain()) || strings.ContainsAny(s[len("spiffe://"):], "?#%@: ") ||
			strings.Contains(id.Path(), "//") || strings.HasSuffix(id.Path(), "/") ||
			strings.Contains(id.Path()+"/", "/./") || strings.Contains(id.Path()+"/", "/../") {
			t.Fatalf("accepted %q", s)
		}
		if m.Match(id) && !strings.HasPrefix(s, "spiffe://cluster.local/ns/orders/") {
			t.Fatalf("prefix matched %q", s)
		}
	})
}
