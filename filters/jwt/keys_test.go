package jwt

import (
	"crypto/elliptic"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

func jwk(k *jwttest.Key, edits ...string) map[string]any {
	m := k.JWK()
	for i := 0; i+1 < len(edits); i += 2 {
		if edits[i+1] == "" {
			delete(m, edits[i])
		} else {
			m[edits[i]] = edits[i+1]
		}
	}
	return m
}

func jwks(keys ...map[string]any) []byte {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = mustJSON(k)
	}
	return []byte(`{"keys":[` + strings.Join(parts, ",") + `]}`)
}

func TestParseKeySet(t *testing.T) {
	k := testKeys()
	tests := []struct {
		name    string
		doc     []byte
		wantErr string // "" means the set loads
		wantAlg string // for a single-key set
	}{
		{name: "every supported key", doc: providerJWKS()},
		{name: "RSA without alg is RS256", doc: jwks(jwk(k["RS256"], "alg", "")), wantAlg: "RS256"},
		{name: "EC alg follows the curve", doc: jwks(jwk(k["ES384"], "alg", "")), wantAlg: "ES384"},
		{name: "oct without alg is HS256", doc: jwks(jwk(k["HS256"], "alg", "")), wantAlg: "HS256"},
		{name: "use may be absent", doc: jwks(jwk(k["EdDSA"], "use", "")), wantAlg: "EdDSA"},
		{name: "RSA under 2048 bits", doc: jwttest.JWKS(jwttest.RSA("small", "RS256", 1024)), wantErr: "keys[0].n: RSA key of 1024 bits; at least 2048 required"},
		{name: "HMAC secret under 32 bytes", doc: jwttest.JWKS(jwttest.HMAC("s", "HS256", 16)), wantErr: "keys[0].k: HS256 secret of 16 bytes; at least 32 required"},
		{name: "HS512 secret shorter than its hash", doc: jwttest.JWKS(jwttest.HMAC("s", "HS512", 48)), wantErr: "keys[0].k: HS512 secret of 48 bytes; at least 64 required"},
		{name: "alg contradicting the key type", doc: jwks(jwk(k["ES256"], "alg", "RS256")), wantErr: `keys[0].alg: alg "RS256" does not fit the key type`},
		{name: "alg contradicting the curve", doc: jwks(jwk(k["ES256"], "alg", "ES384")), wantErr: `keys[0].alg: alg "ES384" does not fit the key type`},
		// Found by FuzzParseKeySet (testdata/fuzz/FuzzParseKeySet/eb55d881ea2d6d0d): an oct key
		// with a non-HMAC alg once panicked while computing the minimum secret size.
		{name: "RSA alg on an oct key", doc: jwks(jwk(k["HS256"], "alg", "RS256")), wantErr: `keys[0].alg: alg "RS256" does not fit the key type`},
		{name: "HMAC alg on an RSA key", doc: jwks(jwk(k["RS256"], "alg", "HS256")), wantErr: `keys[0].alg: alg "HS256" does not fit the key type`},
		{name: "encryption key", doc: jwks(jwk(k["RS256"], "use", "enc")), wantErr: `keys[0].use: "enc": only signature keys`},
		{name: "repeated kid", doc: jwks(jwk(k["RS256"]), jwk(k["ES256"], "kid", "rs256")), wantErr: "keys[0].kid: kid \"rs256\" is used by 2 keys\nkeys[1].kid: kid \"rs256\" is used by 2 keys"},
		{name: "unknown kty", doc: []byte(`{"keys":[{"kty":"XYZ","kid":"a"}]}`), wantErr: `keys[0].kty: unsupported key type "XYZ"`},
		{name: "EC point off the curve", doc: jwks(jwk(k["ES256"], "y", jwk(k["ES256"])["x"].(string))), wantErr: "keys[0]: the point is not on the curve"},
		{name: "EC coordinate of the wrong size", doc: jwks(jwk(k["ES256"], "x", "AAAA")), wantErr: "keys[0]: x and y must be base64url coordinates"},
		{name: "unsupported curve", doc: jwks(jwk(k["ES256"], "crv", "P-224")), wantErr: `keys[0].crv: unsupported EC curve "P-224"`},
		{name: "even RSA exponent", doc: jwks(jwk(k["RS256"], "e", "Ag")), wantErr: "keys[0].e: RSA exponent must be odd"},
		{name: "RSA modulus with a leading zero", doc: jwks(jwk(k["RS256"], "n", "AA"+jwk(k["RS256"])["n"].(string))), wantErr: "keys[0]: n and e must be minimal"},
		{name: "X25519 is not a signature key", doc: jwks(jwk(k["EdDSA"], "crv", "X25519")), wantErr: "keys[0]: only Ed25519 OKP keys"},
		{name: "key not an object", doc: []byte(`{"keys":[1]}`), wantErr: "keys[0]: must be an object"},
		{name: "no keys", doc: []byte(`{"keys":[]}`), wantErr: "keys: no keys"},
		{name: "keys not an array", doc: []byte(`{"keys":{}}`), wantErr: `keys: must be an array`},
		{name: "not JSON", doc: []byte(`<html>`), wantErr: "JWKS: not a JSON object"},
		{name: "duplicate JSON key", doc: []byte(`{"keys":[],"keys":[]}`), wantErr: "JWKS: duplicate JSON key"},
		{name: "every bad key is named", doc: jwks(jwk(k["ES256"], "alg", "RS256"), jwk(k["RS256"]), jwk(k["HS256"], "use", "enc")),
			wantErr: "keys[0].alg: alg \"RS256\" does not fit the key type\nkeys[2].use: \"enc\": only signature keys are accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := ParseKeySet(tc.doc)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want prefix %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantAlg != "" && (set.Len() != 1 || set.keys[0].alg != tc.wantAlg) {
				t.Errorf("bound to %v, want %s", set.keys, tc.wantAlg)
			}
		})
	}
}

