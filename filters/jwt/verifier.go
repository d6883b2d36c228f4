// Package jwt verifies JSON Web Tokens (RFC 7519) for one identity provider,
// as strictly as Envoy's jwt_authn and stricter: the issuer and audiences are
// required, every key is bound to one algorithm, duplicate JSON keys, unknown
// critical headers, unencoded payloads, JWE and non-canonical encodings are
// refused, and the checks that need no key run before any signature is
// computed or any key set fetched.
//
// A Verifier is compiled once per provider and is immutable; the keys it
// verifies with are passed in, so a key set can be replaced (a JWKS refresh)
// without touching the verifier.
package jwt

import (
	"errors"
	"strings"
	"time"

	"github.com/apiguard/apiguard/filters/verdict"

	"github.com/apiguard/apiguard/filters/config"
)

// Defaults, as Envoy's jwt_authn has them where it has them.
const (
	DefaultClockSkew    = 60 * time.Second
	DefaultMaxTokenSize = 8 << 10
)

// Config is one provider's verification policy.
type Config struct {
	// Issuer must equal the token's iss exactly. Required.
	Issuer string
	// Audiences: the token's aud must name at least one. Required.
	Audiences []string
	// ClockSkew is allowed on exp, nbf and iat (zero allows none; callers
	// default it to DefaultClockSkew).
	ClockSkew time.Duration
	// MaxTokenSize in bytes; DefaultMaxTokenSize if zero. Larger tokens are
	// refused before any parsing.
	MaxTokenSize int
	// AllowMissingExp accepts tokens without exp. Tokens that never expire
	// cannot be revoked by time; the default refuses them.
	AllowMissingExp bool
	// Type, if set, is the typ header every token must carry, e.g. "at+jwt"
	// for OAuth access tokens (RFC 9068 section 2.1). Without it, any token
	// the issuer signs for the audience is accepted: an ID token or a logout
	// token too (RFC 8725 section 3.11). Compared case-insensitively, with
	// or without the "application/" prefix (RFC 7515 section 4.1.9).
	Type string
}

// Verifier checks tokens for one provider.
type Verifier struct {
	cfg       Config
	audiences map[string]bool
	typ       string // cfg.Type as canonicalType has it
}

// isMediaType reports whether typ is a media type: RFC 6838 type and subtype
// names, the type optional. A hand-written check, not a package-level
// regexp: compiling one at start-up ran the regexp compiler and Unicode
// tables in every VM's _initialize (about 200 KB of code that V8 compiles
// before the first request).
func isMediaType(typ string) bool {
	if t, sub, ok := strings.Cut(typ, "/"); ok {
		return isRestrictedName(t) && isRestrictedName(sub)
	}
	return isRestrictedName(typ)
}

// isRestrictedName is RFC 6838 section 4.2's restricted-name: a letter or
// digit, then up to 126 letters, digits and !#$&^_.+-.
func isRestrictedName(s string) bool {
	if len(s) == 0 || len(s) > 127 || !isAlphaNum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlphaNum(c) && !strings.ContainsRune("!#$&^_.+-", rune(c)) {
			return false
		}
	}
	return true
}

func isAlphaNum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// canonicalType lower-cases a typ and drops an "application/" prefix, as
// RFC 7515 section 4.1.9 lets producers omit it.
func canonicalType(typ string) string {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/")
}

