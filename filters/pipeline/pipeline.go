// Package pipeline runs a request through the stages its route asks for, in the
// fixed order of the design: normalize the path, match a route, then each policy
// stage the route configures. It is compiled once from plain Go config and is
// immutable, so every worker can share one decision function.
//
// Adding a stage: compile it in Compile into compiledRoute, and call its Decide
// in Request at its place in the order. Nothing else changes.
package pipeline

import (
	"strconv"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/verdict"
)

// Route is one configured route.
type Route struct {
	// Name is unique; it names the route in logs, metrics and problem bodies.
	Name string
	// Match selects the requests the route governs.
	Match route.Spec
	// Auth says whether and how the route's requests are authenticated.
	Auth authn.RouteAuth
}

// Config is the whole policy.
type Config struct {
	Providers []authn.ProviderConfig
	Routes    []Route
	// DefaultAllow lets requests that match no route through. The default,
	// false, denies them: an API that forgot a route stays closed.
	DefaultAllow bool
	// Hosts are per-host settings, in configuration order.
	Hosts []Host
}

// Host is the settings of one host pattern ("hosts" in the filter JSON).
type Host struct {
	// Pattern is as in routes[].match.hosts.
	Pattern string
	// DefaultAllow replaces Config.DefaultAllow for the requests of this
	// host that match none of its routes.
	DefaultAllow bool
}

// Pipeline is a compiled Config.
type Pipeline struct {
	table  *route.Table
	routes []compiledRoute
	// defaultAllow is each host group's default, by group number.
	defaultAllow []bool
	authn        *authn.Authenticator
	warnings     []Warning
}

type compiledRoute struct {
	name string
	// auth is nil on public routes.
	auth *authn.Requirement
}

