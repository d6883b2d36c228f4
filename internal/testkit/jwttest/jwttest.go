// Package jwttest mints tokens and key sets with real keys for tests: unit
// tests of filters/jwt and the e2e suite against plugin.wasm. Headers and
// payloads are taken as raw JSON so tests can also build the malformed tokens
// an attacker would send. Test code only: both sides (filters/ and e2e/) may
// import it, no production package does (TestDependencyRules).
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// Key is a signing key with the public half a JWKS publishes.
type Key struct {
	Kid, Alg string
	private  crypto.Signer
	secret   []byte
}

// RSA generates an RSA key of bits for alg (RS* or PS*).
func RSA(kid, alg string, bits int) *Key {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return &Key{Kid: kid, Alg: alg, private: k}
}

// EC generates an ECDSA key; the algorithm follows the curve.
func EC(kid string, curve elliptic.Curve) *Key {
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		panic(err)
	}
	alg := map[elliptic.Curve]string{elliptic.P256(): "ES256", elliptic.P384(): "ES384", elliptic.P521(): "ES512"}[curve]
	return &Key{Kid: kid, Alg: alg, private: k}
}

// Ed25519 generates an EdDSA key.
func Ed25519(kid string) *Key {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return &Key{Kid: kid, Alg: "EdDSA", private: k}
}

// HMAC makes a random secret of n bytes for alg (HS*).
func HMAC(kid, alg string, n int) *Key {
	s := make([]byte, n)
	_, _ = rand.Read(s)
	return &Key{Kid: kid, Alg: alg, secret: s}
}

// HMACSecret is an HMAC key with a given secret: a fuzzer's stored inputs
// stay valid tokens from one run to the next only if the key does.
func HMACSecret(kid, alg string, secret []byte) *Key {
	return &Key{Kid: kid, Alg: alg, secret: append([]byte(nil), secret...)}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func pad(n *big.Int, size int) []byte {
	b := n.Bytes()
	return append(make([]byte, size-len(b)), b...)
}

// JWK is the key's public JWK as a JSON object (with kid, alg and use:sig),
// the secret itself for an HMAC key.
func (k *Key) JWK() map[string]any {
	m := map[string]any{"use": "sig"}
	if k.Kid != "" {
		m["kid"] = k.Kid
	}
	if k.Alg != "" {
		m["alg"] = k.Alg
	}
	switch p := k.private.(type) {
	case *rsa.PrivateKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PrivateKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		m["kty"], m["crv"] = "EC", p.Curve.Params().Name
		m["x"], m["y"] = b64(pad(p.X, size)), b64(pad(p.Y, size))
	case ed25519.PrivateKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(p.Public().(ed25519.PublicKey))
	default:
		m["kty"], m["k"] = "oct", b64(k.secret)
	}
	return m
}

// JWKS is a key set document of the keys' public halves.
func JWKS(keys ...*Key) []byte {
	doc := map[string]any{"keys": []any{}}
	for _, k := range keys {
		doc["keys"] = append(doc["keys"].([]any), k.JWK())
	}
	b, _ := json.Marshal(doc)
	return b
}

// Header is the default header for k: alg, typ and kid.
func (k *Key) Header() string {
	if k.Kid == "" {
		return fmt.Sprintf(`{"alg":%q,"typ":"JWT"}`, k.Alg)
	}
	return fmt.Sprintf(`{"alg":%q,"typ":"JWT","kid":%q}`, k.Alg, k.Kid)
}

// Sign returns a compact JWS of the raw header and payload JSON, signed with
// k using alg (which may differ from k.Alg, to test algorithm confusion).
func (k *Key) Sign(alg, header, payload string) string {
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	return input + "." + b64(k.signature(alg, []byte(input)))
}

// Token signs claims with the default header.
func (k *Key) Token(payload string) string { return k.Sign(k.Alg, k.Header(), payload) }

func hashOf(alg string) crypto.Hash {
	switch {
	case strings.HasSuffix(alg, "384"):
		return crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		return crypto.SHA512
	}
	return crypto.SHA256
}

func (k *Key) signature(alg string, input []byte) []byte {
	h := hashOf(alg)
	if k.secret != nil || strings.HasPrefix(alg, "HS") {
		secret := k.secret
		if secret == nil {
			// Algorithm confusion: HMAC keyed with the public key's bytes.
			secret = []byte(fmt.Sprint(k.JWK()))
		}
		m := hmac.New(h.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
	digest := h.New()
	digest.Write(input)
	sum := digest.Sum(nil)
	switch p := k.private.(type) {
	case *rsa.PrivateKey:
		if strings.HasPrefix(alg, "PS") {
			sig, err := rsa.SignPSS(rand.Reader, p, h, sum, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			must(err)
			return sig
		}
		sig, err := rsa.SignPKCS1v15(rand.Reader, p, h, sum)
		must(err)
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, p, sum)
		must(err)
		size := (p.Curve.Params().BitSize + 7) / 8
		return append(pad(r, size), pad(s, size)...)
	case ed25519.PrivateKey:
		return ed25519.Sign(p, input)
	}
	panic("unknown key")
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Claims renders a payload with the given registered claims and extras.
func Claims(iss string, aud any, exp int64, extra ...string) string {
	a, _ := json.Marshal(aud)
	s := fmt.Sprintf(`{"iss":%q,"aud":%s,"exp":%d`, iss, a, exp)
	for i := 0; i+1 < len(extra); i += 2 {
		s += fmt.Sprintf(`,%q:%s`, extra[i], extra[i+1])
	}
	return s + "}"
}
