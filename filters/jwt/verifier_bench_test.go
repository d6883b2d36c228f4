package jwt

import (
	"testing"
)

// BenchmarkVerify is the per-request cost of authentication: a token served
// from the verified-token cache, and cold verifications (every check plus the
// signature) for each key type, and for ES384, ES512 and PS256, whose cost
// differs from their family's first: what refusing a forged token of that
// algorithm costs.
func BenchmarkVerify(b *testing.B) {
	v, set := newVerifier(b), providerKeys(b)
	for _, alg := range []string{"RS256", "ES256", "EdDSA", "HS256", "PS256", "ES384", "ES512"} {
		raw := testKeys()[alg].Token(claims("sub", `"alice"`, "scope", `"orders:read orders:write"`))
		b.Run("cold-"+alg, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				tok, d := v.Check(raw, now)
				if d.Denied() || v.Verify(tok, set).Denied() {
					b.Fatal("denied")
				}
			}
		})
	}
	raw := testKeys()["RS256"].Token(claims("sub", `"alice"`))
	c := NewCache(0, 0)
	tok, _ := v.Check(raw, now)
	c.Put(v, tok)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok := c.Get(v, raw, now); !ok {
				b.Fatal("miss")
			}
		}
	})
}
