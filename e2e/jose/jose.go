// Package jose makes ES256 signing keys, publishes them as a JWKS and signs
// compact JWS tokens with them (RFC 7515, RFC 7518 section 3.4): the keys of
// the local gateway's demo identity provider and of policy test runs. It
// uses only the standard library, so the shipped commands carry no test
// helpers.
package jose

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
)

// Key is a P-256 signing key with its key id.
type Key struct {
	kid string
	key *ecdsa.PrivateKey
}

// NewKey generates a key named kid.
func NewKey(kid string) (*Key, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Key{kid: kid, key: k}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// p256 is a P-256 coordinate or signature half as its fixed 32 bytes.
func p256(n *big.Int) []byte { return n.FillBytes(make([]byte, 32)) }

// JWK is the public key as a JWK object (RFC 7517), "use": "sig".
func (k *Key) JWK() map[string]string {
	return map[string]string{
		"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": k.kid,
		"x": b64(p256(k.key.X)), "y": b64(p256(k.key.Y)),
	}
}

// JWKS is the key set document of the given keys.
func JWKS(keys ...*Key) []byte {
	set := make([]map[string]string, len(keys))
	for i, k := range keys {
		set[i] = k.JWK()
	}
	b, _ := json.Marshal(map[string]any{"keys": set})
	return b
}

// Sign signs payload (raw JSON) as a compact ES256 JWS whose header carries
// the key id and typ ("JWT" if empty).
func (k *Key) Sign(typ string, payload []byte) (string, error) {
	if typ == "" {
		typ = "JWT"
	}
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": typ, "kid": k.kid})
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.key, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64(append(p256(r), p256(s)...)), nil
}
