package authn

import (
	"errors"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/jwks"
	"github.com/apiguard/apiguard/filters/jwt"
)

// isProviderName keeps names usable in metric names and logs: 1 to 64
// letters, digits, - or _. Not a package-level regexp, whose compilation
// would run in every VM's _initialize.
func isProviderName(name string) bool {
	if len(name) == 0 || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ReadProviders reads the "providers" object: each key names a provider.
// Compile checks what it read.
func ReadProviders(r *config.Reader, path string, v gjson.Result) []ProviderConfig {
	var out []ProviderConfig
	r.EachKey(path, v, func(p, name string, v gjson.Result) {
		if !isProviderName(name) {
			r.Errorf(p, "provider names are 1-64 letters, digits, - or _")
		}
		pc := ProviderConfig{Name: name, JWT: jwt.Config{ClockSkew: jwt.DefaultClockSkew}}
		r.Object(p, v, config.Fields{
			"issuer":    {Required: true, Read: func(p string, v gjson.Result) { pc.JWT.Issuer, _ = r.Str(p, v) }},
			"audiences": {Required: true, Read: func(p string, v gjson.Result) { pc.JWT.Audiences = r.Strings(p, v) }},
			"jwks":      {Required: true, Read: func(p string, v gjson.Result) { readKeys(r, p, v, &pc) }},
			"from":      {Read: func(p string, v gjson.Result) { pc.Sources = readSources(r, p, v) }},
			"clock_skew_s": {Read: func(p string, v gjson.Result) {
				pc.JWT.ClockSkew = time.Duration(r.Count(p, v, 0, 3600)) * time.Second
			}},
			"max_token_bytes": {Read: func(p string, v gjson.Result) { pc.JWT.MaxTokenSize = int(r.Count(p, v, 256, 65536)) }},
			"claim_to_headers": {Read: func(p string, v gjson.Result) {
				r.EachKey(p, v, func(p, claim string, v gjson.Result) {
					if h, ok := r.Str(p, v); ok {
						pc.ClaimHeaders = append(pc.ClaimHeaders, ClaimHeader{Claim: claim, Header: h})
					}
				})
			}},
			"forward":                  {Read: func(p string, v gjson.Result) { pc.Forward = r.Bool(p, v) }},
			"payload_header":           {Read: func(p string, v gjson.Result) { pc.PayloadHeader, _ = r.Str(p, v) }},
			"unsafe_allow_missing_exp": {Read: func(p string, v gjson.Result) { pc.JWT.AllowMissingExp = r.Bool(p, v) }},
			"typ": {Read: func(p string, v gjson.Result) {
				if pc.JWT.Type, _ = r.Str(p, v); v.Type == gjson.String && pc.JWT.Type == "" {
					r.Errorf(p, "must not be empty; leave it out to accept any typ")
				}
			}},
		})
		out = append(out, pc)
	})
	return out
}

// readKeys reads a provider's keys: exactly one of an inline key set (parsed
// here, at plugin start, so a bad key refuses the configuration) or a remote
// JWKS.
func readKeys(r *config.Reader, path string, v gjson.Result, pc *ProviderConfig) {
	r.Object(path, v, config.Fields{
		"inline": {Read: func(p string, v gjson.Result) {
			if !v.IsObject() {
				r.Errorf(p, "must be a JWKS object, got %s", config.Kind(v))
				return
			}
			s, err := jwt.ParseKeySet([]byte(v.Raw))
			if err != nil {
				keyErrors(r, p, err)
				return
			}
			pc.Keys = s
		}},
		"remote": {Read: func(p string, v gjson.Result) { pc.Remote = jwks.ReadRemote(r, p, v) }},
	})
	if v.IsObject() && (v.Get("inline").Exists() == v.Get("remote").Exists()) {
		r.Errorf(path, "must have exactly one of inline or remote")
	}
}

// keyErrors reports each of ParseKeySet's errors at its key's JSON path:
// "providers.idp.jwks.inline.keys[2].key_ops: ...".
func keyErrors(r *config.Reader, path string, err error) {
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		var ke *jwt.KeyError
		if errors.As(e, &ke) {
			r.Errorf(config.Join(path, ke.Path()), "%s", ke.Message)
		} else {
			r.Errorf(path, "%v", e)
		}
	}
}

// readSources reads "from": each entry names one place: a header (with an
// optional prefix), a query parameter or a cookie.
func readSources(r *config.Reader, path string, v gjson.Result) []Source {
	var out []Source
	r.Array(path, v, func(p string, _ int, v gjson.Result) {
		var src Source
		kinds := 0
		r.Object(p, v, config.Fields{
			"header": {Read: func(p string, v gjson.Result) {
				src.Header, _ = r.Str(p, v)
				src.Header = strings.ToLower(src.Header)
				kinds++
			}},
			"prefix": {Read: func(p string, v gjson.Result) { src.Prefix, _ = r.Str(p, v) }},
			"query":  {Read: func(p string, v gjson.Result) { src.Query, _ = r.Str(p, v); kinds++ }},
			"cookie": {Read: func(p string, v gjson.Result) { src.Cookie, _ = r.Str(p, v); kinds++ }},
		})
		switch {
		case kinds != 1:
			r.Errorf(p, "must name exactly one of header, query or cookie")
		case src.Header+src.Query+src.Cookie == "":
			r.Errorf(p, "the header, query or cookie name must not be empty")
		case src.Prefix != "" && src.Header == "":
			r.Errorf(p+".prefix", "only a header has a prefix")
		}
		out = append(out, src)
	})
	return out
}

// RouteAuth is a route's authentication requirement.
type RouteAuth struct {
	// Public marks a route that needs no authentication ("auth": "none").
	Public bool
	// Providers, unless Public: a token from any of them is accepted.
	Providers []string
	// Optional lets requests without a token through; a token that is
	// present must still be valid.
	Optional bool
}

// ReadRouteAuth reads a route's "auth": "none", or the providers it accepts.
func ReadRouteAuth(r *config.Reader, path string, v gjson.Result) RouteAuth {
	var ra RouteAuth
	if v.Type == gjson.String {
		s, _ := r.Enum(path, v, "none")
		ra.Public = s == "none"
		return ra
	}
	if !v.IsObject() {
		r.Errorf(path, `must be "none" or an object with providers, got %s`, config.Kind(v))
		return ra
	}
	last := r.Memo(lastRouteAuthKey{}, func() any { return &lastRouteAuth{} }).(*lastRouteAuth)
	if last.raw != "" && last.raw == v.Raw {
		return last.ra
	}
	errs := len(r.Errors())
	ra = config.ReadInto(r, path, v, RouteAuth{}, func(ra *RouteAuth) config.Fields {
		return config.Fields{
			"providers": {Required: true, Read: func(p string, v gjson.Result) { ra.Providers = r.Strings(p, v) }},
			"optional":  {Read: func(p string, v gjson.Result) { ra.Optional = r.Bool(p, v) }},
		}
	})
	if len(r.Errors()) == errs {
		last.raw, last.ra = v.Raw, ra
	}
	return ra
}

// lastRouteAuth is the last route's "auth" object as read without an
// error: the next route's, written the same, is the same, providers list
// included. Routes come in runs that accept the same providers, and
// reading the object again was a fifth of reading such a route in wasm.
type lastRouteAuth struct {
	raw string
	ra  RouteAuth
}

type lastRouteAuthKey struct{}
