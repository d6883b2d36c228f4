package authz

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/spiffe"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// settings say where the identity provider "idp" puts roles: a flat array,
// Keycloak's realm and client roles, a claim literally named "a.b", and a
// space-delimited string.
const settings = `{"roles_from": {"idp": ["/roles", "/realm_access/roles", "/resource_access/orders-api/roles", "/a.b",
	{"claim": "/groups", "space_delimited": true}]}}`

const ordersTemplate = "/tenants/{tenant}/orders/{id}"

var testKey = jwttest.HMAC("k", "HS256", 32)

// verified parses a payload of the given extra claims as a verified token:
// authorization only ever sees such tokens.
func verified(t testing.TB, extra ...string) *jwt.Token {
	t.Helper()
	_, _, tok := checkedToken(t, extra...)
	return tok
}

// checkedToken signs a token of the given extra claims and checks it with
// the verifier it returns, with its raw form.
func checkedToken(t testing.TB, extra ...string) (*jwt.Verifier, string, *jwt.Token) {
	t.Helper()
	v, err := jwt.NewVerifier(jwt.Config{Issuer: "i", Audiences: []string{"a"}, MaxTokenSize: 65536})
	if err != nil {
		t.Fatal(err)
	}
	raw := testKey.Token(jwttest.Claims("i", "a", time.Now().Add(time.Hour).Unix(), extra...))
	tok, d := v.Check(raw, time.Now())
	if d.Denied() {
		t.Fatalf("token refused: %s %s", d.Reason.Code(), d.Detail())
	}
	return v, raw, tok
}

// compile compiles a route's authz field for a route with template tmpl
// accepting the provider idp.
func compile(t testing.TB, policy, tmpl string) *Policy {
	t.Helper()
	return compileWith(t, settings, policy, "idp")
}

// compileWith compiles a route's authz field in a document of its own,
// whose top-level authz field is global, for a route accepting providers.
func compileWith(t testing.TB, global, policy string, providers ...string) *Policy {
	t.Helper()
	r := &config.Reader{}
	g := ReadSettings(r, "authz", gjson.Parse(global))
	st := Compile(r, "routes[0].authz", gjson.Parse(policy), g)
	if errs := r.Errors(); errs != nil {
		t.Fatalf("config errors: %v", errs)
	}
	bound, errs := st.(stage.RouteStage).ForRoute(stage.Route{Name: "orders", Providers: providers})
	if errs != nil {
		t.Fatalf("route errors: %v", errs)
	}
	return bound.(*Policy)
}

type headers [][2]string

