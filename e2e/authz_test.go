package e2e

import (
	"fmt"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// tenantsPolicy is a multi-tenant orders API: readers and admins of a tenant
// read its orders, only admins delete them, nobody reaches /admin, /internal
// hides that it exists, and a new reports policy runs in dry run first.
func tenantsPolicy() string {
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
  "authz": {"roles_from": {"idp": ["/realm_access/roles", "/resource_access/orders-api/roles"]}},
  "routes": [
    {"name": "tenant-orders", "match": {"path": "/tenants/{tenant}/orders/{id}", "methods": ["GET", "DELETE"]},
     "auth": {"providers": ["idp"]},
     "authz": {
       "allow": {"any_role": ["reader", "admin"], "claims": {"/tenant_id": "{tenant}"}},
       "methods": {"DELETE": {"allow": {"any_role": ["admin"], "claims": {"/tenant_id": "{tenant}"}}}}
     }},
    {"name": "tenant-exports", "match": {"path": "/tenants/{tenant}/exports", "methods": ["POST"]},
     "auth": {"providers": ["idp"]},
     "authz": {"allow": {"scopes": ["orders:export"], "claims": {"/tenant_id": "{tenant}"}}}},
    {"name": "tenant-reports", "match": {"path": "/tenants/{tenant}/reports"}, "auth": {"providers": ["idp"]},
     "authz": {"dry_run": true, "allow": {"any_role": ["analyst"], "claims": {"/tenant_id": "{tenant}"}}}},
    {"name": "admin", "match": {"path": "/admin/**"}, "auth": "none", "authz": {"deny_all": true}},
    {"name": "internal", "match": {"path": "/internal/**"}, "auth": "none", "authz": {"deny_all": true, "status": 404}}
  ]
}`, idpIssuer, jwttest.JWKS(idpKeys()["ES256"]))
}

// tenantToken is a token of a user of tenant with Keycloak realm roles.
func tenantToken(tenant, roles string, extra ...string) []string {
	claims := append([]string{"tenant_id", `"` + tenant + `"`, "realm_access", `{"roles": ` + roles + `}`}, extra...)
	return bearer(idpKeys()["ES256"].Token(idpClaims(claims...)))
}

func TestATenantsReaderReadsButCannotDelete(t *testing.T) {
	g := startGateway(t, tenantsPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	reader, admin := tenantToken("acme", `["reader"]`), tenantToken("acme", `["admin"]`)

	if res := g.send(request("GET", "/tenants/acme/orders/7", reader...)); res.Status != 200 || res.Upstream == nil {
		t.Errorf("reader GET: status %d %s", res.Status, res.Body)
	}
	if res := g.send(request("HEAD", "/tenants/acme/orders/7", reader...)); res.Status != 200 || res.Upstream == nil {
		t.Errorf("reader HEAD (checked as GET): status %d", res.Status)
	}
	expectProblem(t, g.send(request("DELETE", "/tenants/acme/orders/7", reader...)), 403, "forbidden")
	if res := g.send(request("DELETE", "/tenants/acme/orders/7", admin...)); res.Status != 200 || res.Upstream == nil {
		t.Errorf("admin DELETE: status %d %s", res.Status, res.Body)
	}
	// A reader cannot turn a GET into a DELETE for an upstream that honours
	// override headers.
	expectProblem(t, g.send(request("GET", "/tenants/acme/orders/7", append(reader, "x-http-method-override", "DELETE")...)), 400, "method_override")
	expectProblem(t, g.send(request("GET", "/tenants/acme/orders/7?_method=DELETE", reader...)), 400, "method_override")
	if n, _ := g.env.Metric("apiguard.authz.tenant-orders.denied.forbidden"); n != 1 {
		t.Errorf("forbidden counter %d, want 1", n)
	}
	if n, _ := g.env.Metric("apiguard.authz.tenant-orders.denied.method_override"); n != 2 {
		t.Errorf("method_override counter %d, want 2", n)
	}
}

func TestATenantCannotReadAnotherTenantsOrders(t *testing.T) {
	g := startGateway(t, tenantsPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	acmeAdmin := tenantToken("acme", `["admin"]`)
	for _, tc := range []struct{ name, path string }{
		{"globex's URL", "/tenants/globex/orders/7"},
		{"percent-encoded", "/tenants/%67lobex/orders/7"},
		{"dot segments", "/tenants/acme/../globex/orders/7"},
		{"encoded dot segments", "/tenants/acme/%2e%2e/globex/orders/7"},
		{"another letter case", "/tenants/ACME/orders/7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := expectProblem(t, g.send(request("GET", tc.path, acmeAdmin...)), 403, "forbidden")
			if p.Detail != "" {
				t.Errorf("detail %q: a denial names no rule or claim", p.Detail)
			}
		})
	}
	t.Run("headers naming another URL never decide", func(t *testing.T) {
		originals := []string{"x-original-url", "/tenants/acme/orders/7", "x-rewrite-url", "/tenants/acme/orders/7",
			"x-envoy-original-path", "/tenants/acme/orders/7", "x-forwarded-prefix", "/tenants/acme"}
		expectProblem(t, g.send(request("GET", "/tenants/globex/orders/7", append(acmeAdmin, originals...)...)), 403, "forbidden")
		res := g.send(request("GET", "/tenants/acme/orders/7", append(acmeAdmin,
			"x-original-url", "/tenants/globex/orders/7", "x-envoy-original-path", "/tenants/globex/orders/7")...))
		if res.Status != 200 {
			t.Errorf("own tenant with foreign original-URL headers: status %d", res.Status)
		}
	})
}

func TestAMissingScopeIsChallenged(t *testing.T) {
	g := startGateway(t, tenantsPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	res := g.send(request("POST", "/tenants/acme/exports", tenantToken("acme", `[]`, "scope", `"openid orders:read"`)...))
	expectProblem(t, res, 403, "insufficient_scope")
	if c, _ := res.Headers.Get("www-authenticate"); c != `Bearer realm="apiguard", error="insufficient_scope", scope="orders:export"` {
		t.Errorf("www-authenticate %q", c)
	}
	if res := g.send(request("POST", "/tenants/acme/exports", tenantToken("acme", `[]`, "scope", `"openid orders:export"`)...)); res.Status != 200 {
		t.Errorf("with the scope: status %d %s", res.Status, res.Body)
	}
}

func TestClosedRoutesNeverReachTheUpstream(t *testing.T) {
	g := startGateway(t, tenantsPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	expectProblem(t, g.send(request("GET", "/admin/users", tenantToken("acme", `["admin"]`)...)), 403, "forbidden")
	expectProblem(t, g.send(request("POST", "/admin", "content-type", "application/json")), 403, "forbidden")
	// Hidden: the same answer as a path no route serves.
	hidden := expectProblem(t, g.send(request("GET", "/internal/debug/vars")), 404, "no_route")
	missing := expectProblem(t, g.send(request("GET", "/nothing/here")), 404, "no_route")
	if hidden != missing {
		t.Errorf("a hidden route answers %+v, a missing one %+v", hidden, missing)
	}
	if n, _ := g.env.Metric("apiguard.authz.admin.denied.forbidden"); n != 2 {
		t.Errorf("admin denials counted %d, want 2", n)
	}
}

func TestADryRunPolicyReportsWhatItWouldDeny(t *testing.T) {
	g := startGateway(t, tenantsPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	res := g.send(request("GET", "/tenants/acme/reports", tenantToken("acme", `["reader"]`)...))
	if res.Status != 200 || res.Upstream == nil {
		t.Fatalf("status %d: a dry-run policy must not deny", res.Status)
	}
	if h, _ := res.Upstream.Headers.Get("x-apiguard-dry-run"); h != "forbidden" {
		t.Errorf("upstream x-apiguard-dry-run %q, want forbidden", h)
	}
	if !logged(g.env, "authz dry run: route tenant-reports would deny the request: forbidden") {
		t.Errorf("no dry-run log line")
	}
	if n, _ := g.env.Metric("apiguard.authz.tenant-reports.dry_run.forbidden"); n != 1 {
		t.Errorf("dry-run counter %d, want 1", n)
	}
	// A client cannot forge the report, nor hide one.
	res = g.send(request("GET", "/tenants/acme/reports", append(tenantToken("acme", `["analyst"]`), "x-apiguard-dry-run", "forbidden")...))
	if _, forged := res.Upstream.Headers.Get("x-apiguard-dry-run"); res.Status != 200 || forged {
		t.Errorf("an allowed request: status %d, the client's x-apiguard-dry-run reached the upstream: %v", res.Status, forged)
	}
	res = g.send(request("GET", "/tenants/globex/reports", append(tenantToken("acme", `["analyst"]`), "x-apiguard-dry-run", "none")...))
	if h := res.Upstream.Headers.Values("x-apiguard-dry-run"); len(h) != 1 || h[0] != "forbidden" {
		t.Errorf("another tenant's reports: upstream x-apiguard-dry-run %q, want only forbidden", h)
	}
}
