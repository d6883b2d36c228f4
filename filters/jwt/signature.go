package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"math/big"
)

// verifySignature checks a JWS signature (RFC 7518 section 3) over the
// signing input with a key already bound to alg. The primitives are the
// standard library's; this only maps JWS encodings onto them.
func verifySignature(alg string, key any, input string, sig []byte) bool {
	h := hashOf(alg)
	if secret, ok := key.([]byte); ok {
		mac := hmac.New(h.New, secret)
		mac.Write([]byte(input))
		return hmac.Equal(mac.Sum(nil), sig)
	}
	if pub, ok := key.(ed25519.PublicKey); ok {
		return ed25519.Verify(pub, []byte(input), sig)
	}
	digest := h.New()
	digest.Write([]byte(input))
	sum := digest.Sum(nil)
	switch pub := key.(type) {
	case *rsa.PublicKey:
		if alg[0] == 'P' {
			return rsa.VerifyPSS(pub, h, sum, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, h, sum, sig) == nil
	case *ecdsa.PublicKey:
		return verifyECDSA(pub, sum, sig)
	}
	return false
}

// verifyECDSA accepts only the fixed-size r||s encoding of exactly twice the
// curve's size with r and s in [1, n-1]: CVE-2022-21449's r = s = 0 and
// over-long or DER encodings never reach the math.
func verifyECDSA(pub *ecdsa.PublicKey, digest, sig []byte) bool {
	size := (pub.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*size {
		return false
	}
	r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
	n := pub.Curve.Params().N
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(n) >= 0 || s.Cmp(n) >= 0 {
		return false
	}
	return ecdsa.Verify(pub, digest, r, s)
}

func hashOf(alg string) crypto.Hash {
	switch alg[len(alg)-3:] {
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return crypto.SHA256
}
