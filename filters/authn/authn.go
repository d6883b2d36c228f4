// Package authn authenticates requests with JWTs: it knows the configured
// identity providers, where each looks for a token, which providers a route
// accepts, and what a verified token changes in the request (claims copied to
// headers, the token stripped). Token and key checks are filters/jwt's; key
// sets are passed in, so fetching them (remote JWKS) stays outside.
package authn

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/jwks"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/verdict"
)

// ClaimHeader copies a top-level claim into a request header.
type ClaimHeader struct {
	Claim, Header string
}

// ProviderConfig is one identity provider.
type ProviderConfig struct {
	Name string
	JWT  jwt.Config
	// Sources are where its tokens may be; DefaultSources if empty.
	Sources      []Source
	ClaimHeaders []ClaimHeader
	// Forward keeps the token in the request for the upstream; by default it
	// is removed once verified.
	Forward bool
	// PayloadHeader, if set, receives the verified payload, base64url-encoded.
	PayloadHeader string
	// Keys is an inline key set; Remote, when Keys is nil, where the glue
	// fetches the provider's keys.
	Keys   *jwt.KeySet
	Remote *jwks.Remote
}

// Authenticator is the compiled set of providers; immutable.
type Authenticator struct {
	providers []*provider
	index     map[string]int
	protected []string
}

type provider struct {
	ProviderConfig
	verifier *jwt.Verifier
	// removals are, for each of Sources, the one header a verified token's
	// removal edits, capped so that appending to one copies it: a request
	// allocates no list for it.
	removals [][]string
}

// removal is the capped removal list of the header source name.
func (p *provider) removal(name string) []string {
	for i, src := range p.Sources {
		if src.Header == name {
			return p.removals[i]
		}
	}
	return []string{name}
}

// reservedHeaders can never receive claims: they would change routing,
// framing or the credential itself.
var reservedHeaders = map[string]bool{
	"authorization": true, "cookie": true, "host": true, "content-length": true, "transfer-encoding": true,
	"connection": true, "te": true, "upgrade": true, "proxy-authorization": true,
}

// Compile validates the providers. Errors name the JSON path:
// "providers.idp.issuer: required".
func Compile(cfgs []ProviderConfig) (*Authenticator, []config.Error) {
	a := &Authenticator{index: map[string]int{}}
	var errs []config.Error
	protected := map[string]bool{}
	for _, cfg := range cfgs {
		path := "providers." + cfg.Name
		v, err := jwt.NewVerifier(cfg.JWT)
		if err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				ce := config.Error{Message: e.Error()}
				errors.As(e, &ce)
				errs = append(errs, config.Error{Path: config.Join(path, ce.Path), Message: ce.Message})
			}
		}
		if len(cfg.Sources) == 0 {
			cfg.Sources = DefaultSources
		}
		for _, ch := range cfg.ClaimHeaders {
			if err := checkHeaderName(ch.Header); err != nil {
				errs = append(errs, config.Errorf(path+".claim_to_headers."+ch.Claim, "%v", err))
			}
			protected[ch.Header] = true
		}
		if cfg.PayloadHeader != "" {
			if err := checkHeaderName(cfg.PayloadHeader); err != nil {
				errs = append(errs, config.Errorf(path+".payload_header", "%v", err))
			}
			protected[cfg.PayloadHeader] = true
		}
		a.index[cfg.Name] = len(a.providers)
		removals := make([][]string, len(cfg.Sources))
		for i, src := range cfg.Sources {
			removals[i] = []string{src.Header}
		}
		a.providers = append(a.providers, &provider{ProviderConfig: cfg, verifier: v, removals: removals})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for h := range protected {
		a.protected = append(a.protected, h)
	}
	return a, nil
}

func checkHeaderName(h string) error {
	switch {
	case h == "" || strings.HasPrefix(h, ":"):
		return errors.New("must be a header name")
	case h != strings.ToLower(h):
		return fmt.Errorf("%q must be lower-case", h)
	case reservedHeaders[h]:
		return fmt.Errorf("%q cannot carry claims", h)
	}
	for _, c := range []byte(h) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%q is not a header name", h)
		}
	}
	return nil
}