// NewVerifier validates cfg. The error joins one config.Error per problem,
// each at its path within a provider ("issuer").
func NewVerifier(cfg Config) (*Verifier, error) {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, config.Errorf("issuer", "required"))
	}
	if len(cfg.Audiences) == 0 {
		errs = append(errs, config.Errorf("audiences", "at least one required"))
	}
	if cfg.Type != "" && !isMediaType(cfg.Type) {
		errs = append(errs, config.Errorf("typ", "%q is not a media type such as at+jwt", cfg.Type))
	}
	if cfg.ClockSkew < 0 {
		errs = append(errs, config.Errorf("clock_skew_s", "must not be negative"))
	}
	if cfg.MaxTokenSize < 0 {
		errs = append(errs, config.Errorf("max_token_bytes", "must not be negative"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.MaxTokenSize == 0 {
		cfg.MaxTokenSize = DefaultMaxTokenSize
	}
	v := &Verifier{cfg: cfg, audiences: map[string]bool{}, typ: canonicalType(cfg.Type)}
	for _, a := range cfg.Audiences {
		v.audiences[a] = true
	}
	return v, nil
}

// Check runs every check that needs no key, cheapest first: size, compact
// structure and encoding, header, payload JSON, iss, aud, exp, nbf, iat. A
// token that fails here never costs a signature verification or a JWKS fetch.
func (v *Verifier) Check(raw string, now time.Time) (*Token, verdict.Decision) {
	if len(raw) > v.cfg.MaxTokenSize {
		return nil, verdict.Deny(verdict.TokenTooLarge, "")
	}
	hPart, pPart, sPart, d := splitCompact(raw)
	if d.Denied() {
		return nil, d
	}
	t := &Token{raw: raw}
	if d := parseHeader(t, hPart, v.typ); d.Denied() {
		return nil, d
	}
	if !canonicalPart(sPart) {
		return nil, malformed("signature is not canonical base64url")
	}
	payload, ok := decodePart(pPart)
	if !ok {
		return nil, malformed("payload is not canonical base64url")
	}
	members, err := ownedObject(payload, nil)
	if err != nil {
		return nil, jsonDenial("payload", err)
	}
	t.payload, t.members = payload, members
	if d := v.checkClaims(t, now); d.Denied() {
		return nil, d
	}
	return t, verdict.Decision{}
}

// StillValid re-checks only the times, for a token verified earlier (a cache
// hit): an entry never outlives its exp.
func (v *Verifier) StillValid(t *Token, now time.Time) bool {
	return t.exp == 0 && v.cfg.AllowMissingExp || unix(now) < t.exp+v.cfg.ClockSkew.Seconds()
}

// MaxKeysWithoutKid is how many keys of its alg a token without kid may be
// tried against (a rotation's old and new key, and one more). A provider
// publishing more needs tokens with a kid: otherwise each forged token would
// cost a signature check per key (64 RSA-4096 keys: 11 ms).
const MaxKeysWithoutKid = 3

// Verify checks the signature of a token that passed Check with the
// provider's keys. The token's kid selects the keys (and must then exist);
// without a kid, every key bound to the token's alg is tried, if there are
// at most MaxKeysWithoutKid of them.
func (v *Verifier) Verify(t *Token, keys *KeySet) verdict.Decision {
	if keys == nil || keys.Len() == 0 {
		return verdict.Deny(verdict.KeysUnavailable, "")
	}
	var candidates []any
	kidFound := false
	for _, k := range keys.keys {
		if t.hasKid && (!k.hasKid || k.kid != t.kid) {
			continue
		}
		kidFound = true
		if k.alg == t.alg {
			candidates = append(candidates, k.key)
		}
	}
	switch {
	case t.hasKid && !kidFound:
		return verdict.Deny(verdict.TokenUnknownKey, "")
	case len(candidates) == 0 && t.hasKid:
		return verdict.Deny(verdict.TokenAlgorithm, "alg is not the key's algorithm")
	case len(candidates) == 0:
		return verdict.Deny(verdict.TokenUnknownKey, "no key for the token's alg")
	case len(candidates) > MaxKeysWithoutKid:
		return malformed("kid is required: the provider has several keys of the token's alg")
	}
	dot := strings.LastIndexByte(t.raw, '.')
	// Check accepted the signature's encoding. Up to RSA-4096's 512 bytes
	// it is decoded on the stack: it lives only for this call.
	var room [512]byte
	sig, _ := decodePartInto(room[:], t.raw[dot+1:])
	for _, key := range candidates {
		if verifySignature(t.alg, key, t.raw[:dot], sig) {
			return verdict.Decision{}
		}
	}
	return verdict.Deny(verdict.TokenSignature, "")
}
