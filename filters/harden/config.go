package harden

import (
	"maps"
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/stage"
)

// Strict is the "strict" preset: the OWASP Secure Headers Project's values
// for APIs. Strict-Transport-Security is sent only where the request came
// over https (or assume_https says TLS ends before Envoy).
var Strict = [][2]string{
	{"strict-transport-security", "max-age=31536000; includeSubDomains"},
	{"x-content-type-options", "nosniff"},
	{"content-security-policy", "default-src 'none'; frame-ancestors 'none'"},
	{"x-frame-options", "DENY"},
	{"referrer-policy", "no-referrer"},
	{"cross-origin-opener-policy", "same-origin"},
	{"cross-origin-resource-policy", "same-origin"},
	{"permissions-policy", "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), " +
		"fullscreen=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), " +
		"picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(), usb=(), " +
		"xr-spatial-tracking=()"},
	{"cache-control", "no-store"},
}

// Leaky are the headers removed from every hardened response: they name the
// upstream's software and timings.
var Leaky = []string{"server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-runtime", "x-envoy-upstream-service-time"}

const hsts = "strict-transport-security"

// settings are the "response" field as read, global or a route's over it.
type settings struct {
	strict bool
	// headers override the preset by name: a value, or omitted (nil).
	headers       map[string]*string
	keepUpstream  []string
	remove        []string
	assumeHTTPS   bool
	requireHTTPS  bool
	replaceErrors bool
	// inherited is the global settings compiled, once: the stage of every
	// route without its own "response" field (a stage is immutable, so
	// they share it), nil when they harden nothing.
	inherited stage.Stage
}

// Global reads the top-level "response" field: the settings every route
// starts from. Without it, every route gets the strict preset.
func Global(r *config.Reader, path string, v gjson.Result) any {
	s := &settings{strict: true}
	if v.Exists() {
		s.read(r, path, v)
		s.check(r, path)
	}
	s.inherited = s.compile()
	return s
}

// Compile reads a route's "response" field over the global settings: each
// field it has replaces the global one, except headers, which it overrides
// by name, and remove, which adds to the global list (a route cannot let
// through what the policy strips). It returns nil when the result hardens
// nothing.
func Compile(r *config.Reader, path string, v gjson.Result, global any) stage.Stage {
	if !v.Exists() {
		return global.(*settings).inherited
	}
	s := *global.(*settings)
	s.headers = maps.Clone(s.headers)
	s.read(r, path, v)
	s.check(r, path)
	return s.compile()
}

func (s *settings) read(r *config.Reader, path string, v gjson.Result) {
	r.Object(path, v, config.Fields{
		"security_headers": {Read: func(p string, v gjson.Result) {
			preset, _ := r.Enum(p, v, "strict", "off")
			s.strict = preset == "strict"
		}},
		"headers": {Read: func(p string, v gjson.Result) {
			if s.headers == nil {
				s.headers = map[string]*string{}
			}
			r.EachKey(p, v, func(p, name string, v gjson.Result) {
				if !checkName(r, p, name) {
					return
				}
				if v.Type == gjson.Null {
					s.headers[name] = nil
					return
				}
				if value, ok := r.Str(p, v); ok && checkValue(r, p, value) {
					s.headers[name] = &value
				}
			})
		}},
		"keep_upstream": {Read: func(p string, v gjson.Result) { s.keepUpstream = headerNames(r, p, v) }},
		"remove":        {Read: func(p string, v gjson.Result) { s.remove = append(slices.Clip(s.remove), headerNames(r, p, v)...) }},
		"assume_https":  {Read: func(p string, v gjson.Result) { s.assumeHTTPS = r.Bool(p, v) }},
		"require_https": {Read: func(p string, v gjson.Result) { s.requireHTTPS = r.Bool(p, v) }},
		"replace_error_bodies": {Read: func(p string, v gjson.Result) {
			s.replaceErrors = r.Bool(p, v)
		}},
	})
}

// check reports the errors that depend on several fields, where a field
// was written (path), so that a global mistake is reported once.
func (s *settings) check(r *config.Reader, path string) {
	set := s.set()
	for _, name := range s.keepUpstream {
		if !slices.ContainsFunc(set, func(kv [2]string) bool { return kv[0] == name }) {
			r.Errorf(config.Join(path, "keep_upstream"), "%q is not a header this policy sets", name)
		}
	}
	if s.requireHTTPS && s.assumeHTTPS {
		r.Errorf(config.Join(path, "require_https"), "cannot be combined with assume_https: every request would count as https")
	}
}

// set is what the settings set: the preset's headers, overridden.
func (s *settings) set() [][2]string {
	var set [][2]string
	if s.strict {
		for _, kv := range Strict {
			if _, overridden := s.headers[kv[0]]; !overridden {
				set = append(set, kv)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.headers)) {
		if v := s.headers[name]; v != nil {
			set = append(set, [2]string{name, *v})
		}
	}
	return set
}

// compile turns settings into the stage.
func (s *settings) compile() stage.Stage {
	set := s.set()
	var remove []string
	if s.strict {
		remove = append(remove, Leaky...)
	}
	for _, name := range s.remove {
		if !slices.Contains(remove, name) {
			remove = append(remove, name)
		}
	}
	if len(set) == 0 && len(remove) == 0 && !s.requireHTTPS && !s.replaceErrors {
		return nil
	}
	p := &Policy{keepUpstream: s.keepUpstream, assumeHTTPS: s.assumeHTTPS, replaceErrors: s.replaceErrors}
	// Capacity capped, so that a later stage's edits appended to these copy
	// them rather than write into the policy's arrays.
	p.secure = stage.Edits{Remove: slices.Clip(remove), Set: slices.Clip(set)}
	plain := slices.DeleteFunc(slices.Clone(set), func(kv [2]string) bool { return kv[0] == hsts })
	p.plain = stage.Edits{Remove: p.secure.Remove, Set: slices.Clip(plain)}
	if s.requireHTTPS {
		return httpsOnly{p}
	}
	return p
}

func headerNames(r *config.Reader, path string, v gjson.Result) []string {
	var out []string
	r.Array(path, v, func(p string, _ int, v gjson.Result) {
		if name, ok := r.Str(p, v); ok && checkName(r, p, name) {
			out = append(out, name)
		}
	})
	return out
}

// framing are headers the proxy owns: changing them would break the
// message, not harden it.
var framing = []string{"content-length", "transfer-encoding", "connection", "content-type"}

// checkName accepts a lower-case RFC 9110 token that is not a pseudo-header
// nor one the proxy owns.
func checkName(r *config.Reader, path, name string) bool {
	if !httpsyntax.IsToken(name) || name != strings.ToLower(name) {
		r.Errorf(path, "%q is not a lower-case header name", name)
		return false
	}
	if slices.Contains(framing, name) {
		r.Errorf(path, "%q frames the message and cannot be changed here", name)
		return false
	}
	return true
}

// checkValue accepts visible ASCII, spaces and tabs (RFC 9110 field-value,
// without obsolete text).
func checkValue(r *config.Reader, path, value string) bool {
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < ' ' || c > '~') && c != '\t' {
			r.Errorf(path, "a header value must be visible ASCII")
			return false
		}
	}
	return true
}