// Compile validates cfg and returns the pipeline, or every error found, each
// at its JSON path in the filter configuration.
func Compile(cfg Config) (*Pipeline, []config.Error) {
	a, errs := authn.Compile(cfg.Providers)
	known := map[string]bool{}
	for _, pc := range cfg.Providers {
		known[pc.Name] = true
	}
	specs := make([]route.Spec, len(cfg.Routes))
	firstByName := map[string]int{}
	p := &Pipeline{routes: make([]compiledRoute, len(cfg.Routes))}
	for i, r := range cfg.Routes {
		path := "routes[" + strconv.Itoa(i) + "]"
		switch prev, dup := firstByName[r.Name]; {
		case r.Name == "":
			errs = append(errs, config.Errorf(path+".name", "must not be empty"))
		case dup:
			errs = append(errs, config.Errorf(path+".name", "%q duplicates routes[%d].name", r.Name, prev))
		default:
			firstByName[r.Name] = i
		}
		specs[i] = r.Match
		specs[i].Name = r.Name
		p.routes[i] = compiledRoute{name: r.Name}
		if r.Auth.Public {
			continue
		}
		// Checked here too, so that a route naming an unknown provider is
		// reported even when the providers themselves failed to compile.
		unknown := false
		for j, name := range r.Auth.Providers {
			if !known[name] {
				errs = append(errs, config.Errorf(path+".auth.providers["+strconv.Itoa(j)+"]", "unknown provider %q", name))
				unknown = true
			}
		}
		if a != nil && !unknown {
			req, reqErrs := a.Require(path+".auth", r.Auth.Providers, r.Auth.Optional)
			errs = append(errs, reqErrs...)
			p.routes[i].auth = req
		}
	}
	patterns, settings, hostErrs := hostSettings(cfg.Hosts)
	errs = append(errs, hostErrs...)
	table, routeErrs := route.Compile(specs, patterns...)
	errs = append(errs, routeErrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	p.table, p.authn = table, a
	for _, pattern := range table.Hosts() {
		h, ok := settings[pattern]
		p.defaultAllow = append(p.defaultAllow, h.DefaultAllow || !ok && cfg.DefaultAllow)
	}
	p.warnings = p.findWarnings(cfg, settings)
	return p, nil
}

// hostSettings checks the per-host settings and returns their canonical
// patterns, and the settings by canonical pattern.
func hostSettings(hosts []Host) ([]string, map[string]Host, []config.Error) {
	var errs []config.Error
	var patterns []string
	settings := map[string]Host{}
	for _, h := range hosts {
		path := "hosts." + h.Pattern
		canon, err := route.ParseHostPattern(h.Pattern)
		switch prev, dup := settings[canon]; {
		case err != nil:
			errs = append(errs, config.Errorf(path, "%v", err))
		case dup:
			errs = append(errs, config.Errorf(path, "the same host as hosts.%s", prev.Pattern))
		default:
			patterns = append(patterns, canon)
			settings[canon] = h
		}
	}
	return patterns, settings, errs
}

// Authenticator is the compiled set of identity providers.
func (p *Pipeline) Authenticator() *authn.Authenticator { return p.authn }

// Authenticate runs the authentication stage for a route Request matched;
// it allows routes that need none.
func (p *Pipeline) Authenticate(routeIndex int, in authn.Input) authn.Result {
	if routeIndex < 0 || p.routes[routeIndex].auth == nil {
		return authn.Result{Provider: -1, NeedKeys: -1, Attempted: -1}
	}
	return p.authn.Authenticate(p.routes[routeIndex].auth, in)
}

// NeedsAuthentication reports whether a route checks credentials, so the glue
// reads the request's headers only when it must.
func (p *Pipeline) NeedsAuthentication(routeIndex int) bool {
	return routeIndex >= 0 && p.routes[routeIndex].auth != nil
}

// Request is what the request-headers stage sees of a request.
type Request struct {
	Method string
	// Authority is the :authority (Envoy puts HTTP/1's Host there);
	// Scheme the :scheme, needed only when the authority has a port
	// (route.HasPort), to drop the scheme's default one.
	Authority, Scheme string
	// Path is the raw :path, query included.
	Path string
}

// Outcome is the pipeline's answer for a request.
type Outcome struct {
	verdict.Decision
	// Route is the matched route's name; "" when none matched.
	Route string
	// RouteIndex is the matched route's position in Config.Routes; -1 when
	// none matched.
	RouteIndex int
	// Path is the :path to forward upstream when normalization changed it, so
	// the upstream serves what was authorized; "" keeps the client's.
	Path string
}

// Request decides a request's headers. params is reset and filled with the
// route template's captures; callers reuse one per stream to avoid allocations.
func (p *Pipeline) Request(req Request, params *route.Params) Outcome {
	if req.Method == "" {
		return Outcome{Decision: verdict.Deny(verdict.BadRequest, "missing :method"), RouteIndex: -1}
	}
	host, d := route.CanonicalHost(req.Authority, req.Scheme)
	if d.Denied() {
		return Outcome{Decision: d, RouteIndex: -1}
	}
	norm, d := route.Normalize(req.Path)
	if d.Denied() {
		return Outcome{Decision: d, RouteIndex: -1}
	}
	out := Outcome{Path: forwardPath(req.Path, norm), RouteIndex: -1}
	g := p.table.Host(host)
	i, d := p.table.Match(g, req.Method, norm.Decoded, params)
	if i < 0 {
		if d.Reason == verdict.NoRoute && p.defaultAllow[g] {
			return out
		}
		out.Decision = d
		return out
	}
	out.Route, out.RouteIndex = p.routes[i].name, i
	return out
}

// forwardPath is the :path to send upstream, or "" when the client's path is
// already canonical. The query is forwarded byte for byte.
func forwardPath(raw string, n route.Path) string {
	if len(raw) >= len(n.Escaped) && raw[:len(n.Escaped)] == n.Escaped &&
		(len(raw) == len(n.Escaped) || raw[len(n.Escaped)] == '?') {
		return ""
	}
	if len(n.Query) > 0 || len(raw) > 0 && raw[len(raw)-1] == '?' {
		return n.Escaped + "?" + n.Query
	}
	return n.Escaped
}
