package jwt

import (
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"sync/atomic"
	"unsafe"

	"filippo.io/nistec"
)

// verifySignature checks a JWS signature (RFC 7518 section 3) over the
// signing input with a key already bound to alg. The primitives are the
// standard library's; this only maps JWS encodings onto them.
func verifySignature(alg string, key any, input string, sig []byte) bool {
	// The hashes read the input and keep nothing of it (io.Writer's
	// contract): copying a token's text to hash it would be an allocation
	// per verification.
	msg := unsafe.Slice(unsafe.StringData(input), len(input))
	switch k := key.(type) {
	case *macKey:
		return k.verify(msg, sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	}
	var buf [sha512.Size]byte
	h := hashOf(alg)
	sum := digest(h, msg, &buf)
	switch pub := key.(type) {
	case *rsa.PublicKey:
		if alg[0] == 'P' {
			return rsa.VerifyPSS(pub, h, sum, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, h, sum, sig) == nil
	// Concrete types, not an interface: through an interface call sig would
	// escape, and the signature the caller decoded on its stack would move
	// to the heap for every algorithm.
	case *ecdsaPublicKey[*nistec.P256Point]:
		return pub.verify(sum, sig)
	case *ecdsaPublicKey[*nistec.P384Point]:
		return pub.verify(sum, sig)
	case *ecdsaPublicKey[*nistec.P521Point]:
		return pub.verify(sum, sig)
	}
	return false
}

// digest hashes msg with h, a SHA-2 function of hashOf, into buf.
func digest(h crypto.Hash, msg []byte, buf *[sha512.Size]byte) []byte {
	switch h {
	case crypto.SHA384:
		*(*[sha512.Size384]byte)(buf[:]) = sha512.Sum384(msg)
		return buf[:sha512.Size384]
	case crypto.SHA512:
		*buf = sha512.Sum512(msg)
		return buf[:]
	}
	*(*[sha256.Size]byte)(buf[:]) = sha256.Sum256(msg)
	return buf[:sha256.Size]
}

// macKey is an HMAC secret and a MAC keyed with it, kept for the next
// verification: building a MAC costs allocations and a hash block each for
// the inner and outer pads, which a MAC reset after use restores from its
// saved state instead. A verification takes the spare MAC, or builds one if
// another goroutine holds it, and puts it back, so a KeySet stays safe to
// share.
type macKey struct {
	secret []byte
	hash   crypto.Hash
	spare  atomic.Pointer[mac]
}

type mac struct {
	hash.Hash
	sum []byte
}

func (k *macKey) verify(msg, sig []byte) bool {
	m := k.spare.Swap(nil)
	if m == nil {
		m = &mac{Hash: hmac.New(k.hash.New, k.secret)}
	}
	m.Write(msg)
	m.sum = m.Sum(m.sum[:0])
	ok := hmac.Equal(m.sum, sig)
	m.Reset()
	k.spare.Store(m)
	return ok
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
