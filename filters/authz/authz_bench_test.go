package authz

import (
	"testing"

	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

// BenchmarkDecide is one route's decision alone: Keycloak realm roles, the
// tenant bound to the path, a deny rule on an absent claim.
func BenchmarkDecide(b *testing.B) {
	p := compile(b, `{"allow": {"any_role": ["reader", "admin"], "claims": {"/tenant_id": "{tenant}"}}, "deny": {"claims": {"/suspended": true}}}`, ordersTemplate)
	tok := verified(b, "sub", `"alice"`, "tenant_id", `"acme"`, "realm_access", `{"roles": ["offline_access", "uma_authorization", "reader"]}`, "scope", `"openid profile email"`)
	s := request(b, ordersTemplate, "GET", "/tenants/acme/orders/42", tok)
	// Boxed once, as the glue's headers are.
	var h stage.Headers = headers{{":method", "GET"}, {":path", "/tenants/acme/orders/42"}, {"authorization", "Bearer x"}, {"user-agent", "bench"}}
	w := hosttest.Worker(&hosttest.Host{}, p)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d := p.RequestHeaders(s, s.Begin(h, w)); d.Denied() {
			b.Fatal(d.Reason.Code())
		}
	}
}
