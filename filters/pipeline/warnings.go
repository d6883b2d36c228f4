package pipeline

import (
	"fmt"
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
// optional) serves. An upstream that ignores the difference would serve the
// protected handler to anyone.
func (p *Pipeline) Warnings() []Warning { return p.warnings }

func (p *Pipeline) findWarnings(cfg Config) []Warning {
	var out []Warning
	for _, s := range p.table.Shadows() {
		r, by := cfg.Routes[s.Route], cfg.Routes[s.By]
		if r.Public || r.Auth.Optional || !(by.Public || by.Auth.Optional) {
			continue
		}
		how := "public"
		if !by.Public {
			how = "optional-auth"
		}
		out = append(out, Warning{
			Path: "routes[" + strconv.Itoa(s.Route) + "]",
			Message: fmt.Sprintf("%s %s (%s) is served by %s route %q (routes[%d]) without a token; %s",
				strings.Join(s.Methods, ", "), s.Path, variantNote[s.Variant], how, by.Name, s.By, variantAdvice[s.Variant]),
		})
	}
	return out
}

// variantNote says how the request differs from the route as written.
var variantNote = map[route.Variant]string{
	route.TrailingSlash: "the other trailing-slash form of this strict_slash route",
	route.Case:          "another letter case; paths are case-sensitive",
	route.Method:        "a method this route does not list",
}

// variantAdvice says what goes wrong and how to close the gap.
var variantAdvice = map[route.Variant]string{
	route.TrailingSlash: "an upstream that ignores a trailing slash would serve this route's handler: drop strict_slash or narrow that route",
	route.Case:          "an upstream that ignores case would serve this route's handler: narrow that route if yours does",
	route.Method:        "an upstream that routes by path alone would serve this route's handler: list the methods on a protected route, or narrow that route",
}
