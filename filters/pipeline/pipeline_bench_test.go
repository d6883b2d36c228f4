package pipeline

import (
	"crypto/elliptic"
	"fmt"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

func BenchmarkRequest(b *testing.B) {
	p, errs := Compile(Config{Routes: []Route{{Name: "orders", Match: route.Spec{Path: "/api/v1/orders/{id}"}, Auth: authn.RouteAuth{Public: true}}}})
	if errs != nil {
		b.Fatal(errs)
	}
	benchRequests(b, p, headers{{":method", "GET"}, {":path", "/api/v1/orders/42"}, {":authority", "api.example.com"}})
}

// BenchmarkRequestJWTCached is a request with a token the cache has seen.
func BenchmarkRequestJWTCached(b *testing.B) {
	k := jwttest.EC("k", elliptic.P256())
	p, errs := Load([]byte(fmt.Sprintf(`{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": %s},
		"claim_to_headers": {"sub": "x-auth-sub"}}},
		"routes": [{"name": "orders", "match": {"path": "/orders/{id}"}, "auth": {"providers": ["idp"]}}]}`, jwttest.JWKS(k))))
	if errs != nil {
		b.Fatal(errs)
	}
	tok := k.Token(jwttest.Claims("i", "a", time.Now().Add(time.Hour).Unix(), "sub", `"alice"`))
	benchRequests(b, p, headers{{":method", "GET"}, {":path", "/orders/42"}, {":authority", "api.example.com"}, {"authorization", "Bearer " + tok}})
}

// benchRequests runs one allowed request per iteration, as the glue does:
// one Stream reused, the headers boxed once (the glue's zero-size reader
// costs nothing to box).
func benchRequests(b *testing.B, p *Pipeline, h stage.Headers) {
	w := p.NewWorker(&hosttest.Host{})
	var s stage.Stream
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d := p.RequestHeaders(&s, h, w); d.Denied() {
			b.Fatal(d)
		}
		s.Reset()
	}
}

// BenchmarkRequestAuthz is BenchmarkRequestJWTCached with authorization:
// Keycloak realm roles and the tenant bound to the path, on a table of 10
// and of 1,000 such routes (the cost must not grow with the table).
func BenchmarkRequestAuthz(b *testing.B) {
	k := jwttest.EC("k", elliptic.P256())
	tok := k.Token(jwttest.Claims("i", "a", time.Now().Add(time.Hour).Unix(), "sub", `"alice"`, "tenant_id", `"acme"`,
		"realm_access", `{"roles": ["offline_access", "uma_authorization", "reader"]}`, "scope", `"openid profile email"`))
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			routes := `{"name": "orders", "match": {"path": "/tenants/{tenant}/orders/{id}"}, "auth": {"providers": ["idp"]},
				"authz": {"allow": {"any_role": ["reader", "admin"], "claims": {"/tenant_id": "{tenant}"}}, "deny": {"claims": {"/suspended": true}}}}`
			for i := 1; i < n; i++ {
				routes += fmt.Sprintf(`, {"name": "r%d", "match": {"path": "/tenants/{tenant}/things%d/{id}"}, "auth": {"providers": ["idp"]},
					"authz": {"allow": {"any_role": ["reader"], "claims": {"/tenant_id": "{tenant}"}}}}`, i, i)
			}
			p, errs := Load([]byte(fmt.Sprintf(`{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": %s}}},
				"authz": {"roles_from": {"idp": ["/realm_access/roles", "/resource_access/orders-api/roles"]}},
				"routes": [%s]}`, jwttest.JWKS(k), routes)))
			if errs != nil {
				b.Fatal(errs)
			}
			benchRequests(b, p, headers{{":method", "GET"}, {":path", "/tenants/acme/orders/42"}, {":authority", "api.example.com"}, {"authorization", "Bearer " + tok}})
		})
	}
}