func (h headers) Get(name string) string {
	for _, kv := range h {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

func (h headers) All() ([][2]string, error) { return h, nil }

// request is a stream as the pipeline hands it to authorization: the route
// matched on the normalized path, its captures, the verified principal.
func request(t testing.TB, tmpl, method, path string, tok *jwt.Token) *stage.Stream {
	t.Helper()
	table, errs := route.Compile([]route.Spec{{Name: "orders", Path: tmpl}})
	if errs != nil {
		t.Fatal(errs)
	}
	norm, d := route.Normalize(path)
	if d.Denied() {
		t.Fatalf("%s: %s", path, d.Detail())
	}
	s := &stage.Stream{Route: "orders", Method: method, Path: path}
	if i, d := table.Match(route.AnyHost, method, norm.Decoded, &s.Params); i < 0 {
		t.Fatalf("%s %s: %s", method, path, d.Reason.Code())
	}
	if tok != nil {
		s.Principal = authn.Principal{Provider: "idp", Token: tok}
	}
	return s
}

func TestDecisions(t *testing.T) {
	tenantOrders := `{"allow": {"any_role": ["orders:read"], "claims": {"/tenant_id": "{tenant}"}}}`
	manyRoles := make([]string, 2000)
	for i := range manyRoles {
		manyRoles[i] = `"r` + strconv.Itoa(i) + `"`
	}
	huge := "[" + strings.Join(manyRoles, ",") + "]"
	tests := []struct {
		name    string
		policy  string
		method  string
		path    string
		headers headers
		// claims are name, JSON pairs; nil sends no token.
		claims []string
		want   verdict.Reason
	}{
		// Roles from every configured source.
		{name: "flat role", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"roles", `["admin"]`}},
		{name: "flat role missing", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"roles", `["reader"]`}, want: verdict.Forbidden},
		{name: "a role string is one role", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"roles", `"admin reader"`}, want: verdict.Forbidden},
		{name: "nested realm role", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"realm_access", `{"roles": ["x", "admin"]}`}},
		{name: "client role under a dashed name", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"resource_access", `{"orders-api": {"roles": ["admin"]}, "other": {"roles": []}}`}},
		{name: "another client's role does not count", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"resource_access", `{"other": {"roles": ["admin"]}}`}, want: verdict.Forbidden},
		{name: "dotted literal claim name", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"a.b", `["admin"]`}},
		{name: "the nested path a, b is not the literal a.b", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"a", `{"b": ["admin"]}`}, want: verdict.Forbidden},
		{name: "space-delimited source", policy: `{"allow": {"all_roles": ["ops", "admin"]}}`, claims: []string{"groups", `"admin  ops"`}},
		{name: "space-delimited array elements", policy: `{"allow": {"all_roles": ["ops", "admin"]}}`, claims: []string{"groups", `["admin ops"]`}},
		{name: "all_roles across sources", policy: `{"allow": {"all_roles": ["ops", "admin"]}}`, claims: []string{"roles", `["ops"]`, "realm_access", `{"roles": ["admin"]}`}},
		{name: "all_roles one missing", policy: `{"allow": {"all_roles": ["ops", "admin"]}}`, claims: []string{"roles", `["ops", "ops"]`}, want: verdict.Forbidden},
		{name: "non-string entries ignored", policy: `{"allow": {"any_role": ["1"]}}`, claims: []string{"roles", `[1, true, null, {"1": "1"}, ["1"]]`}, want: verdict.Forbidden},
		{name: "non-string entries skipped", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"roles", `[1, {"admin": true}, "admin"]`}},
		{name: "roles are case-sensitive", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"roles", `["Admin", "ADMIN"]`}, want: verdict.Forbidden},
		{name: "claim names are case-sensitive", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"Roles", `["admin"]`}, want: verdict.Forbidden},
		{name: "huge array is bounded and denies", policy: `{"allow": {"any_role": ["r1999"]}}`, claims: []string{"roles", huge}, want: verdict.Forbidden},
		{name: "huge array found early", policy: `{"allow": {"any_role": ["r3"]}}`, claims: []string{"roles", huge}},
		{name: "huge array under a deny still denies", policy: `{"allow": "authenticated", "deny": {"any_role": ["banned"]}}`, claims: []string{"roles", huge}, want: verdict.Forbidden},
		{name: "no token", policy: `{"allow": {"any_role": ["admin"]}}`, want: verdict.Forbidden},
		{name: "authenticated", policy: `{"allow": "authenticated"}`, claims: []string{}},

		// Scopes.
		{name: "scope string", policy: `{"allow": {"scopes": ["orders:read", "orders:write"]}}`, claims: []string{"scope", `"openid orders:write orders:read"`}},
		{name: "scp array", policy: `{"allow": {"scopes": ["orders:read"]}}`, claims: []string{"scp", `["orders:read"]`}},
		{name: "scope missing", policy: `{"allow": {"scopes": ["orders:write"]}}`, claims: []string{"scope", `"orders:read"`}, want: verdict.InsufficientScope},
		{name: "scope prefix is not the scope", policy: `{"allow": {"scopes": ["orders"]}}`, claims: []string{"scope", `"orders:read"`}, want: verdict.InsufficientScope},
		{name: "a scope in not never asks for a scope", policy: `{"allow": {"not": {"scopes": ["legacy"]}}}`, claims: []string{"scope", `"legacy"`}, want: verdict.Forbidden},

		// Claims.
		{name: "equals", policy: `{"allow": {"claims": {"/email_verified": true, "/org": "acme"}}}`, claims: []string{"email_verified", "true", "org", `"acme"`}},
		{name: "equals fails", policy: `{"allow": {"claims": {"/email_verified": true}}}`, claims: []string{"email_verified", `"true"`}, want: verdict.Forbidden},
		{name: "one_of array claim", policy: `{"allow": {"claims": {"/amr": {"one_of": ["mfa", "hwk"]}}}}`, claims: []string{"amr", `["pwd", "hwk"]`}},
		{name: "present", policy: `{"allow": {"claims": {"/act/sub": {"present": true}}}}`, claims: []string{"act", `{"sub": "svc"}`}},
		{name: "present null is absent", policy: `{"allow": {"claims": {"/act": {"present": true}}}}`, claims: []string{"act", `null`}, want: verdict.Forbidden},
		{name: "no token: no claim condition holds, not even absent", policy: `{"allow": {"claims": {"/act": {"absent": true}}}}`, want: verdict.Forbidden},
		{name: "absent", policy: `{"allow": {"claims": {"/act": {"absent": true}}}}`, claims: []string{}},
		{name: "number range", policy: `{"allow": {"claims": {"/level": {"gte": 2, "lt": 5}}}}`, claims: []string{"level", `4`}},
		{name: "number out of range", policy: `{"allow": {"claims": {"/level": {"gte": 2, "lt": 5}}}}`, claims: []string{"level", `5`}, want: verdict.Forbidden},
		{name: "a numeric string is not a number", policy: `{"allow": {"claims": {"/level": {"gt": 1}}}}`, claims: []string{"level", `"4"`}, want: verdict.Forbidden},
		{name: "regex", policy: `{"allow": {"claims": {"/email": {"matches": "@example\\.com$"}}}}`, claims: []string{"email", `"a@example.com"`}},
		{name: "regex no match", policy: `{"allow": {"claims": {"/email": {"matches": "@example\\.com$"}}}}`, claims: []string{"email", `"a@example.com.evil"`}, want: verdict.Forbidden},
		{name: "escaped pointer", policy: `{"allow": {"claims": {"/https:~1~1ex.com~1tier": "gold", "/a~0b": "x"}}}`, claims: []string{"https://ex.com/tier", `"gold"`, "a~b", `"x"`}},

		// Combinators and deny.
		{name: "any", policy: `{"allow": {"any": [{"any_role": ["admin"]}, {"claims": {"/org": "acme"}}]}}`, claims: []string{"org", `"acme"`}},
		{name: "all", policy: `{"allow": {"all": [{"any_role": ["admin"]}, {"claims": {"/org": "acme"}}]}}`, claims: []string{"org", `"acme"`}, want: verdict.Forbidden},
		{name: "not", policy: `{"allow": {"any_role": ["reader"], "not": {"claims": {"/suspended": true}}}}`, claims: []string{"roles", `["reader"]`, "suspended", "true"}, want: verdict.Forbidden},
		{name: "deny wins over allow", policy: `{"allow": {"any_role": ["admin"]}, "deny": {"claims": {"/org": "evil"}}}`, claims: []string{"roles", `["admin"]`, "org", `"evil"`}, want: verdict.Forbidden},
		{name: "deny not matching", policy: `{"allow": {"any_role": ["admin"]}, "deny": {"claims": {"/org": "evil"}}}`, claims: []string{"roles", `["admin"]`, "org", `"acme"`}},
		{name: "deny on a scope never asks for it", policy: `{"allow": "authenticated", "deny": {"scopes": ["guest"]}}`, claims: []string{"scope", `"x"`}},

		// Per method.
		{name: "reader GET", policy: `{"allow": {"any_role": ["reader", "admin"]}, "methods": {"DELETE": {"allow": {"any_role": ["admin"]}}}}`, claims: []string{"roles", `["reader"]`}},
		{name: "reader HEAD is GET", method: "HEAD", policy: `{"allow": {"any_role": ["reader", "admin"]}, "methods": {"DELETE": {"allow": {"any_role": ["admin"]}}}}`, claims: []string{"roles", `["reader"]`}},
		{name: "reader DELETE", method: "DELETE", policy: `{"allow": {"any_role": ["reader", "admin"]}, "methods": {"DELETE": {"allow": {"any_role": ["admin"]}}}}`, claims: []string{"roles", `["reader"]`}, want: verdict.Forbidden},
		{name: "admin DELETE", method: "DELETE", policy: `{"allow": {"any_role": ["reader", "admin"]}, "methods": {"DELETE": {"allow": {"any_role": ["admin"]}}}}`, claims: []string{"roles", `["admin"]`}},
		{name: "method not listed, no route allow", method: "POST", policy: `{"methods": {"GET": {"allow": "authenticated"}}}`, claims: []string{}, want: verdict.Forbidden},
		{name: "route deny applies to listed methods", method: "DELETE", policy: `{"deny": {"claims": {"/org": "evil"}}, "methods": {"DELETE": {"allow": "authenticated"}}}`, claims: []string{"org", `"evil"`}, want: verdict.Forbidden},

		// Object-level binding.
		{name: "own tenant", policy: tenantOrders, path: "/tenants/a/orders/1", claims: []string{"roles", `["orders:read"]`, "tenant_id", `"a"`}},
		{name: "other tenant", policy: tenantOrders, path: "/tenants/b/orders/1", claims: []string{"roles", `["orders:read"]`, "tenant_id", `"a"`}, want: verdict.Forbidden},
		{name: "other tenant percent-encoded", policy: tenantOrders, path: "/tenants/%62/orders/1", claims: []string{"roles", `["orders:read"]`, "tenant_id", `"a"`}, want: verdict.Forbidden},
		{name: "own tenant percent-encoded", policy: tenantOrders, path: "/tenants/%61/orders/1", claims: []string{"roles", `["orders:read"]`, "tenant_id", `"a"`}},
		{name: "other tenant by dot segments", policy: tenantOrders, path: "/tenants/a/../b/orders/1", claims: []string{"roles", `["orders:read"]`, "tenant_id", `"a"`}, want: verdict.Forbidden},
		{name: "tenant case variant", policy: tenantOrders, path: "/tenants/A/orders/1", claims: []string{"roles", `["orders:read"]`, "tenant_id", `"a"`}, want: verdict.Forbidden},
		{name: "tenant array claim", policy: tenantOrders, path: "/tenants/b/orders/1", claims: []string{"roles", `["orders:read"]`, "tenant_id", `["a", "b"]`}},
		{name: "numeric tenant claim is ignored", policy: tenantOrders, path: "/tenants/7/orders/1", claims: []string{"roles", `["orders:read"]`, "tenant_id", `7`}, want: verdict.Forbidden},
		{name: "original-url headers never decide", policy: tenantOrders, path: "/tenants/b/orders/1",
			headers: headers{{"x-original-url", "/tenants/a/orders/1"}, {"x-rewrite-url", "/tenants/a/orders/1"}, {"x-envoy-original-path", "/tenants/a/orders/1"}, {"x-forwarded-prefix", "/tenants/a"}},
			claims:  []string{"roles", `["orders:read"]`, "tenant_id", `"a"`}, want: verdict.Forbidden},
		{name: "bound query parameter", policy: `{"query_params": ["org"], "allow": {"claims": {"/org": "{query:org}"}}}`, path: "/tenants/a/orders/1?org=acme", claims: []string{"org", `"acme"`}},
		{name: "bound query parameter encoded", policy: `{"query_params": ["org"], "allow": {"claims": {"/org": "{query:org}"}}}`, path: "/tenants/a/orders/1?%6Frg=%61cme", claims: []string{"org", `"acme"`}},
		{name: "bound query parameter other", policy: `{"query_params": ["org"], "allow": {"claims": {"/org": "{query:org}"}}}`, path: "/tenants/a/orders/1?org=evil", claims: []string{"org", `"acme"`}, want: verdict.Forbidden},
		{name: "bound query parameter repeated", policy: `{"query_params": ["org"], "allow": {"claims": {"/org": "{query:org}"}}}`, path: "/tenants/a/orders/1?org=acme&org=evil", claims: []string{"org", `"acme"`}, want: verdict.Forbidden},
		{name: "bound query parameter behind a semicolon", policy: `{"query_params": ["org"], "allow": {"claims": {"/org": "{query:org}"}}}`, path: "/tenants/a/orders/1?org=acme&x=1;org=evil", claims: []string{"org", `"acme"`}, want: verdict.Forbidden},
		{name: "bound query parameter with a semicolon", policy: `{"query_params": ["org"], "allow": {"claims": {"/org": "{query:org}"}}}`, path: "/tenants/a/orders/1?org=acme;x", claims: []string{"org", `"acme;x"`}, want: verdict.Forbidden},
		{name: "a semicolon elsewhere in the query is data", policy: `{"query_params": ["org"], "allow": {"claims": {"/org": "{query:org}"}}}`, path: "/tenants/a/orders/1?org=acme&fields=a;b", claims: []string{"org", `"acme"`}},
		{name: "bound query parameter missing", policy: `{"query_params": ["org"], "allow": {"not": {"claims": {"/org": "{query:org}"}}}}`, path: "/tenants/a/orders/1", claims: []string{"org", `"acme"`}, want: verdict.Forbidden},
		{name: "bound query parameter with a plus", policy: `{"query_params": ["org"], "allow": {"claims": {"/org": "{query:org}"}}}`, path: "/tenants/a/orders/1?org=a+b", claims: []string{"org", `"a b"`}, want: verdict.Forbidden},
		{name: "bound header", policy: `{"headers": ["x-org"], "allow": {"claims": {"/org": "{header:x-org}"}}}`, headers: headers{{"x-org", "acme"}}, claims: []string{"org", `"acme"`}},
		{name: "bound header repeated", policy: `{"headers": ["x-org"], "allow": {"claims": {"/org": "{header:x-org}"}}}`, headers: headers{{"x-org", "acme"}, {"x-org", "evil"}}, claims: []string{"org", `"acme"`}, want: verdict.Forbidden},

		// Method override.
		{name: "x-http-method-override refused", policy: `{"allow": "authenticated"}`, headers: headers{{"x-http-method-override", "GET"}}, claims: []string{}, want: verdict.MethodOverride},
		{name: "x-http-method refused", policy: `{"allow": "authenticated"}`, headers: headers{{"x-http-method", "GET"}}, claims: []string{}, want: verdict.MethodOverride},
		{name: "x-method-override refused", policy: `{"allow": "authenticated"}`, headers: headers{{"x-method-override", "GET"}}, claims: []string{}, want: verdict.MethodOverride},
		{name: "_method refused", policy: `{"allow": "authenticated"}`, path: "/tenants/a/orders/1?_method=GET", claims: []string{}, want: verdict.MethodOverride},
		{name: "encoded _method refused", policy: `{"allow": "authenticated"}`, path: "/tenants/a/orders/1?x=1&%5Fmethod=GET", claims: []string{}, want: verdict.MethodOverride},
		{name: "allowed override authorizes the named method", policy: `{"allow_method_override": true, "allow": "authenticated", "methods": {"DELETE": {"allow": {"any_role": ["admin"]}}}}`,
			method: "POST", headers: headers{{"x-http-method-override", "delete"}}, claims: []string{"roles", `["reader"]`}, want: verdict.Forbidden},
		{name: "allowed _method override", policy: `{"allow_method_override": true, "allow": "authenticated", "methods": {"DELETE": {"allow": {"any_role": ["admin"]}}}}`,
			method: "POST", path: "/tenants/a/orders/1?_method=DELETE", claims: []string{"roles", `["admin"]`}},
		{name: "allowed _method override behind a semicolon", policy: `{"allow_method_override": true, "allow": "authenticated", "methods": {"DELETE": {"allow": {"any_role": ["admin"]}}}}`,
			method: "POST", path: "/tenants/a/orders/1?x=1;_method=DELETE", claims: []string{"roles", `["reader"]`}, want: verdict.MethodOverride},
		{name: "conflicting overrides", policy: `{"allow_method_override": true, "allow": "authenticated"}`,
			headers: headers{{"x-http-method-override", "GET"}, {"x-http-method", "DELETE"}}, claims: []string{}, want: verdict.MethodOverride},
		{name: "override that is no method", policy: `{"allow_method_override": true, "allow": "authenticated"}`,
			headers: headers{{"x-http-method-override", "GET /x"}}, claims: []string{}, want: verdict.MethodOverride},

		// Routes always denied.
		{name: "deny_all", policy: `{"deny_all": true}`, claims: []string{"roles", `["admin"]`}, want: verdict.Forbidden},
		{name: "deny_all hidden", policy: `{"deny_all": true, "status": 404}`, want: verdict.NoRoute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, path := tc.method, tc.path
			if method == "" {
				method = "GET"
			}
			if path == "" {
				path = "/tenants/a/orders/1"
			}
			var tok *jwt.Token
			if tc.claims != nil {
				tok = verified(t, tc.claims...)
			}
			p := compile(t, tc.policy, ordersTemplate)
			s := request(t, ordersTemplate, method, path, tok)
			host := &hosttest.Host{}
			w := hosttest.Worker(host, p)
			d := p.RequestHeaders(s, s.Begin(tc.headers, w))
			if d.Reason != tc.want {
				t.Fatalf("%s, want %s", d.Reason.Code(), tc.want.Code())
			}
			if d.Denied() {
				if n := host.Counter("apiguard.authz.orders.denied." + tc.want.Code()); n != 1 {
					t.Errorf("denial counter %d, want 1", n)
				}
				if d.Detail() != "" {
					t.Errorf("detail %q: a denial names no rule", d.Detail())
				}
			}
			if (d.Reason == verdict.InsufficientScope) != (len(d.Headers()) == 1) {
				t.Errorf("headers %q", d.Headers())
			}
			// The token now keeps what the first request read of it: a
			// second request decides the same from that.
			again := request(t, ordersTemplate, method, path, tok)
			if d2 := p.RequestHeaders(again, again.Begin(tc.headers, w)); d2.Reason != d.Reason {
				t.Errorf("the same token's second request: %s, the first's %s", d2.Reason.Code(), d.Reason.Code())
			}
		})
	}
}

