package host

import "strings"

// Route is one entry of an Envoy route table (RouteConfiguration), reduced to
// what decides where a request goes.
type Route struct {
	Name string
	// Prefix matches the start of :path, query included; Path matches :path
	// without its query exactly (Envoy's prefix and path matchers).
	Prefix, Path string
	// Header, if set, must be present with exactly this value.
	Header [2]string
	// Cluster receives the request, unless DirectStatus answers it
	// (direct_response).
	Cluster      string
	DirectStatus int
}

func (r *Route) matches(h Headers) bool {
	p, _ := h.Get(":path")
	switch {
	case r.Path != "":
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p != r.Path {
			return false
		}
	case !strings.HasPrefix(p, r.Prefix):
		return false
	}
	if r.Header[0] != "" {
		v, ok := h.Get(r.Header[0])
		return ok && v == r.Header[1]
	}
	return true
}

// route is the first route matching h, as Envoy's route table picks it.
func (e *Env) route(h Headers) *Route {
	for i := range e.cfg.Routes {
		if e.cfg.Routes[i].matches(h) {
			return &e.cfg.Routes[i]
		}
	}
	return nil
}

// clearRouteCache notes an edit of the request headers. Envoy picks the route
// before the filters run and caches it; for modules of ABI 0.2.1 and older
// (every module the Go SDK builds) it clears that cache whenever a wasm
// filter adds, replaces or removes a request header (Envoy 1.33 release
// notes; Context::clearRouteCache in source/extensions/common/wasm/context.cc
// is called from the header mutators), so the router matches the route again
// on the headers as the plugin left them.
func (s *Stream) clearRouteCache() {
	s.routeCleared = true
}

// upstreamRoute is where the router sends the request once the filters let
// it through: the route picked before them, or a fresh match if a filter
// cleared the route cache. ok is false when the Env has no route table.
func (s *Stream) upstreamRoute(h Headers) (r *Route, ok bool) {
	if len(s.vm.env.cfg.Routes) == 0 {
		return nil, false
	}
	if s.routeCleared {
		return s.vm.env.route(h), true
	}
	return s.route, true
}
