package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// demoKey is the demo IdP's ES256 signing key. It is the gateway's own,
// small on purpose: the shipped command imports no test helpers.
type demoKey struct {
	kid string
	key *ecdsa.PrivateKey
}

func newDemoKey(kid string) (*demoKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &demoKey{kid: kid, key: k}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// p256 is a P-256 coordinate or signature half as its fixed 32 bytes.
func p256(n *big.Int) []byte { return n.FillBytes(make([]byte, 32)) }

// jwks is the key set document the demo IdP serves.
func (k *demoKey) jwks() []byte {
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": k.kid,
		"x": b64(p256(k.key.X)), "y": b64(p256(k.key.Y)),
	}}})
	return b
}

// token signs a payload (raw JSON) as a compact ES256 JWS.
func (k *demoKey) token(payload string) (string, error) {
	input := b64([]byte(fmt.Sprintf(`{"alg":"ES256","typ":"JWT","kid":%q}`, k.kid))) + "." + b64([]byte(payload))
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.key, sum[:])
	if err != nil {
		return "", err
	}
	return input + "." + b64(append(p256(r), p256(s)...)), nil
}
