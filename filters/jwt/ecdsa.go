package jwt

import (
	"math/big"

	"filippo.io/nistec"
)

// ECDSA verification (FIPS 186-5 section 6.4.2) over filippo.io/nistec, the
// exported copy of the standard library's own P-256, P-384 and P-521 groups.
// crypto/ecdsa would run the same group code, but importing it also links
// P-224, crypto/elliptic's generic curves, ASN.1 and the FIPS module's
// signing self-tests: 0.3 MB of a module that only ever verifies
// (RATIONALE.md, "Why does ECDSA verification not use crypto/ecdsa?").
// Verification handles public values only, so math/big's variable-time
// arithmetic is safe for the scalars.

// point is what verification needs of a nistec point type.
type point[P any] interface {
	*nistec.P256Point | *nistec.P384Point | *nistec.P521Point
	SetBytes([]byte) (P, error)
	ScalarBaseMult([]byte) (P, error)
	ScalarMult(P, []byte) (P, error)
	Add(P, P) P
	BytesX() ([]byte, error)
}

// ecCurve is a JOSE curve (RFC 7518 section 6.2.1.1): the one algorithm its
// keys verify and what reading one of its keys needs.
type ecCurve interface {
	alg() string
	// size is the bytes of a coordinate, and of r and of s in a signature.
	size() int
	// publicKey checks an uncompressed SEC 1 point and returns it as an
	// *ecdsaPublicKey of the curve's point type.
	publicKey(uncompressed []byte) (any, error)
}

// group is what verification computes outside the curve's points: the
// scalars, modulo the group's order n.
type group struct {
	name, jwsAlg string
	bytes        int
	n            *big.Int
}

type curve[P point[P]] struct {
	group
	newPoint func() P
}

var (
	p256 = &curve[*nistec.P256Point]{group{"P-256", "ES256", 32,
		new(big.Int).SetBytes(p256Order)}, nistec.NewP256Point}
	p384 = &curve[*nistec.P384Point]{group{"P-384", "ES384", 48,
		new(big.Int).SetBytes(p384Order)}, nistec.NewP384Point}
	p521 = &curve[*nistec.P521Point]{group{"P-521", "ES512", 66,
		new(big.Int).SetBytes(p521Order)}, nistec.NewP521Point}
)

// The groups' orders, big-endian, as SEC 2 gives them. They are bytes, not
// hex for big.Int.SetString: parsing is code every VM's _initialize would
// run, and V8 compile, before the first request.
var p256Order = []byte{
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
}

var p384Order = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
	0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
}

var p521Order = []byte{
	0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xfa, 0x51, 0x86, 0x87, 0x83, 0xbf, 0x2f, 0x96, 0x6b, 0x7f, 0xcc, 0x01, 0x48, 0xf7, 0x09,
	0xa5, 0xd0, 0x3b, 0xb5, 0xc9, 0xb8, 0x89, 0x9c, 0x47, 0xae, 0xbb, 0x6f, 0xb7, 0x1e, 0x91, 0x38,
	0x64, 0x09,
}

// curveOf returns the curve a JWK's crv names, nil for any other.
func curveOf(crv string) ecCurve {
	switch crv {
	case p256.name:
		return p256
	case p384.name:
		return p384
	case p521.name:
		return p521
	}
	return nil
}

func (c *curve[P]) alg() string { return c.jwsAlg }
func (c *curve[P]) size() int   { return c.bytes }

func (c *curve[P]) publicKey(uncompressed []byte) (any, error) {
	q, err := c.newPoint().SetBytes(uncompressed)
	if err != nil {
		return nil, err
	}
	return &ecdsaPublicKey[P]{c: c, q: q}, nil
}

// ecdsaPublicKey is Q, which SetBytes checked to be on the curve (and so not
// the point at infinity, which has no uncompressed encoding).
type ecdsaPublicKey[P point[P]] struct {
	c *curve[P]
	q P
}

// verify checks a JWS signature over a digest: r||s, each a big-endian
// integer of the curve's size (RFC 7518 section 3.4). R = u1·G + u2·Q must
// not be the point at infinity, and its x modulo n must be r.
func (k *ecdsaPublicKey[P]) verify(digest, sig []byte) bool {
	c := k.c
	u1, u2, r, ok := c.scalars(digest, sig)
	if !ok {
		return false
	}
	p1, err := c.newPoint().ScalarBaseMult(u1)
	if err != nil {
		return false
	}
	p2, err := c.newPoint().ScalarMult(k.q, u2)
	if err != nil {
		return false
	}
	// BytesX refuses the point at infinity.
	x, err := p1.Add(p1, p2).BytesX()
	return err == nil && c.isR(x, r)
}

// scalars reads r and s from sig and returns u1 = e·s⁻¹ and u2 = r·s⁻¹
// (mod n) as the fixed-size big-endian scalars nistec takes. It accepts only
// r||s of exactly twice the curve's size with r and s in [1, n-1]:
// CVE-2022-21449's r = s = 0, shorter or DER encodings, and r or s plus n
// never reach the group. Any s in range verifies, as in crypto/ecdsa: JWS
// does not ask for low-s signatures.
func (g *group) scalars(digest, sig []byte) (u1, u2 []byte, r *big.Int, ok bool) {
	size := g.bytes
	if len(sig) != 2*size {
		return nil, nil, nil, false
	}
	r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
	if r.Sign() == 0 || s.Sign() == 0 || r.Cmp(g.n) >= 0 || s.Cmp(g.n) >= 0 {
		return nil, nil, nil, false
	}
	w := new(big.Int).ModInverse(s, g.n)
	if w == nil {
		return nil, nil, nil, false
	}
	// Both are below n, so they fit the curve's size.
	u := make([]byte, 2*size)
	e := g.hashToInt(digest)
	e.Mul(e, w).Mod(e, g.n).FillBytes(u[:size])
	w.Mul(r, w).Mod(w, g.n).FillBytes(u[size:])
	return u[:size], u[size:], r, true
}

// hashToInt is e of FIPS 186-5 section 6.4.2 step 3: the digest's leftmost
// bits, as many as n has.
func (g *group) hashToInt(digest []byte) *big.Int {
	bits := g.n.BitLen()
	if n := (bits + 7) / 8; len(digest) > n {
		digest = digest[:n]
	}
	e := new(big.Int).SetBytes(digest)
	if excess := len(digest)*8 - bits; excess > 0 {
		e.Rsh(e, uint(excess))
	}
	return e
}

// isR reports whether x, an affine x-coordinate (below p, which may exceed
// n), is r modulo n.
func (g *group) isR(x []byte, r *big.Int) bool {
	v := new(big.Int).SetBytes(x)
	return v.Mod(v, g.n).Cmp(r) == 0
}
