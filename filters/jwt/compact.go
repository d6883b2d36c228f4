package jwt

import (
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/verdict"
)

// Token is a compact JWS whose structure, header and claims passed every check
// that needs no key. Its signature is not verified yet.
type Token struct {
	raw    string
	alg    string
	kid    string
	hasKid bool
	// payload is the decoded payload; members, its top-level claims found
	// when it was checked, alias it: a cached token's claims are read on
	// every request.
	payload []byte
	members []member
	// exp is the expiry in Unix seconds; 0 when the token has none (allowed
	// only with AllowMissingExp).
	exp float64
	// headers are the claim headers computed from the verified claims, kept
	// with the token so a cache hit need not compute them again;
	// headersSize is their size in bytes, counted against the cache's bound.
	headers     *ClaimHeaders
	headersSize int
	// derived is what a later stage computed from the claims (SetDerived).
	derived derived
	// cache is the Cache the token is an entry of, nil when none: what is
	// derived from the token after Put grows the entry.
	cache *Cache
}

// derived is a value stored under its key, and its size in bytes.
type derived struct {
	key, value any
	size       int
}

// ClaimHeaders are the request headers a verified token's claims produce.
// They depend only on the token (claims never change), so they are computed
// once and cached with it.
type ClaimHeaders struct {
	Set [][2]string
	// Refused, when it denies, is why the claims cannot be forwarded.
	Refused verdict.Decision
}

// ClaimHeaders returns what SetClaimHeaders stored, or nil.
func (t *Token) ClaimHeaders() *ClaimHeaders { return t.headers }

// SetClaimHeaders stores the claim headers with the token; a Cache holding
// it counts their bytes.
func (t *Token) SetClaimHeaders(h *ClaimHeaders) {
	size := 0
	// By index: in wasm, copying a header pair is a call.
	for i := range h.Set {
		kv := &h.Set[i]
		size += len(kv[1]) + 32 // the value, and the pair's two string headers
	}
	delta := size - t.headersSize
	t.headers, t.headersSize = h, size
	t.resize(delta)
}

// Derived returns the value SetDerived stored under key, nil if none. key
// is compared with ==: a pointer that the caller's configuration owns
// keeps one configuration's values from another's.
func (t *Token) Derived(key any) any {
	if t.derived.key != key {
		return nil
	}
	return t.derived.value
}

// SetDerived keeps value, which a stage computed from the verified claims,
// with the token under key, so that a request with the token cached finds it
// instead of computing it again; the claims never change, so it never goes
// stale. A token keeps one value: setting another key replaces it. size is
// its bytes, counted against the bound of the Cache holding the token (which
// may evict entries, this one too, to stay within it). A token no cache
// holds keeps its value as long as the request keeps the token.
func (t *Token) SetDerived(key, value any, size int) {
	delta := size - t.derived.size
	t.derived = derived{key: key, value: value, size: size}
	t.resize(delta)
}

// resize tells the Cache holding t that t keeps delta more bytes, once t's
// fields count them (entrySize).
func (t *Token) resize(delta int) {
	if t.cache != nil {
		t.cache.grow(delta)
	}
}

// PayloadPart is the token's payload as it came, base64url-encoded; it
// aliases the token's text, which a Cache holding the token owns.
func (t *Token) PayloadPart() string {
	_, rest, _ := strings.Cut(t.raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	return payload
}

// member is one top-level claim.
type member struct {
	name  string
	value gjson.Result
}

// memberSize is what indexing one claim keeps: its name and value alias
// the payload.
const memberSize = int(unsafe.Sizeof(member{}))

// Claim returns the top-level claim named name, compared byte for byte:
// "a.b" is the claim named so, never a gjson path. A payload has no
// duplicate names (strictObject refuses them).
func (t *Token) Claim(name string) (gjson.Result, bool) {
	for i := range t.members {
		if m := &t.members[i]; len(m.name) == len(name) && m.name == name {
			return m.value, true
		}
	}
	return gjson.Result{}, false
}

// Algorithms are the JWS algorithms apiguard accepts (RFC 7518 section 3, RFC
// 8037). Anything else, "none" in any casing included, is refused.
var Algorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
}

func acceptedAlg(alg string) string {
	for _, a := range Algorithms {
		if a == alg {
			return a
		}
	}
	return ""
}

func malformed(detail string) verdict.Decision { return verdict.Deny(verdict.TokenMalformed, detail) }

// jsonDenial names what strictObject refused in the header or payload; the
// detail is a fixed sentence, never the token's text.
func jsonDenial(part string, err error) verdict.Decision {
	switch err {
	case errCaseVariant:
		return verdict.Deny(verdict.TokenCaseVariant, part+" has member names that differ only in letter case")
	case errDuplicateKey:
		return malformed(part + " repeats a member name")
	case errBadText:
		return malformed(part + " has invalid UTF-8 or a lone surrogate escape")
	case errTooDeep:
		return malformed(part + " is nested too deeply")
	case errTooManyValues:
		return malformed(part + " has too many values or members")
	}
	return malformed(part + " is not a JSON object")
}

// decodePart decodes one base64url part strictly: the URL-safe alphabet only
// (Go's decoder would skip CR and LF), no padding, canonical trailing bits;
// canonicalPart accepts exactly the same strings. It decodes in the same pass
// as it checks: in wasm, the check then encoding/base64's decoder cost 1.8
// times as many instructions.
func decodePart(s string) ([]byte, bool) { return decodePartInto(nil, s) }

