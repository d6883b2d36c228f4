package pipeline

import (
	"crypto/elliptic"
	"fmt"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// BenchmarkLoad is what on_configure costs for a policy of 1,000 routes:
// Envoy runs it on every worker at every configuration push. "plain" are
// public routes, each with its own literal prefix and a path parameter (the
// e2e start-up scenario apiguard-1000-routes); "authz" are token routes with
// role and claim conditions (the stream scenario
// apiguard-jwt-cached-authz-1000-routes).
func BenchmarkLoad(b *testing.B) {
	const n = 1000
	k := jwttest.EC("k", elliptic.P256())
	for _, bc := range []struct {
		name string
		raw  []byte
	}{
		{name: "plain", raw: plainRoutes(n)},
		{name: "authz", raw: authzRoutes(n, string(jwttest.JWKS(k)))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, errs := Load(bc.raw); errs != nil {
					b.Fatal(errs)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/route")
		})
	}
}

func plainRoutes(n int) []byte {
	routes := make([]string, n)
	for i := range routes {
		routes[i] = fmt.Sprintf(`{"name": "svc%d", "match": {"path": "/svc%d/items/{id}", "methods": ["GET"]}, "auth": "none"}`, i, i)
	}
	return []byte(`{"routes": [` + strings.Join(routes, ",\n") + `]}`)
}

func authzRoutes(n int, jwks string) []byte {
	routes := []string{`{"name": "tenant-orders", "match": {"path": "/tenants/{tenant}/orders/{id}"}, "auth": {"providers": ["idp"]},
		"authz": {"allow": {"any_role": ["reader", "admin"], "claims": {"/tenant_id": "{tenant}"}}, "deny": {"claims": {"/suspended": true}}}}`}
	for i := 1; i < n; i++ {
		routes = append(routes, fmt.Sprintf(`{"name": "r%d", "match": {"path": "/tenants/{tenant}/things%d/{id}"}, "auth": {"providers": ["idp"]},
			"authz": {"allow": {"any_role": ["reader"], "claims": {"/tenant_id": "{tenant}"}}}}`, i, i))
	}
	return []byte(fmt.Sprintf(`{"providers": {"idp": {"issuer": "https://idp.example.com/", "audiences": ["orders-api"], "jwks": {"inline": %s}}},
		"authz": {"roles_from": {"idp": ["/realm_access/roles", "/resource_access/orders-api/roles"]}},
		"routes": [%s]}`, jwks, strings.Join(routes, ",")))
}

// TestLoadAllocatesLessThanOncePerRoute: a route's short lists (its
// methods, segments, stages) come from shared blocks, not an allocation
// each, which in wasm, with the collections they brought on, were a fifth
// of configuring 1,000 routes.
func TestLoadAllocatesLessThanOncePerRoute(t *testing.T) {
	const n = 1000
	raw := plainRoutes(n)
	allocs := testing.AllocsPerRun(3, func() {
		if _, errs := Load(raw); errs != nil {
			t.Fatal(errs)
		}
	})
	if allocs >= n {
		t.Fatalf("%v allocations to load %d routes", allocs, n)
	}
}
