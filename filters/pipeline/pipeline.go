// Package pipeline runs a request through the stages its route asks for, in the
// fixed order of the design: normalize the path, match a route, then each policy
// stage the route configures. It is compiled once from plain Go config and is
// immutable, so every worker can share one decision function.
//
// Adding a stage: compile it in Compile into compiledRoute, and call its Decide
// in Request at its place in the order. Nothing else changes.
package pipeline

import (
	"fmt"
	"strconv"

	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/verdict"
)

// Route is one configured route.
type Route struct {
	// Name is unique; it names the route in logs, metrics and problem bodies.
	Name string
	// Match selects the requests the route governs.
	Match route.Spec
	// Public marks a route that needs no authentication ("auth": "none").
	Public bool
}

// Config is the whole policy.
type Config struct {
	Routes []Route
	// DefaultAllow lets requests that match no route through. The default,
	// false, denies them: an API that forgot a route stays closed.
	DefaultAllow bool
}

// Pipeline is a compiled Config.
type Pipeline struct {
	table        *route.Table
	routes       []compiledRoute
	defaultAllow bool
}

type compiledRoute struct {
	name   string
	public bool
}

// Compile validates cfg and returns the pipeline, or every error found, each
// prefixed with its JSON path in the filter configuration.
func Compile(cfg Config) (*Pipeline, []error) {
	var errs []error
	specs := make([]route.Spec, len(cfg.Routes))
	firstByName := map[string]int{}
	p := &Pipeline{defaultAllow: cfg.DefaultAllow, routes: make([]compiledRoute, len(cfg.Routes))}
	for i, r := range cfg.Routes {
		path := "routes[" + strconv.Itoa(i) + "]"
		switch prev, dup := firstByName[r.Name]; {
		case r.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: must not be empty", path))
		case dup:
			errs = append(errs, fmt.Errorf("%s.name: %q duplicates routes[%d].name", path, r.Name, prev))
		default:
			firstByName[r.Name] = i
		}
		specs[i] = r.Match
		specs[i].Name = r.Name
		p.routes[i] = compiledRoute{name: r.Name, public: r.Public}
	}
	table, routeErrs := route.Compile(specs)
	errs = append(errs, routeErrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	p.table = table
	return p, nil
}

// Request is what the request-headers stage sees of a request.
type Request struct {
	Method string
	// Path is the raw :path, query included.
	Path string
}

// Outcome is the pipeline's answer for a request.
type Outcome struct {
	verdict.Decision
	// Route is the matched route's name; "" when none matched.
	Route string
	// Path is the :path to forward upstream when normalization changed it, so
	// the upstream serves what was authorized; "" keeps the client's.
	Path string
}

// Request decides a request's headers. params is reset and filled with the
// route template's captures; callers reuse one per stream to avoid allocations.
func (p *Pipeline) Request(req Request, params *route.Params) Outcome {
	if req.Method == "" {
		return Outcome{Decision: verdict.Deny(verdict.BadRequest, "missing :method")}
	}
	norm, d := route.Normalize(req.Path)
	if d.Denied() {
		return Outcome{Decision: d}
	}
	out := Outcome{Path: forwardPath(req.Path, norm)}
	i, d := p.table.Match(req.Method, norm.Decoded, params)
	if i < 0 {
		if d.Reason == verdict.NoRoute && p.defaultAllow {
			return out
		}
		out.Decision = d
		return out
	}
	out.Route = p.routes[i].name
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
