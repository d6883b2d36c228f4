package jwks

import (
	"crypto/elliptic"
	"encoding/json"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// encryptionKey is an RSA key published for encryption, as Keycloak does by
// default next to its signing key.
func encryptionKey(kid string) map[string]any {
	m := jwttest.RSA(kid, "RS256", 2048).JWK()
	m["use"], m["alg"] = "enc", "RSA-OAEP"
	return m
}

func keySet(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestParseFetched(t *testing.T) {
	sig := jwttest.RSA("sig-1", "RS256", 2048).JWK()
	tests := []struct {
		name    string
		doc     []byte
		keys    int
		skipped []string
		wantErr string
	}{
		{name: "an encryption key next to the signing key is skipped", doc: keySet(encryptionKey("enc-1"), sig), keys: 1,
			skipped: []string{`keys[0].use: "enc": only signature keys are accepted`}},
		{name: "explicitly empty: every key withdrawn", doc: []byte(`{"keys":[]}`)},
		{name: "entries but none usable: a failed fetch", doc: jwttest.JWKS(jwttest.RSA("weak", "RS256", 1024)),
			skipped: []string{`keys[0].n: RSA key of 1024 bits`}, wantErr: "no usable signature key"},
		{name: "not a JWKS", doc: []byte(`<html>login</html>`), wantErr: "JWKS:"},
		{name: "mixed", doc: jwttest.JWKS(jwttest.EC("ec", elliptic.P256()), jwttest.RSA("weak", "RS256", 1024)), keys: 1,
			skipped: []string{`keys[1].n: RSA key of 1024 bits`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, skipped, err := ParseFetched(tc.doc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || set != nil {
					t.Fatalf("set %v, error %v; want error %q", set, err, tc.wantErr)
				}
			} else if err != nil || set.Len() != tc.keys {
				t.Fatalf("set %v, error %v; want %d keys", set, err, tc.keys)
			}
			if len(skipped) != len(tc.skipped) {
				t.Fatalf("skipped %v, want %d", skipped, len(tc.skipped))
			}
			for i, want := range tc.skipped {
				if !strings.Contains(skipped[i].Error(), want) {
					t.Errorf("skipped[%d] = %q, want %q in it", i, skipped[i], want)
				}
			}
		})
	}
}

func FuzzParseFetched(f *testing.F) {
	f.Add(keySet(encryptionKey("enc"), jwttest.EC("sig", elliptic.P256()).JWK()))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"secp256k1"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, skipped, err := ParseFetched(doc)
		if (set == nil) == (err == nil) {
			t.Fatalf("set %v with error %v", set, err)
		}
		if set != nil && set.Len() == 0 && len(skipped) > 0 {
			t.Fatal("a set of entries none of which is usable is a failed fetch, not an empty set")
		}
	})
}