// TestDryRunReportsWithoutEnforcing: a route in dry run lets a request it
// would deny through, tells the upstream why in DryRunHeader (replacing
// the client's), logs and counts it; an allowed request only loses a
// forged header.
func TestDryRunReportsWithoutEnforcing(t *testing.T) {
	for _, tc := range []struct {
		name, policy string
		roles        string
		wantReason   verdict.Reason
	}{
		{name: "would deny", policy: `{"dry_run": true, "allow": {"any_role": ["admin"]}}`, roles: `["reader"]`, wantReason: verdict.Forbidden},
		{name: "would deny for a scope", policy: `{"dry_run": true, "allow": {"scopes": ["orders:write"]}}`, roles: `["reader"]`, wantReason: verdict.InsufficientScope},
		{name: "would allow", policy: `{"dry_run": true, "allow": {"any_role": ["admin"]}}`, roles: `["admin"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, tc.policy, ordersTemplate)
			s := request(t, ordersTemplate, "GET", "/tenants/a/orders/1", verified(t, "roles", tc.roles))
			host := &hosttest.Host{}
			d := p.RequestHeaders(s, s.Begin(headers{{DryRunHeader, "none"}}, hosttest.Worker(host, p)))
			if d.Denied() {
				t.Fatalf("denied %s in dry run", d.Reason.Code())
			}
			if len(s.Edits.Remove) != 1 || s.Edits.Remove[0] != DryRunHeader {
				t.Errorf("removes %q, want the client's %s", s.Edits.Remove, DryRunHeader)
			}
			if tc.wantReason == verdict.None {
				if len(s.Edits.Set) != 0 || len(host.Logs()) != 0 {
					t.Errorf("an allowed request: set %q, logs %q", s.Edits.Set, host.Logs())
				}
				return
			}
			code := tc.wantReason.Code()
			if len(s.Edits.Set) != 1 || s.Edits.Set[0] != [2]string{DryRunHeader, code} {
				t.Errorf("sets %q, want %s: %s", s.Edits.Set, DryRunHeader, code)
			}
			if host.Counter("apiguard.authz.orders.dry_run."+code) != 1 || host.Counter("apiguard.authz.orders.denied."+code) != 0 {
				t.Errorf("counters: dry run %d, denied %d", host.Counter("apiguard.authz.orders.dry_run."+code), host.Counter("apiguard.authz.orders.denied."+code))
			}
			if logs := host.Logs(); len(logs) != 1 || !strings.Contains(logs[0], "orders") || !strings.Contains(logs[0], code) || strings.Contains(logs[0], "reader") {
				t.Errorf("logs %q: want one line naming the route and reason, no claim value", logs)
			}
		})
	}
}

// TestInsufficientScopeChallenge: RFC 6750 section 3.1's challenge names
// the scopes the route requires, never the token's.
func TestInsufficientScopeChallenge(t *testing.T) {
	p := compile(t, `{"allow": {"any": [{"any_role": ["admin"]}, {"scopes": ["orders:read", "orders:write"]}]}}`, ordersTemplate)
	s := request(t, ordersTemplate, "GET", "/tenants/a/orders/1", verified(t, "scope", `"orders:read secret:scope"`))
	d := p.RequestHeaders(s, s.Begin(headers{}, hosttest.Worker(&hosttest.Host{}, p)))
	want := [2]string{"www-authenticate", `Bearer realm="apiguard", error="insufficient_scope", scope="orders:read orders:write"`}
	if d.Reason != verdict.InsufficientScope || len(d.Headers()) != 1 || d.Headers()[0] != want {
		t.Errorf("%s %q, want %q", d.Reason.Code(), d.Headers(), want)
	}
}

type unreadable struct{}

func (unreadable) Get(string) string         { return "" }
func (unreadable) All() ([][2]string, error) { return nil, errors.New("host call failed") }

// TestUnreadableHeadersFailClosed: a host that cannot give the headers (to
// look for method overrides) fails the request closed, in dry run too.
func TestUnreadableHeadersFailClosed(t *testing.T) {
	for _, policy := range []string{`{"allow": "authenticated"}`, `{"allow": "authenticated", "dry_run": true}`} {
		p := compile(t, policy, ordersTemplate)
		s := request(t, ordersTemplate, "GET", "/tenants/a/orders/1", verified(t))
		if d := p.RequestHeaders(s, s.Begin(unreadable{}, hosttest.Worker(&hosttest.Host{}, p))); d.Reason != verdict.Internal {
			t.Errorf("%s: %s, want internal", policy, d.Reason.Code())
		}
	}
}

// TestPeersCondition: a peers condition matches the service identity the
// route's peer requirement verified (stage.Stream.Peer), alone or with the
// user's claims, in allow and in deny.
func TestPeersCondition(t *testing.T) {
	const (
		billing  = "spiffe://cluster.local/ns/orders/sa/billing"
		shipping = "spiffe://cluster.local/ns/shipping/sa/shipping"
		batch    = "spiffe://cluster.local/ns/orders/sa/batch"
	)
	for _, tc := range []struct {
		name, policy, peer string
		claims             []string
		want               verdict.Reason
	}{
		{name: "the listed service", policy: `{"allow": {"peers": {"spiffe_ids": ["` + billing + `"]}}}`, peer: billing},
		{name: "another service", policy: `{"allow": {"peers": {"spiffe_ids": ["` + billing + `"]}}}`, peer: shipping, want: verdict.Forbidden},
		{name: "no verified peer", policy: `{"allow": {"peers": {"trust_domains": ["cluster.local"]}}}`, want: verdict.Forbidden},
		{name: "a prefix on a segment boundary", policy: `{"allow": {"peers": {"spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}}}`, peer: batch},
		{name: "the service for an admin", policy: `{"allow": {"peers": {"spiffe_ids": ["` + billing + `"]}, "any_role": ["admin"]}}`,
			peer: billing, claims: []string{"roles", `["admin"]`}},
		{name: "the service for a reader", policy: `{"allow": {"peers": {"spiffe_ids": ["` + billing + `"]}, "any_role": ["admin"]}}`,
			peer: billing, claims: []string{"roles", `["reader"]`}, want: verdict.Forbidden},
		{name: "a service or an admin: the admin", policy: `{"allow": {"any": [{"peers": {"spiffe_ids": ["` + billing + `"]}}, {"any_role": ["admin"]}]}}`,
			claims: []string{"roles", `["admin"]`}},
		{name: "a denied service", policy: `{"allow": {"peers": {"trust_domains": ["cluster.local"]}}, "deny": {"peers": {"spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}}}`,
			peer: batch, want: verdict.Forbidden},
		{name: "a service the deny does not name", policy: `{"allow": {"peers": {"trust_domains": ["cluster.local"]}}, "deny": {"peers": {"spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}}}`,
			peer: shipping},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &config.Reader{}
			st := Compile(r, "routes[0].authz", gjson.Parse(tc.policy), ReadSettings(r, "authz", gjson.Parse(settings)))
			if errs := r.Errors(); errs != nil {
				t.Fatal(errs)
			}
			bound, errs := st.(stage.RouteStage).ForRoute(stage.Route{Name: "orders", Providers: []string{"idp"}, Peer: true})
			if errs != nil {
				t.Fatal(errs)
			}
			var tok *jwt.Token
			if tc.claims != nil {
				tok = verified(t, tc.claims...)
			}
			s := request(t, ordersTemplate, "GET", "/tenants/a/orders/1", tok)
			if tc.peer != "" {
				s.Peer, _ = spiffe.Parse(tc.peer)
			}
			if d := bound.RequestHeaders(s, s.Begin(headers{}, hosttest.Worker(&hosttest.Host{}, bound))); d.Reason != tc.want {
				t.Errorf("%s, want %s", d.Reason.Code(), tc.want.Code())
			}
		})
	}
}