func TestPrivateKeyMaterialIsRefused(t *testing.T) {
	pub := testKeys()["ES256"].JWK()
	priv := jwttest.EC("p", elliptic.P256())
	m := priv.JWK()
	m["d"] = pub["x"] // any scalar makes it a private JWK
	if _, err := ParseKeySet(jwks(m)); err == nil {
		t.Fatal("a JWKS with private key material loaded")
	}
}

func providerJWKS() []byte {
	var ks []*jwttest.Key
	for alg, k := range testKeys() {
		if alg != "attacker" {
			ks = append(ks, k)
		}
	}
	return jwttest.JWKS(ks...)
}

func FuzzParseKeySet(f *testing.F) {
	f.Add(providerJWKS())
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		set, err := ParseKeySet(doc)
		if (set == nil) == (err == nil) {
			t.Fatalf("set %v with error %v", set, err)
		}
		if set != nil {
			for _, k := range set.keys {
				if acceptedAlg(k.alg) == "" {
					t.Fatalf("key bound to %q", k.alg)
				}
			}
		}
	})
}

func FuzzCheck(f *testing.F) {
	k := testKeys()
	f.Add(k["RS256"].Token(claims()))
	f.Add(k["ES256"].Token(claims("nbf", "1", "iat", "2")))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(k["ES256"].Token(strings.TrimSuffix(claims(), "}") + `,"role":"user","Role":"admin"}`))
	f.Add(k["ES256"].Sign("ES256", `{"alg":"ES256","kid":"es256","typ":"at+jwt","x":"\ud800"}`, claims()))
	v, set := newVerifier(f), providerKeys(f)
	f.Fuzz(func(t *testing.T, raw string) {
		tok, d := v.Check(raw, now)
		if d.Denied() {
			if tok != nil || d.Reason.Status() != 401 {
				t.Fatalf("denial %+v with token %v", d, tok)
			}
			return
		}
		_ = v.Verify(tok, set)
	})
}

