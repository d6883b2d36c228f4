package jwt

import (
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/nistec"
)

// TestCurvesAreTheStandardLibrarys holds each curve's order, size and
// algorithm to crypto/elliptic's parameters and RFC 7518's names.
func TestCurvesAreTheStandardLibrarys(t *testing.T) {
	for _, tc := range []struct {
		crv, alg string
		std      elliptic.Curve
	}{
		{"P-256", "ES256", elliptic.P256()},
		{"P-384", "ES384", elliptic.P384()},
		{"P-521", "ES512", elliptic.P521()},
	} {
		c := curveOf(tc.crv)
		if c == nil {
			t.Fatalf("curveOf(%q) = nil", tc.crv)
		}
		if c.alg() != tc.alg || c.size() != (tc.std.Params().BitSize+7)/8 {
			t.Errorf("%s: alg %s, size %d; want %s, %d", tc.crv, c.alg(), c.size(), tc.alg, (tc.std.Params().BitSize+7)/8)
		}
		if n := orderOf(c); n.Cmp(tc.std.Params().N) != 0 {
			t.Errorf("%s: order %x, want %x", tc.crv, n, tc.std.Params().N)
		}
	}
	for _, crv := range []string{"P-224", "secp256k1", "p-256", ""} {
		if curveOf(crv) != nil {
			t.Errorf("curveOf(%q) is a curve", crv)
		}
	}
}

func orderOf(c ecCurve) *big.Int {
	switch c := c.(type) {
	case *curve[*nistec.P256Point]:
		return c.n
	case *curve[*nistec.P384Point]:
		return c.n
	case *curve[*nistec.P521Point]:
		return c.n
	}
	return nil
}

// TestECDSAWycheproof runs Project Wycheproof's P1363 vectors for the three
// JWS curves (testdata/wycheproof/README.md): edge cases of the arithmetic,
// r and s out of range or of the wrong size, points at infinity met halfway,
// special hashes. Each must verify exactly when Wycheproof says valid.
func TestECDSAWycheproof(t *testing.T) {
	files, _ := filepath.Glob("testdata/wycheproof/*.json.gz")
	if len(files) != 3 {
		t.Fatalf("want three vector files, found %v", files)
	}
	algs := map[string]string{"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
	crvs := map[string]string{"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
	for _, file := range files {
		var doc struct {
			Groups []struct {
				Curve, Sha, Key string
				Tests           []struct {
					TcID                      int
					Comment, Msg, Sig, Result string
				}
			}
		}
		readGzipJSON(t, file, &doc)
		ran := 0
		for _, g := range doc.Groups {
			alg, c := algs[g.Curve], curveOf(crvs[g.Curve])
			if c == nil || hashOf(alg).String() != g.Sha {
				t.Fatalf("%s: group of %s with %s is not a JWS algorithm", file, g.Curve, g.Sha)
			}
			key, err := c.publicKey(mustHex(t, g.Key))
			if err != nil {
				t.Fatalf("%s: key %s: %v", file, g.Key, err)
			}
			for _, tc := range g.Tests {
				want := tc.Result == "valid"
				if !want && tc.Result != "invalid" {
					t.Fatalf("%s #%d: result %q", file, tc.TcID, tc.Result)
				}
				if got := verifySignature(alg, key, string(mustHex(t, tc.Msg)), mustHex(t, tc.Sig)); got != want {
					t.Errorf("%s #%d (%s): verified %v, want %v", filepath.Base(file), tc.TcID, tc.Comment, got, want)
				}
				ran++
			}
		}
		if ran < 250 {
			t.Errorf("%s: only %d tests", file, ran)
		}
	}
}

// FuzzECDSAMatchesTheStandardLibrary holds verification to crypto/ecdsa's,
// on deterministic signatures of the fuzzer's message with the fuzzer's
// bytes XORed in (or, for sig of the right size with replace set, the
// fuzzer's own r||s), for each curve's key, and their high-s twins.
func FuzzECDSAMatchesTheStandardLibrary(f *testing.F) {
	keys := fuzzKeys(f)
	f.Add(uint8(0), []byte("payload"), []byte{}, false)
	f.Add(uint8(1), []byte("payload"), []byte{0, 0, 1}, false)
	f.Add(uint8(2), []byte{}, []byte{0xff}, false)
	f.Add(uint8(0), []byte("x"), make([]byte, 64), true)
	f.Fuzz(func(t *testing.T, which uint8, msg, xor []byte, replace bool) {
		k := keys[int(which)%len(keys)]
		digest := digest(hashOf(k.alg), msg, new([64]byte))
		der, err := k.priv.Sign(nil, digest, hashOf(k.alg))
		if err != nil {
			t.Fatal(err)
		}
		size := k.curve.size()
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			t.Fatalf("%x: %v", der, err)
		}
		sig := append(rs.R.FillBytes(make([]byte, size)), rs.S.FillBytes(make([]byte, size))...)
		if replace && len(xor) == len(sig) {
			copy(sig, xor)
		} else {
			for i, b := range xor {
				sig[i%len(sig)] ^= b
			}
		}
		check := func(sig []byte) {
			want := ecdsa.Verify(&k.priv.PublicKey, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
			if got := verifySignature(k.alg, k.pub, string(msg), sig); got != want {
				t.Fatalf("%s %x: verified %v, crypto/ecdsa %v", k.alg, sig, got, want)
			}
		}
		check(sig)
		n := orderOf(k.curve)
		if hs := new(big.Int).SetBytes(sig[size:]); hs.Sign() > 0 && hs.Cmp(n) < 0 {
			hs.Sub(n, hs).FillBytes(sig[size:])
			check(sig)
		}
	})
}

type fuzzKey struct {
	alg   string
	curve ecCurve
	priv  *ecdsa.PrivateKey
	pub   any
}

// fuzzKeys are one fixed key per curve, so that a failing input reproduces.
func fuzzKeys(tb testing.TB) []fuzzKey {
	var keys []fuzzKey
	for _, tc := range []struct {
		crv string
		std elliptic.Curve
	}{{"P-256", elliptic.P256()}, {"P-384", elliptic.P384()}, {"P-521", elliptic.P521()}} {
		c := curveOf(tc.crv)
		d := make([]byte, c.size())
		d[len(d)-1] = byte(len(keys) + 7)
		d[1] = 0x5a
		priv, err := ecdsa.ParseRawPrivateKey(tc.std, d)
		if err != nil {
			tb.Fatal(err)
		}
		point, err := priv.PublicKey.Bytes()
		if err != nil {
			tb.Fatal(err)
		}
		pub, err := c.publicKey(point)
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, fuzzKey{alg: c.alg(), curve: c, priv: priv, pub: pub})
	}
	return keys
}

func readGzipJSON(t *testing.T, file string, v any) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(z).Decode(v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
