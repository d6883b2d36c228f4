package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/tidwall/gjson"
)

// Minimum key strengths, refused at load time.
const (
	MinRSABits      = 2048
	MinHMACKeyBytes = 32
)

// MaxKeys bounds a key set: a huge JWKS costs bounded work and memory.
const MaxKeys = 64

// KeySet is a provider's verification keys, each bound to exactly one
// algorithm: one key, one algorithm. It is immutable.
type KeySet struct {
	keys []boundKey
}

type boundKey struct {
	kid    string
	hasKid bool
	alg    string
	key    any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte
}

// Len is the number of keys.
func (s *KeySet) Len() int { return len(s.keys) }

// ParseKeySet reads a JWKS document ({"keys": [...]}, RFC 7517 section 5)
// strictly and binds each key to its algorithm:
//   - RSA keys of at least MinRSABits: their alg (RS* or PS*), RS256 if absent;
//   - EC keys: the algorithm of their curve (P-256 ES256, P-384 ES384, P-521 ES512);
//   - OKP Ed25519 keys: EdDSA;
//   - oct keys of at least MinHMACKeyBytes (and the hash size): their alg
//     (HS*), HS256 if absent.
//
// A key whose alg contradicts its type, whose use is not "sig", that carries
// private material (other than an oct secret), whose EC point is not on its
// curve, or that repeats a kid is an error, as is an empty set. Errors name
// the key: "keys[2]: ...".
//
// JWKs are decoded here onto the standard library's key types rather than by
// a JOSE library: go-jose and golang-jwt both import crypto/x509, whose net
// dependency makes the module import a WASI function (path_filestat_get)
// that Envoy does not provide, so the plugin would not load.
func ParseKeySet(jwks []byte) (*KeySet, error) {
	doc, err := strictObject(jwks, keySetLimits)
	if err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	arr := doc.Get("keys")
	if !arr.IsArray() {
		return nil, errors.New(`JWKS: "keys" must be an array`)
	}
	elems := arr.Array()
	switch {
	case len(elems) == 0:
		return nil, errors.New("JWKS: no keys")
	case len(elems) > MaxKeys:
		return nil, fmt.Errorf("JWKS: %d keys; at most %d", len(elems), MaxKeys)
	}
	set := &KeySet{}
	var errs []error
	for i, el := range elems {
		k, err := bindKey(el)
		if err == nil {
			for _, prev := range set.keys {
				if k.hasKid && prev.hasKid && prev.kid == k.kid {
					err = fmt.Errorf("kid %q is used twice", k.kid)
				}
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("keys[%d]: %w", i, err))
			continue
		}
		set.keys = append(set.keys, k)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

func bindKey(el gjson.Result) (boundKey, error) {
	if !el.IsObject() {
		return boundKey{}, errors.New("must be an object")
	}
	if use := el.Get("use"); use.Exists() && use.String() != "sig" {
		return boundKey{}, fmt.Errorf("use %q: only signature keys are accepted", use.String())
	}
	if el.Get("d").Exists() || el.Get("p").Exists() {
		return boundKey{}, errors.New("private key material in a verification key set")
	}
	k := boundKey{kid: el.Get("kid").String(), hasKid: el.Get("kid").Exists()}
	declared := el.Get("alg").String()
	var err error
	switch kty := el.Get("kty").String(); kty {
	case "RSA":
		var pub *rsa.PublicKey
		if pub, err = rsaKey(el); err != nil {
			return boundKey{}, err
		}
		k.key = pub
		k.alg, err = pick(declared, "RS256", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
	case "EC":
		curve, alg := curveOf(el.Get("crv").String())
		if curve == nil {
			return boundKey{}, fmt.Errorf("unsupported EC curve %q", el.Get("crv").String())
		}
		x, okX := coordinate(el.Get("x"), curve)
		y, okY := coordinate(el.Get("y"), curve)
		if !okX || !okY {
			return boundKey{}, errors.New("x and y must be base64url coordinates of the curve's size")
		}
		pub, perr := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if perr != nil {
			return boundKey{}, errors.New("the point is not on the curve")
		}
		k.key = pub
		k.alg, err = pick(declared, alg, alg)
	case "OKP":
		x, ok := decodePart(el.Get("x").String())
		if el.Get("crv").String() != "Ed25519" || !ok || len(x) != ed25519.PublicKeySize {
			return boundKey{}, errors.New("only Ed25519 OKP keys (32-byte x) are accepted")
		}
		k.key = ed25519.PublicKey(x)
		k.alg, err = pick(declared, "EdDSA", "EdDSA")
	case "oct":
		secret, ok := decodePart(el.Get("k").String())
		if !ok {
			return boundKey{}, errors.New("k must be base64url")
		}
		k.key = secret
		k.alg, err = pick(declared, "HS256", "HS256", "HS384", "HS512")
		if err == nil && len(secret) < hmacMinBytes(k.alg) {
			err = fmt.Errorf("%s secret of %d bytes; at least %d required", k.alg, len(secret), hmacMinBytes(k.alg))
		}
	default:
		return boundKey{}, fmt.Errorf("unsupported key type %q", kty)
	}
	return k, err
}

// rsaKey reads n and e. The exponent must be odd and fit 31 bits (what
// crypto/rsa accepts); the modulus must have MinRSABits.
func rsaKey(el gjson.Result) (*rsa.PublicKey, error) {
	n, okN := decodePart(el.Get("n").String())
	e, okE := decodePart(el.Get("e").String())
	if !okN || !okE || len(n) == 0 || len(e) == 0 || len(e) > 4 || n[0] == 0 {
		return nil, errors.New("n and e must be minimal base64url integers")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	switch {
	case pub.N.BitLen() < MinRSABits:
		return nil, fmt.Errorf("RSA key of %d bits; at least %d required", pub.N.BitLen(), MinRSABits)
	case pub.E < 3 || pub.E%2 == 0 || pub.E > 1<<31-1:
		return nil, errors.New("RSA exponent must be odd, at least 3 and fit 31 bits")
	}
	return pub, nil
}

func curveOf(crv string) (elliptic.Curve, string) {
	switch crv {
	case "P-256":
		return elliptic.P256(), "ES256"
	case "P-384":
		return elliptic.P384(), "ES384"
	case "P-521":
		return elliptic.P521(), "ES512"
	}
	return nil, ""
}

// coordinate decodes an EC coordinate, which RFC 7518 section 6.2.1.2 fixes
// at the curve's byte size.
func coordinate(v gjson.Result, curve elliptic.Curve) ([]byte, bool) {
	b, ok := decodePart(v.String())
	return b, ok && v.Type == gjson.String && len(b) == (curve.Params().BitSize+7)/8
}

// pick returns the declared alg if it is one of allowed, else def when none
// was declared.
func pick(declared, def string, allowed ...string) (string, error) {
	if declared == "" {
		return def, nil
	}
	for _, a := range allowed {
		if a == declared {
			return declared, nil
		}
	}
	return "", fmt.Errorf("alg %q does not fit the key type", declared)
}

func hmacMinBytes(alg string) int {
	bits, _ := strconv.Atoi(alg[2:])
	return max(MinHMACKeyBytes, bits/8)
}
