package pipeline

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/filters/route"
)

// Warning is a policy that loads but probably does not do what its author
// meant. Warnings never stop the plugin: they are logged at start and printed
// by the gateway's -check mode.
type Warning struct {
	// Path is the JSON path of the route concerned, e.g. "routes[0]".
	Path    string
	Message string
}

func (w Warning) String() string { return w.Path + ": " + w.Message }

// Warnings lists the near misses of protected routes: requests that differ
// from a route that requires a token only by trailing slash, letter case or
// method, and that a route without that requirement (auth "none", or
// optional) serves, or that no route matches while "default" is "allow". An
// upstream that ignores the difference would serve the protected handler to
// anyone.
func (p *Pipeline) Warnings() []Warning { return p.warnings }

// mayWarn tells whether findWarnings can find anything: only a protected
// route has near misses to warn of, and only when something lets requests
// through without a token, a route that needs none or a default that
// allows. Most policies have no warnings to look for, and configure then
// does not run (nor, under V8 without Liftoff, compile) the search.
func (p *Pipeline) mayWarn(cfg Config) bool {
	open, protected := slices.Contains(p.defaultAllow, true), false
	for _, r := range cfg.Routes {
		if r.Auth.Public || r.Auth.Optional {
			open = true
		} else {
			protected = true
		}
	}
	return open && protected
}

func (p *Pipeline) findWarnings(cfg Config, settings map[string]Host) []Warning {
	protected := func(i int) bool { return !cfg.Routes[i].Auth.Public && !cfg.Routes[i].Auth.Optional }
	var out []Warning
	hosts := p.table.Hosts()
	for _, s := range p.table.Shadows(protected) {
		var served string
		switch {
		case s.By < 0 && p.defaultAllow[s.In]:
			served = `matches no route, and "default": "allow" lets it through`
			if h, own := settings[hosts[s.In]]; own {
				served = `matches no route, and hosts.` + h.Pattern + `.default "allow" lets it through`
			}
		case s.By < 0:
			continue
		case cfg.Routes[s.By].Auth.Public:
			served = fmt.Sprintf("is served by public route %q (routes[%d])", cfg.Routes[s.By].Name, s.By)
		case cfg.Routes[s.By].Auth.Optional:
			served = fmt.Sprintf("is served by optional-auth route %q (routes[%d])", cfg.Routes[s.By].Name, s.By)
		default:
			continue
		}
		on := ""
		if s.Host != route.AnyHost {
			on = " on host " + hosts[s.Host]
		}
		out = append(out, Warning{
			Path: "routes[" + strconv.Itoa(s.Route) + "]",
			Message: fmt.Sprintf("%s %s%s (%s) %s without a token; %s",
				strings.Join(s.Methods, ", "), s.Path, on, variantNote[s.Variant], served, variantAdvice[s.Variant]),
		})
	}
	return out
}

// variantNote says how the request differs from the route as written.
var variantNote = map[route.Variant]string{
	route.TrailingSlash: "the other trailing-slash form of this strict_slash route",
	route.Case:          "another letter case; paths are case-sensitive",
	route.Method:        "a method this route does not list",
	route.Port:          "this route's host on another port, which the routes without hosts govern",
}

// variantAdvice says what goes wrong and how to close the gap.
var variantAdvice = map[route.Variant]string{
	route.TrailingSlash: "an upstream that ignores a trailing slash would serve this route's handler: drop strict_slash, or narrow what serves it",
	route.Case:          "an upstream that ignores case would serve this route's handler: narrow what serves it if yours does",
	route.Method:        "an upstream that routes by path alone would serve this route's handler: list the methods on a protected route, or narrow what serves it",
	route.Port:          "an upstream that ignores the port (nginx server_name, Envoy's ignore_port_in_host_matching) would serve this route's handler: list the host's other ports on its routes, or narrow what serves it",
}
