package main

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/pipeline"
)

// providerName keeps names usable in metric names and logs.
var providerName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// keySource is where a provider's keys come from: a key set in the
// configuration, or a remote JWKS fetched through an Envoy cluster.
type keySource struct {
	inline *jwt.KeySet
	remote *remoteJWKS
}

// remoteJWKS locates a provider's JWKS and bounds its fetching.
type remoteJWKS struct {
	cluster, path, authority string
	refresh, timeout, wait   time.Duration
	maxStale                 time.Duration
}

// keySources are indexed like the pipeline's providers.
type keySources []keySource

// providers reads the "providers" object: each key names a provider.
func (r *configReader) providers(path string, v gjson.Result, cfg *pipeline.Config, keys *keySources) {
	r.eachKey(path, v, func(p, name string, v gjson.Result) {
		if !providerName.MatchString(name) {
			r.errorf(p, "provider names are 1-64 letters, digits, - or _")
		}
		pc := authn.ProviderConfig{Name: name, JWT: jwt.Config{ClockSkew: jwt.DefaultClockSkew}}
		var src keySource
		r.object(p, v, map[string]field{
			"issuer":    {required: true, read: func(p string, v gjson.Result) { pc.JWT.Issuer, _ = r.str(p, v) }},
			"audiences": {required: true, read: func(p string, v gjson.Result) { pc.JWT.Audiences = r.strings(p, v) }},
			"jwks":      {required: true, read: func(p string, v gjson.Result) { src = r.jwks(p, v) }},
			"from":      {read: func(p string, v gjson.Result) { pc.Sources = r.sources(p, v) }},
			"clock_skew_s": {read: func(p string, v gjson.Result) {
				pc.JWT.ClockSkew = time.Duration(r.count(p, v, 0, 3600)) * time.Second
			}},
			"max_token_bytes": {read: func(p string, v gjson.Result) { pc.JWT.MaxTokenSize = int(r.count(p, v, 256, 65536)) }},
			"claim_to_headers": {read: func(p string, v gjson.Result) {
				r.eachKey(p, v, func(p, claim string, v gjson.Result) {
					if h, ok := r.str(p, v); ok {
						pc.ClaimHeaders = append(pc.ClaimHeaders, authn.ClaimHeader{Claim: claim, Header: h})
					}
				})
			}},
			"forward":                  {read: func(p string, v gjson.Result) { pc.Forward = r.boolean(p, v) }},
			"payload_header":           {read: func(p string, v gjson.Result) { pc.PayloadHeader, _ = r.str(p, v) }},
			"unsafe_allow_missing_exp": {read: func(p string, v gjson.Result) { pc.JWT.AllowMissingExp = r.boolean(p, v) }},
			"typ": {read: func(p string, v gjson.Result) {
				if pc.JWT.Type, _ = r.str(p, v); v.Type == gjson.String && pc.JWT.Type == "" {
					r.errorf(p, "must not be empty; leave it out to accept any typ")
				}
			}},
		})
		cfg.Providers = append(cfg.Providers, pc)
		*keys = append(*keys, src)
	})
}

