package pipeline

import (
	"testing"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/route"
)

func TestWarningsNameProtectedRoutesServedAroundTheirPolicy(t *testing.T) {
	idp := []authn.ProviderConfig{{Name: "idp", JWT: jwt.Config{Issuer: "https://idp.example.com/", Audiences: []string{"api"}}}}
	protected := authn.RouteAuth{Providers: []string{"idp"}}
	optional := authn.RouteAuth{Providers: []string{"idp"}, Optional: true}
	tests := []struct {
		name         string
		routes       []Route
		defaultAllow bool
		hosts        []Host
		want         []string
	}{
		{
			name: "public catch-all next to a GET-only admin route",
			routes: []Route{
				{Name: "admin", Match: route.Spec{Path: "/admin", Methods: []string{"GET"}}, Auth: protected},
				{Name: "site", Match: route.Spec{Path: "/**"}, Auth: authn.RouteAuth{Public: true}},
			},
			want: []string{
				`routes[0]: GET /ADMIN (another letter case; paths are case-sensitive) is served by public route "site" (routes[1]) without a token; an upstream that ignores case would serve this route's handler: narrow what serves it if yours does`,
				`routes[0]: POST, PUT, PATCH, DELETE, OPTIONS /admin (a method this route does not list) is served by public route "site" (routes[1]) without a token; an upstream that routes by path alone would serve this route's handler: list the methods on a protected route, or narrow what serves it`,
			},
		},
		{
			name: "strict slash form served by an optional-auth glob",
			routes: []Route{
				{Name: "keys", Match: route.Spec{Path: "/keys/", StrictSlash: true}, Auth: protected},
				{Name: "browse", Match: route.Spec{Path: "/**", Methods: []string{"GET"}}, Auth: optional},
			},
			want: []string{
				`routes[0]: GET /keys (the other trailing-slash form of this strict_slash route) is served by optional-auth route "browse" (routes[1]) without a token; an upstream that ignores a trailing slash would serve this route's handler: drop strict_slash, or narrow what serves it`,
				`routes[0]: GET /KEYS/ (another letter case; paths are case-sensitive) is served by optional-auth route "browse" (routes[1]) without a token; an upstream that ignores case would serve this route's handler: narrow what serves it if yours does`,
			},
		},
		{
			name: "variants no route matches, with default allow",
			routes: []Route{
				{Name: "admin", Match: route.Spec{Path: "/admin", Methods: []string{"GET"}}, Auth: protected},
			},
			defaultAllow: true,
			want: []string{
				`routes[0]: GET /ADMIN (another letter case; paths are case-sensitive) matches no route, and "default": "allow" lets it through without a token; an upstream that ignores case would serve this route's handler: narrow what serves it if yours does`,
			},
		},
		{
			name: "variants no route matches, with default deny",
			routes: []Route{
				{Name: "admin", Match: route.Spec{Path: "/admin", Methods: []string{"GET"}}, Auth: protected},
			},
		},
		{
			name: "per host: a public catch-all of the same host, not of another",
			routes: []Route{
				{Name: "admin", Match: route.Spec{Path: "/admin", Methods: []string{"GET"}, Hosts: []string{"admin.example.com"}}, Auth: protected},
				{Name: "site", Match: route.Spec{Path: "/**", Hosts: []string{"*.example.com"}}, Auth: authn.RouteAuth{Public: true}},
				{Name: "www", Match: route.Spec{Path: "/**"}, Auth: authn.RouteAuth{Public: true}},
				{Name: "admin-site", Match: route.Spec{Path: "/ADMIN", Hosts: []string{"admin.example.com"}}, Auth: authn.RouteAuth{Public: true}},
			},
			want: []string{
				`routes[0]: GET /admin on host admin.example.com (this route's host on another port, which the routes without hosts govern) is served by public route "www" (routes[2]) without a token; an upstream that ignores the port (nginx server_name, Envoy's ignore_port_in_host_matching) would serve this route's handler: list the host's other ports on its routes, or narrow what serves it`,
				`routes[0]: GET /ADMIN on host admin.example.com (another letter case; paths are case-sensitive) is served by public route "admin-site" (routes[3]) without a token; an upstream that ignores case would serve this route's handler: narrow what serves it if yours does`,
			},
		},
		{
			name: "per host: another port under the global default allow",
			routes: []Route{
				{Name: "admin", Match: route.Spec{Path: "/admin/**", Hosts: []string{"admin.example.com"}}, Auth: protected},
			},
			defaultAllow: true,
			want: []string{
				`routes[0]: GET /admin on host admin.example.com (this route's host on another port, which the routes without hosts govern) matches no route, and "default": "allow" lets it through without a token; an upstream that ignores the port (nginx server_name, Envoy's ignore_port_in_host_matching) would serve this route's handler: list the host's other ports on its routes, or narrow what serves it`,
				`routes[0]: GET /ADMIN on host admin.example.com (another letter case; paths are case-sensitive) matches no route, and "default": "allow" lets it through without a token; an upstream that ignores case would serve this route's handler: narrow what serves it if yours does`,
			},
		},
		{
			name: "per host: a host's own default allow",
			routes: []Route{
				{Name: "admin", Match: route.Spec{Path: "/admin", Methods: []string{"GET"}, Hosts: []string{"admin.example.com"}}, Auth: protected},
				{Name: "api", Match: route.Spec{Path: "/api", Methods: []string{"GET"}, Hosts: []string{"api.example.com"}}, Auth: protected},
			},
			hosts: []Host{{Pattern: "Admin.example.com", DefaultAllow: true}},
			want: []string{
				`routes[0]: GET /ADMIN on host admin.example.com (another letter case; paths are case-sensitive) matches no route, and hosts.Admin.example.com.default "allow" lets it through without a token; an upstream that ignores case would serve this route's handler: narrow what serves it if yours does`,
			},
		},
		{
			name: "variants served by protected routes, or of public routes",
			routes: []Route{
				{Name: "admin", Match: route.Spec{Path: "/admin", Methods: []string{"GET"}}, Auth: protected},
				{Name: "rest", Match: route.Spec{Path: "/**"}, Auth: protected},
				{Name: "docs", Match: route.Spec{Path: "/docs", Methods: []string{"GET"}}, Auth: authn.RouteAuth{Public: true}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, errs := Compile(Config{Providers: idp, Routes: tc.routes, DefaultAllow: tc.defaultAllow, Hosts: tc.hosts})
			if errs != nil {
				t.Fatal(errs)
			}
			got := p.Warnings()
			if len(got) != len(tc.want) {
				t.Fatalf("%d warnings, want %d: %v", len(got), len(tc.want), got)
			}
			for i, w := range got {
				if w.String() != tc.want[i] {
					t.Errorf("warning %d =\n%s\nwant\n%s", i, w, tc.want[i])
				}
			}
		})
	}
}
