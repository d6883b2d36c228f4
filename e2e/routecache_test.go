package e2e

import (
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// TestEnvoyRoutesTheNormalizedPath: Envoy matches its route table again
// after apiguard rewrites :path (the route cache is cleared for ABI 0.2.1
// modules), so a request reaches the route of the path apiguard forwards,
// not of the one the client sent.
func TestEnvoyRoutesTheNormalizedPath(t *testing.T) {
	g := startGateway(t, ordersPolicy(), 1, func(c *host.Config) {
		c.Clock = host.NewFakeClock(jwtNow)
		c.Routes = []host.Route{
			{Name: "health", Path: "/healthz", Cluster: "health_checks"},
			{Name: "orders", Prefix: "/orders/", Cluster: "orders_api"},
		}
	})
	tok := idpKeys()["ES256"].Token(idpClaims())
	tests := []struct {
		name, path             string
		headers                []string
		wantRoute, wantCluster string
		wantPath               string
	}{
		{name: "a double slash Envoy's table does not match", path: "//healthz", wantRoute: "health", wantCluster: "health_checks", wantPath: "/healthz"},
		{name: "dot segments", path: "/orders/./7", headers: bearer(tok), wantRoute: "orders", wantCluster: "orders_api", wantPath: "/orders/7"},
		{name: "a dot-dot inside the prefix", path: "/orders/x/../7", headers: bearer(tok), wantRoute: "orders", wantCluster: "orders_api", wantPath: "/orders/7"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := g.send(request("GET", tc.path, tc.headers...))
			if res.Status != 200 || res.Upstream == nil {
				t.Fatalf("status %d %s", res.Status, res.Body)
			}
			if res.Upstream.Route != tc.wantRoute || res.Upstream.Cluster != tc.wantCluster || upstreamPath(res) != tc.wantPath {
				t.Errorf("reached %s/%s with %s, want %s/%s with %s", res.Upstream.Route, res.Upstream.Cluster, upstreamPath(res),
					tc.wantRoute, tc.wantCluster, tc.wantPath)
			}
		})
	}
}