// Providers lists the provider names in configuration order; the index of a
// name is its position, as Input.Keys is indexed.
func (a *Authenticator) Providers() []string {
	out := make([]string, len(a.providers))
	for i, p := range a.providers {
		out[i] = p.Name
	}
	return out
}

// KeySource is where provider i's keys come from: its inline key set, or the
// remote JWKS the glue fetches.
func (a *Authenticator) KeySource(i int) (*jwt.KeySet, *jwks.Remote) {
	return a.providers[i].Keys, a.providers[i].Remote
}

// ProtectedHeaders are the headers apiguard writes from claims. The glue
// removes them from every incoming request, on every route, authenticated or
// not, so that no client can spoof them.
func (a *Authenticator) ProtectedHeaders() []string { return a.protected }

// Requirement is what one route asks for.
type Requirement struct {
	providers []int
	optional  bool
}

// Require compiles a route's requirement: a token from any of the named
// providers, or (optional) no token at all; a token that is present must
// always be valid. path prefixes errors ("routes[3].auth").
func (a *Authenticator) Require(path string, names []string, optional bool) (*Requirement, []config.Error) {
	r := &Requirement{optional: optional}
	var errs []config.Error
	if len(names) == 0 {
		errs = append(errs, config.Errorf(path+".providers", "at least one provider required"))
	}
	for i, n := range names {
		idx, ok := a.index[n]
		if !ok {
			errs = append(errs, config.Errorf(path+".providers["+strconv.Itoa(i)+"]", "unknown provider %q", n))
			continue
		}
		r.providers = append(r.providers, idx)
	}
	return r, errs
}

// Clock tells the time: the phase's (stage.Input), read once for all its
// stages. An interface, not a func: a method value made per request would
// be an allocation.
type Clock interface{ Now() time.Time }

// Input is what authentication reads of a request.
type Input struct {
	Headers [][2]string
	// Query is the raw query string.
	Query string
	// Now is the time tokens are checked at; when it is zero, Clock is
	// read, once, and only when there is a token to check: a request
	// without one (a flood of them, refused) never reads the clock.
	Now   time.Time
	Clock Clock
	// Keys holds each provider's current key set, indexed like Providers;
	// nil while a provider has none.
	Keys []*jwt.KeySet
	// Cache remembers verified tokens (per worker); nil disables it.
	Cache *jwt.Cache
}

// Result is authentication's answer and what it changes in the request.
type Result struct {
	verdict.Decision
	// Principal is who the verified token speaks for; its Token is nil when
	// the request carries none (allowed on optional routes).
	Principal Principal
	// Attempted names the provider whose verification decided the result
	// (success or denial), for per-provider metrics; "" if none ran.
	Attempted string
	// Cached: the token was verified before, and found in the cache.
	Cached bool
	// Wait, on a denial caused by a provider's missing keys or by a kid it
	// does not know, names that provider: the glue may fetch its JWKS and
	// retry. nil otherwise.
	Wait *KeyWait
	// Remove and Set are request header edits; Query, if QueryChanged, is the
	// new raw query (the token removed from it).
	Remove       []string
	Set          [][2]string
	Query        string
	QueryChanged bool
}

// Principal is a verified token and the provider that verified it; its
// parsed claims are there for later stages, never parsed twice.
type Principal struct {
	Provider string
	Token    *jwt.Token
}

// KeyWait is a provider whose keys a denied request waits for.
type KeyWait struct {
	// Provider is its index, as in Providers.
	Provider int
	// UnknownKey: the provider has keys, but not the token's kid, which
	// may be an early key rotation.
	UnknownKey bool
}

