package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"strconv"

	jose "github.com/go-jose/go-jose/v4"
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
// private material (other than an oct secret) or that repeats a kid is an
// error, as is an empty set. Errors name the key: "keys[2]: ...".
func ParseKeySet(jwks []byte) (*KeySet, error) {
	doc, err := strictObject(jwks)
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
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(el.Raw)); err != nil {
		return boundKey{}, fmt.Errorf("not a valid JWK: %w", err)
	}
	if use := el.Get("use"); use.Exists() && use.String() != "sig" {
		return boundKey{}, fmt.Errorf("use %q: only signature keys are accepted", use.String())
	}
	k := boundKey{kid: jwk.KeyID, hasKid: el.Get("kid").Exists(), key: jwk.Key}
	declared := jwk.Algorithm
	var err error
	switch key := jwk.Key.(type) {
	case *rsa.PublicKey:
		k.alg, err = pick(declared, "RS256", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
		if err == nil && key.N.BitLen() < MinRSABits {
			err = fmt.Errorf("RSA key of %d bits; at least %d required", key.N.BitLen(), MinRSABits)
		}
	case *ecdsa.PublicKey:
		alg := map[elliptic.Curve]string{elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512"}[key.Curve]
		if alg == "" {
			return boundKey{}, errors.New("unsupported EC curve")
		}
		k.alg, err = pick(declared, alg, alg)
	case ed25519.PublicKey:
		k.alg, err = pick(declared, "EdDSA", "EdDSA")
	case []byte:
		k.alg, err = pick(declared, "HS256", "HS256", "HS384", "HS512")
		if err == nil && len(key) < hmacMinBytes(k.alg) {
			err = fmt.Errorf("%s secret of %d bytes; at least %d required", k.alg, len(key), hmacMinBytes(k.alg))
		}
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return boundKey{}, errors.New("private key material in a verification key set")
	default:
		return boundKey{}, errors.New("unsupported key type")
	}
	return k, err
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
