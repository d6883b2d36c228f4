package cors

import (
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/stage"
)

// Defaults and bounds of the "cors" field.
const (
	// DefaultMaxAge is a preflight answer's Access-Control-Max-Age, in
	// seconds, unless max_age_s says otherwise.
	DefaultMaxAge = 600
	// MaxMaxAge bounds max_age_s: a day, beyond which browsers cap it
	// anyway (Firefox at 24 hours, Chromium at 2).
	MaxMaxAge = 86400
)

// DefaultMethods are the methods a preflight may announce unless methods
// says otherwise.
var DefaultMethods = []string{"GET", "HEAD", "POST"}

// Global reads the top-level "cors" field: the policy of every route
// without its own. nil (no CORS) without one.
func Global(r *config.Reader, path string, v gjson.Result) any {
	if !v.Exists() {
		return nil
	}
	return read(r, path, v)
}

// Compile returns a route's policy: its own "cors" field, which replaces
// the global one whole ("off" for none), or the global one. nil when the
// route has none.
func Compile(r *config.Reader, path string, v gjson.Result, global any) stage.Stage {
	if !v.Exists() {
		if p, ok := global.(*Policy); ok && p != nil {
			return p
		}
		return nil
	}
	if v.Type == gjson.String {
		r.Enum(path, v, "off")
		return nil
	}
	return read(r, path, v)
}

func read(r *config.Reader, path string, v gjson.Result) *Policy {
	p := &Policy{methods: DefaultMethods}
	maxAge := int64(DefaultMaxAge)
	var expose []string
	r.Object(path, v, config.Fields{
		"origins": {Required: true, Read: func(path string, v gjson.Result) {
			r.Array(path, v, func(path string, _ int, v gjson.Result) {
				s, ok := r.Str(path, v)
				switch {
				case !ok:
				case s == "*":
					p.anyOrigin = true
				case s == "null":
					p.allowNull = true
				default:
					if pt, ok := parsePattern(s); ok {
						p.patterns = append(p.patterns, pt)
					} else {
						r.Errorf(path, "%q is not an origin as browsers send it (lower-case scheme://host[:port], no default port, no path), nor scheme://*.domain", s)
					}
				}
			})
			if v.IsArray() && len(v.Array()) == 0 {
				r.Errorf(path, "must list at least one origin")
			}
		}},
		"methods": {Read: func(path string, v gjson.Result) {
			p.methods = tokens(r, path, v, strings.ToUpper)
		}},
		"headers": {Read: func(path string, v gjson.Result) {
			p.headers = tokens(r, path, v, strings.ToLower)
		}},
		"expose_headers": {Read: func(path string, v gjson.Result) {
			expose = tokens(r, path, v, strings.ToLower)
		}},
		"credentials": {Read: func(path string, v gjson.Result) { p.credentials = r.Bool(path, v) }},
		"max_age_s":   {Read: func(path string, v gjson.Result) { maxAge = r.Count(path, v, 0, MaxMaxAge) }},
	})
	if p.anyOrigin && p.credentials {
		// Fetch refuses "*" with credentials; reflecting every origin
		// instead would hand any site the user's session.
		r.Errorf(config.Join(path, "origins"), `"*" cannot be combined with credentials`)
	}
	if p.anyOrigin && (len(p.patterns) > 0 || p.allowNull) {
		r.Errorf(config.Join(path, "origins"), `"*" allows every origin: list it alone`)
	}
	p.preflight = preflightHeaders(p.methods, p.headers, p.credentials, maxAge)
	if len(expose) > 0 {
		p.expose = [][2]string{{"access-control-expose-headers", strings.Join(expose, ", ")}}
	}
	return p
}

// tokens reads a list of RFC 9110 tokens written in canonical case
// (canon), without duplicates.
func tokens(r *config.Reader, path string, v gjson.Result, canon func(string) string) []string {
	var out []string
	r.Array(path, v, func(path string, _ int, v gjson.Result) {
		s, ok := r.Str(path, v)
		switch {
		case !ok:
		case !httpsyntax.IsToken(s):
			r.Errorf(path, "%q is not a token", s)
		case s != canon(s):
			r.Errorf(path, "must be written %q", canon(s))
		case slices.Contains(out, s):
			r.Errorf(path, "%q is listed twice", s)
		default:
			out = append(out, s)
		}
	})
	return out
}
