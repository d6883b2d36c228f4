package jwt

import (
	"encoding/base64"
	"strings"

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
	claims gjson.Result
	// members are the top-level claims, indexed once when the payload is
	// parsed: a cached token's claims are read on every request.
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

// memberSize approximates what indexing one claim keeps: its name and
// value alias the payload.
const memberSize = 64

// indexMembers lists the n members of claims.
func indexMembers(claims gjson.Result, n int) []member {
	ms := make([]member, 0, n)
	claims.ForEach(func(k, v gjson.Result) bool {
		ms = append(ms, member{k.Str, v})
		return true
	})
	return ms
}

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
// (Go's decoder would skip CR and LF), no padding, canonical trailing bits.
// canonicalPart checked all of that, so the plain decoder cannot fail.
func decodePart(s string) ([]byte, bool) {
	if !canonicalPart(s) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return b, err == nil
}

// canonicalPart reports whether decodePart would accept s, without decoding
// it: the URL-safe alphabet, no padding, a length that ends on whole bytes
// and zero bits after the last of them.
func canonicalPart(s string) bool {
	for i := 0; i < len(s); i++ {
		if base64URL[s[i]] == 0 {
			return false
		}
	}
	switch len(s) % 4 {
	case 1:
		return false
	case 2: // one byte: the last character carries 4 bits that must be zero
		return (base64URL[s[len(s)-1]]-1)&0x0f == 0
	case 3: // two bytes: 2 bits
		return (base64URL[s[len(s)-1]]-1)&0x03 == 0
	}
	return true
}

// base64URL maps each character of the URL-safe alphabet to its value plus
// one, and every other byte to 0.
var base64URL = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i + 1)
	}
	return t
}()

// splitCompact returns the three parts of a compact JWS, refusing JWE (five
// parts) and any other shape.
func splitCompact(raw string) (header, payload, sig string, d verdict.Decision) {
	switch strings.Count(raw, ".") {
	case 2:
	case 4:
		return "", "", "", malformed("encrypted tokens (JWE) are not accepted")
	default:
		return "", "", "", malformed("not a compact JWS: want three dot-separated parts")
	}
	header, rest, _ := strings.Cut(raw, ".")
	payload, sig, _ = strings.Cut(rest, ".")
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
	h, _, err := ownedObject(b)
	if err != nil {
		return jsonDenial("header", err)
	}
	// One pass over the members (strictObject refused duplicates), not a
	// scan of the header per name.
	var alg, typ, kid, b64 gjson.Result
	encrypted, critical := false, false
	h.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "alg":
			alg = v
		case "typ":
			typ = v
		case "kid":
			kid = v
		case "b64":
			b64 = v
		case "enc", "zip":
			encrypted = true
		case "crit":
			critical = true
		}
		return true
	})
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