// Authenticate checks the request against a route's requirement, into res,
// which must be the zero Result. Both go by pointer: in wasm, a struct of
// more than sixteen bytes is copied through a call on every pass and return.
func (a *Authenticator) Authenticate(r *Requirement, in *Input, res *Result) {
	var cred, f found
	var candidates []int
	var claimed claims
	for _, pi := range r.providers {
		ok, d := extract(a.providers[pi].Sources, in.Headers, in.Query, &claimed, &f)
		if d.Denied() {
			res.Decision = d
			return
		}
		if !ok {
			continue
		}
		if len(candidates) > 0 && !f.same(&cred) {
			res.Decision = verdict.Deny(verdict.TokenDuplicate, "more than one credential in the request")
			return
		}
		cred = f
		candidates = append(candidates, pi)
	}
	if len(candidates) == 0 {
		if !r.optional {
			res.Decision = verdict.Deny(verdict.TokenMissing, "")
		}
		return
	}
	if a.strayValue(r, in.Headers, &claimed) {
		res.Decision = verdict.Deny(verdict.TokenDuplicate, "more than one credential in the request")
		return
	}
	res.Decision = verdict.Deny(verdict.TokenIssuer, "iss does not match any accepted provider")
	for _, pi := range candidates {
		p := a.providers[pi]
		tok, cached, d := a.verify(p, pi, cred.token, in)
		if d.Reason == verdict.TokenIssuer {
			continue
		}
		res.Attempted = p.Name
		if d.Denied() {
			res.Decision = d
			if d.Reason == verdict.KeysUnavailable || d.Reason == verdict.TokenUnknownKey {
				res.Wait = &KeyWait{Provider: pi, UnknownKey: d.Reason == verdict.TokenUnknownKey}
			}
			return
		}
		res.Decision, res.Principal, res.Cached = verdict.Decision{}, Principal{Provider: p.Name, Token: tok}, cached
		if d := a.edits(p, tok, &cred, in, res); d.Denied() {
			res.Decision, res.Principal = d, Principal{}
		}
		return
	}
}

// verify verifies raw with provider p (index pi), or finds it in the
// cache (cached).
func (a *Authenticator) verify(p *provider, pi int, raw string, in *Input) (tok *jwt.Token, cached bool, d verdict.Decision) {
	if in.Now.IsZero() && in.Clock != nil {
		in.Now = in.Clock.Now()
	}
	if in.Cache != nil {
		if tok, ok := in.Cache.Get(p.verifier, raw, in.Now); ok {
			return tok, true, verdict.Decision{}
		}
	}
	tok, d = p.verifier.Check(raw, in.Now)
	if d.Denied() {
		return nil, false, d
	}
	var keys *jwt.KeySet
	if pi < len(in.Keys) {
		keys = in.Keys[pi]
	}
	if d := p.verifier.Verify(tok, keys); d.Denied() {
		return nil, false, d
	}
	// Put before the claim headers are computed (edits): they alias the
	// token's raw text, which Put copies out of the request's headers, and
	// the cache counts them when the token stores them.
	if in.Cache != nil {
		in.Cache.Put(p.verifier, tok)
	}
	return tok, false, verdict.Decision{}
}

// edits computes what a verified token changes in the request.
func (a *Authenticator) edits(p *provider, tok *jwt.Token, cred *found, in *Input, res *Result) verdict.Decision {
	h := p.claimHeaders(tok)
	if h.Refused.Denied() {
		return h.Refused
	}
	if len(res.Set) == 0 {
		// The token's own list, capped so that appending to it copies.
		res.Set = slices.Clip(h.Set)
	} else {
		res.Set = append(res.Set, h.Set...)
	}
	if p.Forward {
		return verdict.Decision{}
	}
	switch src := cred.source; {
	case src.Header != "" && len(res.Remove) == 0:
		res.Remove = p.removal(src.Header)
	case src.Header != "":
		res.Remove = append(res.Remove, src.Header)
	case src.Query != "":
		res.Query, res.QueryChanged = withoutQueryParam(in.Query, src.Query), true
	case src.Cookie != "":
		// Every Cookie header is replaced by one holding all the other
		// cookies, joined with "; " as HTTP/2 (RFC 9113 section 8.2.3) and
		// Envoy join them: setting one header per original would keep only
		// the last.
		res.Remove = append(res.Remove, "cookie")
		var kept []string
		for _, kv := range in.Headers {
			if kv[0] == "cookie" {
				if rest := withoutCookie(kv[1], src.Cookie); rest != "" {
					kept = append(kept, rest)
				}
			}
		}
		if len(kept) > 0 {
			res.Set = append(res.Set, [2]string{"cookie", strings.Join(kept, "; ")})
		}
	}
	return verdict.Decision{}
}