// decodePartInto is decodePart into room when the bytes fit in its
// capacity, for a caller that keeps them no longer than its own frame.
func decodePartInto(room []byte, s string) ([]byte, bool) {
	tail := len(s) % 4
	if tail == 1 {
		return nil, false
	}
	n := len(s)/4*3 + max(tail-1, 0)
	out := room[:0]
	if cap(out) >= n {
		out = out[:n]
	} else {
		out = make([]byte, n)
	}
	o, i := 0, 0
	for ; i+4 <= len(s); i, o = i+4, o+3 {
		q, dst := s[i:i+4], out[o:o+3] // one bounds check each
		a, b, c, d := base64URL[q[0]], base64URL[q[1]], base64URL[q[2]], base64URL[q[3]]
		if a|b|c|d > 63 {
			return nil, false
		}
		v := uint(a)<<18 | uint(b)<<12 | uint(c)<<6 | uint(d)
		dst[0], dst[1], dst[2] = byte(v>>16), byte(v>>8), byte(v)
	}
	switch tail {
	case 2:
		a, b := base64URL[s[i]], base64URL[s[i+1]]
		if a|b > 63 || b&0x0f != 0 {
			return nil, false
		}
		out[o] = a<<2 | b>>4
	case 3:
		a, b, c := base64URL[s[i]], base64URL[s[i+1]], base64URL[s[i+2]]
		if a|b|c > 63 || c&0x03 != 0 {
			return nil, false
		}
		v := uint(a)<<12 | uint(b)<<6 | uint(c)
		out[o], out[o+1] = byte(v>>10), byte(v>>2)
	}
	return out, true
}

// canonicalPart reports whether decodePart would accept s, without decoding
// it: the URL-safe alphabet, no padding, a length that ends on whole bytes
// and zero bits after the last of them.
func canonicalPart(s string) bool {
	for i := 0; i < len(s); i++ {
		if base64URL[s[i]] == invalid64 {
			return false
		}
	}
	switch len(s) % 4 {
	case 1:
		return false
	case 2: // one byte: the last character carries 4 bits that must be zero
		return base64URL[s[len(s)-1]]&0x0f == 0
	case 3: // two bytes: 2 bits
		return base64URL[s[len(s)-1]]&0x03 == 0
	}
	return true
}

// base64URL maps each character of the URL-safe alphabet to its value, and
// every other byte to invalid64: OR-ed values stay under 64 unless one is
// invalid.
var base64URL = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = invalid64
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

const invalid64 = 0xff

// splitCompact returns the three parts of a compact JWS, refusing JWE (five
// parts) and any other shape.
func splitCompact(raw string) (header, payload, sig string, d verdict.Decision) {
	// Cut and IndexByte, not Count: Go's wasm port has an assembly
	// IndexByte, and counts a byte at a time in Go.
	header, rest, ok := strings.Cut(raw, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		if strings.Count(raw, ".") == 4 {
			return "", "", "", malformed("encrypted tokens (JWE) are not accepted")
		}
		return "", "", "", malformed("not a compact JWS: want three dot-separated parts")
	}
	if header == "" || payload == "" || sig == "" {
		return "", "", "", malformed("empty token part")
	}
	return header, payload, sig, verdict.Decision{}
}

// parseHeader checks the JOSE header, and its typ against wantTyp (in
// canonicalType form) unless that is empty. kid is only ever a lookup into the
// configured keys: jwk, jku, x5u and x5c never supply a key and never cause a
// fetch, so they are simply not read.
func parseHeader(t *Token, part, wantTyp string) verdict.Decision {
	b, ok := decodePart(part)
	if !ok {
		return malformed("header is not canonical base64url")
	}
	// A header has a handful of members: their list stays on the stack.
	var room [8]member
	members, err := ownedObject(b, room[:0])
	if err != nil {
		return jsonDenial("header", err)
	}
	// The members as the check found them (it refused duplicates), not a
	// scan of the header per name.
	var alg, typ, kid, b64 gjson.Result
	encrypted, critical := false, false
	for i := range members {
		switch m := &members[i]; m.name {
		case "alg":
			alg = m.value
		case "typ":
			typ = m.value
		case "kid":
			kid = m.value
		case "b64":
			b64 = m.value
		case "enc", "zip":
			encrypted = true
		case "crit":
			critical = true
		}
	}
	switch {
	case alg.Type != gjson.String:
		return verdict.Deny(verdict.TokenAlgorithm, "alg must be a string")
	case strings.EqualFold(alg.Str, "none"):
		return verdict.Deny(verdict.TokenAlgorithm, "unsigned tokens are not accepted")
	}
	// The list's own string, and a clone of kid: a substring of the header
	// would keep the whole decoded header alive in the verified-token cache.
	if t.alg = acceptedAlg(alg.Str); t.alg == "" {
		return verdict.Deny(verdict.TokenAlgorithm, "alg is not accepted")
	}
	if encrypted {
		return malformed("encrypted or compressed tokens are not accepted")
	}
	// No critical extension is understood, so any "crit" must be refused
	// (RFC 7515 section 4.1.11); b64:false would sign an unencoded payload.
	if critical {
		return malformed("critical header extensions are not accepted")
	}
	if b64.Exists() && b64.Type != gjson.True {
		return malformed("unencoded payloads (b64) are not accepted")
	}
	if wantTyp != "" && (typ.Type != gjson.String || canonicalType(typ.Str) != wantTyp) {
		return verdict.Deny(verdict.TokenType, "typ is not the provider's")
	}
	if kid.Exists() {
		if kid.Type != gjson.String {
			return malformed("kid must be a string")
		}
		t.kid, t.hasKid = strings.Clone(kid.Str), true
	}
	return verdict.Decision{}
}
