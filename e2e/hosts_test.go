package e2e

import (
	"crypto/elliptic"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

const (
	shopIssuer    = "https://login.shop.example/"
	billingIssuer = "https://login.billing.example/"
)

var (
	shopKey    = sync.OnceValue(func() *jwttest.Key { return jwttest.EC("shop-1", elliptic.P256()) })
	billingKey = sync.OnceValue(func() *jwttest.Key { return jwttest.EC("billing-1", elliptic.P256()) })
)

// twoAPIsPolicy is an ingress gateway's plugin in front of two APIs on two
// hosts, each with its own identity provider and its own routes under the
// same paths, and a status host that lets everything through.
func twoAPIsPolicy() string {
	return fmt.Sprintf(`{
  "providers": {
    "shop-idp": {"issuer": %q, "audiences": ["shop-api"], "jwks": {"inline": %s}, "claim_to_headers": {"sub": "x-auth-sub"}},
    "billing-idp": {"issuer": %q, "audiences": ["billing-api"], "jwks": {"inline": %s}, "claim_to_headers": {"sub": "x-auth-sub"}}
  },
  "routes": [
    {"name": "shop-api", "match": {"path": "/api/**", "hosts": ["shop.example.com"]}, "auth": {"providers": ["shop-idp"]}},
    {"name": "shop-health", "match": {"path": "/healthz", "methods": ["GET"], "hosts": ["shop.example.com"]}, "auth": "none"},
    {"name": "billing-api", "match": {"path": "/api/**", "hosts": ["billing.example.com", "*.billing.example.com"]}, "auth": {"providers": ["billing-idp"]}}
  ],
  "hosts": {"status.example.com": {"default": "allow"}}
}`, shopIssuer, jwttest.JWKS(shopKey()), billingIssuer, jwttest.JWKS(billingKey()))
}

func onHost(authority, method, path string, headerPairs ...string) host.Request {
	req := request(method, path, headerPairs...)
	req.Authority = authority
	return req
}

// TestTwoAPIsOnTwoHostsBehindOnePlugin: the shop's and billing's APIs serve
// /api/** on their own hosts with their own providers. A shop token opens the
// shop API and nothing on billing's host; the same path on billing's host is
// billing's route; a host nobody configured is denied, however the client
// spells the hosts it does know.
func TestTwoAPIsOnTwoHostsBehindOnePlugin(t *testing.T) {
	g := startGateway(t, twoAPIsPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	exp := jwtNow.Add(10 * time.Minute).Unix()
	shopToken := shopKey().Token(jwttest.Claims(shopIssuer, "shop-api", exp, "sub", `"alice"`))
	billingToken := billingKey().Token(jwttest.Claims(billingIssuer, "billing-api", exp, "sub", `"bob"`))

	t.Run("a shop token opens the shop API", func(t *testing.T) {
		res := g.send(onHost("shop.example.com", "GET", "/api/orders/7", bearer(shopToken)...))
		if res.Status != 200 || upstreamHeader(res, "x-auth-sub") != "alice" {
			t.Fatalf("status %d, x-auth-sub %q (body %s)", res.Status, upstreamHeader(res, "x-auth-sub"), res.Body)
		}
	})
	t.Run("the same token is refused on the billing API, same path", func(t *testing.T) {
		expectProblem(t, g.send(onHost("billing.example.com", "GET", "/api/orders/7", bearer(shopToken)...)), 401, "token_issuer")
	})
	t.Run("billing's token opens billing's API, on a tenant's subdomain too", func(t *testing.T) {
		for _, authority := range []string{"billing.example.com", "acme.billing.example.com"} {
			res := g.send(onHost(authority, "POST", "/api/invoices", bearer(billingToken)...))
			if res.Status != 200 || upstreamHeader(res, "x-auth-sub") != "bob" {
				t.Errorf("%s: status %d, x-auth-sub %q", authority, res.Status, upstreamHeader(res, "x-auth-sub"))
			}
		}
		expectProblem(t, g.send(onHost("shop.example.com", "GET", "/api/orders/7", bearer(billingToken)...)), 401, "token_issuer")
	})
	t.Run("a host is the same host in any spelling HTTP allows", func(t *testing.T) {
		for _, authority := range []string{"SHOP.Example.com", "shop.example.com.", "shop.example.com:443"} {
			if res := g.send(onHost(authority, "GET", "/api/orders/7", bearer(shopToken)...)); res.Status != 200 {
				t.Errorf("%s: status %d", authority, res.Status)
			}
			expectProblem(t, g.send(onHost(authority, "GET", "/api/orders/7")), 401, "token_missing")
		}
	})
	t.Run("a host's public route is only its own", func(t *testing.T) {
		if res := g.send(onHost("shop.example.com", "GET", "/healthz")); res.Status != 200 {
			t.Errorf("shop health: status %d", res.Status)
		}
		expectProblem(t, g.send(onHost("billing.example.com", "GET", "/healthz")), 404, "no_route")
	})
	t.Run("an unknown host is denied by default, token or not", func(t *testing.T) {
		for _, authority := range []string{"www.example.com", "example.com", "shop.example.com.evil.com", "billing.example.com:8443"} {
			expectProblem(t, g.send(onHost(authority, "GET", "/api/orders/7", bearer(shopToken)...)), 404, "no_route")
		}
	})
	t.Run("a host with its own default lets everything through", func(t *testing.T) {
		if res := g.send(onHost("status.example.com", "DELETE", "/anything")); res.Status != 200 || upstreamPath(res) != "/anything" {
			t.Errorf("status %d, upstream %q", res.Status, upstreamPath(res))
		}
	})
	t.Run("a malformed authority is a 400 before any route", func(t *testing.T) {
		for _, authority := range []string{"alice@shop.example.com", "shop.example.com,billing.example.com", "shop.example.com:99999"} {
			p := expectProblem(t, g.send(onHost(authority, "GET", "/healthz")), 400, "bad_request")
			if p.Detail == "" {
				t.Errorf("%s: no detail", authority)
			}
		}
	})
	if n, _ := g.env.Metric("apiguard.authn.shop-idp.verified"); n == 0 {
		t.Error("apiguard.authn.shop-idp.verified is 0")
	}
	if n, _ := g.env.Metric("apiguard.requests.denied.token_issuer"); n != 2 {
		t.Errorf("apiguard.requests.denied.token_issuer = %d, want 2 (each API's token on the other's host)", n)
	}
}

func upstreamHeader(res *host.Result, name string) string {
	if res.Upstream == nil {
		return ""
	}
	v, _ := res.Upstream.Headers.Get(name)
	return v
}