// jwks reads a provider's keys: exactly one of an inline key set (parsed
// here, at plugin start, so a bad key refuses the configuration) or a remote
// JWKS.
func (r *configReader) jwks(path string, v gjson.Result) keySource {
	var src keySource
	r.object(path, v, map[string]field{
		"inline": {read: func(p string, v gjson.Result) {
			if !v.IsObject() {
				r.errorf(p, "must be a JWKS object, got %s", kind(v))
				return
			}
			s, err := jwt.ParseKeySet([]byte(v.Raw))
			if err != nil {
				r.keyErrors(p, err)
				return
			}
			src.inline = s
		}},
		"remote": {read: func(p string, v gjson.Result) {
			rj := &remoteJWKS{refresh: 5 * time.Minute, timeout: 5 * time.Second, wait: 5 * time.Second, maxStale: 24 * time.Hour}
			r.object(p, v, map[string]field{
				"cluster":   {required: true, read: func(p string, v gjson.Result) { rj.cluster, _ = r.str(p, v) }},
				"authority": {required: true, read: func(p string, v gjson.Result) { rj.authority, _ = r.str(p, v) }},
				"path": {required: true, read: func(p string, v gjson.Result) {
					if rj.path, _ = r.str(p, v); !strings.HasPrefix(rj.path, "/") {
						r.errorf(p, "must start with /")
					}
				}},
				"refresh_s": {read: func(p string, v gjson.Result) { rj.refresh = time.Duration(r.count(p, v, 10, 86400)) * time.Second }},
				"timeout_ms": {read: func(p string, v gjson.Result) {
					rj.timeout = time.Duration(r.count(p, v, 100, 60000)) * time.Millisecond
				}},
				"wait_ms": {read: func(p string, v gjson.Result) { rj.wait = time.Duration(r.count(p, v, 0, 60000)) * time.Millisecond }},
				"max_stale_s": {read: func(p string, v gjson.Result) {
					rj.maxStale = time.Duration(r.count(p, v, 60, 30*86400)) * time.Second
				}},
			})
			// Keys must outlive the interval that refreshes them, or a
			// healthy IdP would see the provider fail closed between fetches.
			switch {
			case !v.Get("max_stale_s").Exists():
				rj.maxStale = max(rj.maxStale, 2*rj.refresh)
			case rj.maxStale > 0 && rj.maxStale <= rj.refresh:
				r.errorf(p+".max_stale_s", "must be longer than refresh_s (%d)", int(rj.refresh/time.Second))
			}
			src.remote = rj
		}},
	})
	if v.IsObject() && (v.Get("inline").Exists() == v.Get("remote").Exists()) {
		r.errorf(path, "must have exactly one of inline or remote")
	}
	return src
}

// keyErrors reports each of ParseKeySet's errors at its key's JSON path:
// "providers.idp.jwks.inline.keys[2].key_ops: ...".
func (r *configReader) keyErrors(path string, err error) {
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		var ke *jwt.KeyError
		if errors.As(e, &ke) {
			r.errorf(join(path, ke.Path()), "%s", ke.Message)
		} else {
			r.errorf(path, "%v", e)
		}
	}
}

// sources reads "from": each entry names one place: a header (with an optional
// prefix), a query parameter or a cookie.
func (r *configReader) sources(path string, v gjson.Result) []authn.Source {
	var out []authn.Source
	r.array(path, v, func(p string, _ int, v gjson.Result) {
		var src authn.Source
		kinds := 0
		r.object(p, v, map[string]field{
			"header": {read: func(p string, v gjson.Result) {
				src.Header, _ = r.str(p, v)
				src.Header = strings.ToLower(src.Header)
				kinds++
			}},
			"prefix": {read: func(p string, v gjson.Result) { src.Prefix, _ = r.str(p, v) }},
			"query":  {read: func(p string, v gjson.Result) { src.Query, _ = r.str(p, v); kinds++ }},
			"cookie": {read: func(p string, v gjson.Result) { src.Cookie, _ = r.str(p, v); kinds++ }},
		})
		switch {
		case kinds != 1:
			r.errorf(p, "must name exactly one of header, query or cookie")
		case src.Header+src.Query+src.Cookie == "":
			r.errorf(p, "the header, query or cookie name must not be empty")
		case src.Prefix != "" && src.Header == "":
			r.errorf(p+".prefix", "only a header has a prefix")
		}
		out = append(out, src)
	})
	return out
}

// routeAuth reads a route's "auth": "none", or the providers it accepts.
func (r *configReader) routeAuth(path string, v gjson.Result, rt *pipeline.Route) {
	if v.Type == gjson.String {
		s, _ := r.enum(path, v, "none")
		rt.Public = s == "none"
		return
	}
	if !v.IsObject() {
		r.errorf(path, `must be "none" or an object with providers, got %s`, kind(v))
		return
	}
	r.object(path, v, map[string]field{
		"providers": {required: true, read: func(p string, v gjson.Result) { rt.Auth.Providers = r.strings(p, v) }},
		"optional":  {read: func(p string, v gjson.Result) { rt.Auth.Optional = r.boolean(p, v) }},
	})
}
