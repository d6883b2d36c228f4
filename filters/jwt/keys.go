package jwt

import (
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"sort"
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
	key    any // *rsa.PublicKey, *ecdsaPublicKey[P], ed25519.PublicKey or *macKey
}

// Len is the number of keys.
func (s *KeySet) Len() int { return len(s.keys) }

// KeyError is why one JWK of a key set cannot be used (Index >= 0), or why
// the document is not a key set at all (Index < 0). Field names the member at
// fault, "" for the key (or document) as a whole.
type KeyError struct {
	Index   int
	Kid     string // the key's kid, if it has one
	Field   string
	Message string
}

// Path locates the error in the JWKS document: "keys[2].key_ops", "keys",
// or "" for the document itself.
func (e *KeyError) Path() string {
	p := e.Field
	if e.Index >= 0 {
		p = "keys[" + strconv.Itoa(e.Index) + "]"
		if e.Field != "" {
			p += "." + e.Field
		}
	}
	return p
}

func (e *KeyError) Error() string {
	if e.Path() == "" {
		return "JWKS: " + e.Message
	}
	return e.Path() + ": " + e.Message
}

func keyErr(field, format string, args ...any) *KeyError {
	return &KeyError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ParseKeys reads a JWKS document ({"keys": [...]}, RFC 7517 section 5) and
// binds every key it can to one algorithm:
//   - RSA keys of at least MinRSABits: their alg (RS* or PS*), RS256 if absent;
//   - EC keys: the algorithm of their curve (P-256 ES256, P-384 ES384, P-521 ES512);
//   - OKP Ed25519 keys: EdDSA;
//   - oct keys of at least MinHMACKeyBytes (and the hash size): their alg
//     (HS*), HS256 if absent.
//
// A key is left out, with a KeyError in skipped, when its alg contradicts its
// type, its use is not "sig", its key_ops lack "verify" or contradict its use
// (RFC 7517 section 4.3), it carries private material (other than an oct
// secret), its EC point is not on its curve, or its kid is also another
// usable key's (then every key with that kid is left out: which one the IdP
// meant is unknowable). An empty "keys" gives an empty set. err, a
// *KeyError, is set only when the document is not a key set (not JSON,
// "keys" not an array, more than MaxKeys entries); set is nil then.
//
// A remote JWKS is read this way, so that an IdP publishing an encryption
// key or a key type apiguard does not support next to its signing keys
// (Keycloak does by default) still yields those signing keys.
//
// JWKs are decoded here onto the standard library's key types rather than by
// a JOSE library: go-jose and golang-jwt both import crypto/x509, whose net
// dependency makes the module import a WASI function (path_filestat_get)
// that Envoy does not provide, so the plugin would not load.
func ParseKeys(jwks []byte) (set *KeySet, skipped []*KeyError, err error) {
	doc, jerr := strictObject(jwks, keySetLimits)
	if jerr != nil {
		return nil, nil, &KeyError{Index: -1, Message: jerr.Error()}
	}
	arr := doc.Get("keys")
	if !arr.IsArray() {
		return nil, nil, &KeyError{Index: -1, Field: "keys", Message: "must be an array"}
	}
	elems := arr.Array()
	if len(elems) > MaxKeys {
		return nil, nil, &KeyError{Index: -1, Field: "keys", Message: fmt.Sprintf("%d keys; at most %d", len(elems), MaxKeys)}
	}
	set = &KeySet{}
	index := make([]int, 0, len(elems)) // position in "keys" of each bound key
	kids := map[string]int{}
	for i, el := range elems {
		k, kerr := bindKey(el)
		if kerr != nil {
			kerr.Index, kerr.Kid = i, el.Get("kid").String()
			skipped = append(skipped, kerr)
			continue
		}
		if k.hasKid {
			kids[k.kid]++
		}
		set.keys = append(set.keys, k)
		index = append(index, i)
	}
	kept := set.keys[:0]
	for j, k := range set.keys {
		if k.hasKid && kids[k.kid] > 1 {
			skipped = append(skipped, &KeyError{Index: index[j], Kid: k.kid, Field: "kid",
				Message: fmt.Sprintf("kid %q is used by %d keys", k.kid, kids[k.kid])})
			continue
		}
		kept = append(kept, k)
	}
	set.keys = kept
	sort.Slice(skipped, func(a, b int) bool { return skipped[a].Index < skipped[b].Index })
	return set, skipped, nil
}

// ParseKeySet reads a JWKS as ParseKeys does, strictly, for keys in the
// configuration: any key that cannot be used, or an empty set, is an error.
// The error joins one *KeyError per problem, each naming its key:
// "keys[2].key_ops: ...".
func ParseKeySet(jwks []byte) (*KeySet, error) {
	set, skipped, err := ParseKeys(jwks)
	switch {
	case err != nil:
		return nil, err
	case len(skipped) > 0:
		errs := make([]error, len(skipped))
		for i, e := range skipped {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	case set.Len() == 0:
		return nil, &KeyError{Index: -1, Field: "keys", Message: "no keys"}
	}
	return set, nil
}

func bindKey(el gjson.Result) (boundKey, *KeyError) {
	if !el.IsObject() {
		return boundKey{}, keyErr("", "must be an object")
	}
	use := el.Get("use")
	if use.Exists() && (use.Type != gjson.String || use.Str != "sig") {
		return boundKey{}, keyErr("use", "%s: only signature keys are accepted", use.Raw)
	}
	if ops := el.Get("key_ops"); ops.Exists() {
		if err := checkKeyOps(ops, use.Exists()); err != nil {
			return boundKey{}, err
		}
	}
	if el.Get("d").Exists() || el.Get("p").Exists() {
		return boundKey{}, keyErr("", "private key material in a verification key set")
	}
	k := boundKey{kid: el.Get("kid").String(), hasKid: el.Get("kid").Exists()}
	declared := el.Get("alg").String()
	var err error
	switch kty := el.Get("kty").String(); kty {
	case "RSA":
		pub, kerr := rsaKey(el)
		if kerr != nil {
			return boundKey{}, kerr
		}
		k.key = pub
		k.alg, err = pick(declared, "RS256", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
	case "EC":
		curve := curveOf(el.Get("crv").String())
		if curve == nil {
			return boundKey{}, keyErr("crv", "unsupported EC curve %q", el.Get("crv").String())
		}
		x, okX := coordinate(el.Get("x"), curve)
		y, okY := coordinate(el.Get("y"), curve)
		if !okX || !okY {
			return boundKey{}, keyErr("", "x and y must be base64url coordinates of the curve's size")
		}
		pub, perr := curve.publicKey(append(append([]byte{4}, x...), y...))
		if perr != nil {
			return boundKey{}, keyErr("", "the point is not on the curve")
		}
		k.key = pub
		k.alg, err = pick(declared, curve.alg(), curve.alg())
	case "OKP":
		x, ok := decodePart(el.Get("x").String())
		if el.Get("crv").String() != "Ed25519" || !ok || len(x) != ed25519.PublicKeySize {
			return boundKey{}, keyErr("", "only Ed25519 OKP keys (32-byte x) are accepted")
		}
		k.key = ed25519.PublicKey(x)
		k.alg, err = pick(declared, "EdDSA", "EdDSA")
	case "oct":
		secret, ok := decodePart(el.Get("k").String())
		if !ok {
			return boundKey{}, keyErr("k", "must be base64url")
		}
		if k.alg, err = pick(declared, "HS256", "HS256", "HS384", "HS512"); err == nil && len(secret) < hmacMinBytes(k.alg) {
			return boundKey{}, keyErr("k", "%s secret of %d bytes; at least %d required", k.alg, len(secret), hmacMinBytes(k.alg))
		}
		if err == nil {
			k.key = &macKey{secret: secret, hash: hashOf(k.alg)}
		}
	default:
		return boundKey{}, keyErr("kty", "unsupported key type %q", kty)
	}
	if err != nil {
		return boundKey{}, keyErr("alg", "%v", err)
	}
	return k, nil
}

// checkKeyOps applies RFC 7517 section 4.3: key_ops is an array of unique
// strings; a verification key's must include "verify", and next to a use
// (which is "sig" by then) it may name only "sign" and "verify".
func checkKeyOps(ops gjson.Result, hasUse bool) *KeyError {
	if !ops.IsArray() {
		return keyErr("key_ops", "must be an array of strings")
	}
	seen := map[string]bool{}
	var bad *KeyError
	ops.ForEach(func(_, op gjson.Result) bool {
		switch {
		case op.Type != gjson.String:
			bad = keyErr("key_ops", "must be an array of strings")
		case seen[op.Str]:
			bad = keyErr("key_ops", "%q is listed twice", op.Str)
		case hasUse && op.Str != "sign" && op.Str != "verify":
			bad = keyErr("key_ops", "%q contradicts use \"sig\"", op.Str)
		}
		seen[op.Str] = true
		return bad == nil
	})
	if bad == nil && !seen["verify"] {
		bad = keyErr("key_ops", "does not include \"verify\": not a verification key")
	}
	return bad
}

// rsaKey reads n and e. The exponent must be odd and fit 31 bits (what
// crypto/rsa accepts); the modulus must have MinRSABits.
func rsaKey(el gjson.Result) (*rsa.PublicKey, *KeyError) {
	n, okN := decodePart(el.Get("n").String())
	e, okE := decodePart(el.Get("e").String())
	if !okN || !okE || len(n) == 0 || len(e) == 0 || len(e) > 4 || n[0] == 0 {
		return nil, keyErr("", "n and e must be minimal base64url integers")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	switch {
	case pub.N.BitLen() < MinRSABits:
		return nil, keyErr("n", "RSA key of %d bits; at least %d required", pub.N.BitLen(), MinRSABits)
	case pub.E < 3 || pub.E%2 == 0 || pub.E > 1<<31-1:
		return nil, keyErr("e", "RSA exponent must be odd, at least 3 and fit 31 bits")
	}
	return pub, nil
}

// coordinate decodes an EC coordinate, which RFC 7518 section 6.2.1.2 fixes
// at the curve's byte size.
func coordinate(v gjson.Result, curve ecCurve) ([]byte, bool) {
	b, ok := decodePart(v.String())
	return b, ok && v.Type == gjson.String && len(b) == curve.size()
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