func TestKeyOps(t *testing.T) {
	k := testKeys()
	withOps := func(ops any, use string) []byte {
		m := jwk(k["ES256"], "use", use)
		m["key_ops"] = ops
		return jwks(m)
	}
	tests := []struct {
		name    string
		doc     []byte
		wantErr string
	}{
		{name: "verify", doc: withOps([]string{"verify"}, "sig")},
		{name: "sign and verify without use", doc: withOps([]string{"sign", "verify"}, "")},
		{name: "encrypt only", doc: withOps([]string{"encrypt"}, ""), wantErr: `keys[0].key_ops: does not include "verify": not a verification key`},
		{name: "empty", doc: withOps([]string{}, ""), wantErr: `keys[0].key_ops: does not include "verify"`},
		{name: "verify with encrypt under use sig", doc: withOps([]string{"verify", "encrypt"}, "sig"), wantErr: `keys[0].key_ops: "encrypt" contradicts use "sig"`},
		{name: "repeated op", doc: withOps([]string{"verify", "verify"}, ""), wantErr: `keys[0].key_ops: "verify" is listed twice`},
		{name: "not an array", doc: withOps("verify", ""), wantErr: "keys[0].key_ops: must be an array of strings"},
		{name: "not strings", doc: withOps([]any{1}, ""), wantErr: "keys[0].key_ops: must be an array of strings"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeySet(tc.doc)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want prefix %q", err, tc.wantErr)
			}
		})
	}
}

// TestParseKeysSkipsUnusableKeys is what a remote JWKS gets: a set shaped
// like Keycloak's default one (an RSA-OAEP encryption key next to the RS256
// signing key), plus keys apiguard cannot use, yields the usable keys and a
// KeyError naming each key left out.
func TestParseKeysSkipsUnusableKeys(t *testing.T) {
	k := testKeys()
	enc := jwk(k["RS384"], "use", "enc", "alg", "RSA-OAEP", "kid", "enc-1")
	opsEncrypt := jwk(k["ES384"], "use", "")
	opsEncrypt["key_ops"] = []string{"encrypt"}
	secp := map[string]any{"kty": "EC", "crv": "secp256k1", "kid": "k1", "x": "AA", "y": "AA"}
	twin1, twin2 := jwk(k["ES512"], "kid", "twin"), jwk(k["EdDSA"], "kid", "twin")
	set, skipped, err := ParseKeys(jwks(enc, jwk(k["RS256"]), opsEncrypt, secp, twin1, twin2))
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 1 || set.keys[0].kid != "rs256" {
		t.Errorf("usable keys %v, want only rs256", set.keys)
	}
	want := []string{
		`keys[0].use: "enc": only signature keys are accepted`,
		`keys[2].key_ops: does not include "verify": not a verification key`,
		`keys[3].crv: unsupported EC curve "secp256k1"`,
		`keys[4].kid: kid "twin" is used by 2 keys`,
		`keys[5].kid: kid "twin" is used by 2 keys`,
	}
	if len(skipped) != len(want) {
		t.Fatalf("skipped %v", skipped)
	}
	for i, w := range want {
		if skipped[i].Error() != w {
			t.Errorf("skipped[%d] = %q, want %q", i, skipped[i], w)
		}
	}
	if skipped[0].Kid != "enc-1" {
		t.Errorf("skipped[0].Kid = %q", skipped[0].Kid)
	}
	if set, skipped, err := ParseKeys([]byte(`{"keys":[]}`)); err != nil || set.Len() != 0 || len(skipped) != 0 {
		t.Errorf("an empty set: %v %v %v", set, skipped, err)
	}
	if _, _, err := ParseKeys([]byte(`{"keys":{}}`)); err == nil || err.Error() != "keys: must be an array" {
		t.Errorf("not a key set: %v", err)
	}
}
