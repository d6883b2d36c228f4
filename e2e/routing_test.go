package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// ordersAPI is the policy of a small orders service.
const ordersAPI = `{
  "routes": [
    {"name": "health", "match": {"path": "/healthz", "methods": ["GET"]}, "auth": "none"},
    {"name": "public-docs", "match": {"path": "/public/**", "methods": ["GET"]}, "auth": "none"},
    {"name": "order", "match": {"path": "/api/v1/orders/{order_id}", "methods": ["GET", "PUT"]}, "auth": "none"},
    {"name": "my-orders", "match": {"path": "/api/v1/orders/mine", "methods": ["GET"]}, "auth": "none"}
  ]
}`

func TestAnUnknownRouteIsDeniedWithAProblemBody(t *testing.T) {
	g := startGateway(t, ordersAPI, 1)
	res := g.send(request("GET", "/admin/users?token=secret-value", "authorization", "Bearer abc.def.ghi"))
	p := expectProblem(t, res, 404, "no_route")
	for _, leaked := range []string{"admin", "secret-value", "abc.def"} {
		if strings.Contains(string(res.Body), leaked) {
			t.Errorf("problem body echoes request data %q: %s", leaked, res.Body)
		}
	}
	if p.Title != "No route matches the request" {
		t.Errorf("title %q", p.Title)
	}
	if cc, _ := res.Headers.Get("cache-control"); cc != "no-store" {
		t.Errorf("cache-control %q, want no-store", cc)
	}
	if n, _ := g.env.Metric("apiguard.requests.denied.no_route"); n != 1 {
		t.Errorf("apiguard.requests.denied.no_route = %d, want 1", n)
	}
}

func TestRoutesMatchMostSpecificFirstAndCheckTheMethod(t *testing.T) {
	g := startGateway(t, ordersAPI, 1)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantAllow          string
	}{
		{name: "exact route", method: "GET", path: "/healthz", wantStatus: 200},
		{name: "template route", method: "PUT", path: "/api/v1/orders/42", wantStatus: 200},
		{name: "literal beats template regardless of order", method: "GET", path: "/api/v1/orders/mine", wantStatus: 200},
		{name: "HEAD is allowed where GET is", method: "HEAD", path: "/healthz", wantStatus: 200},
		{name: "method not on the route", method: "DELETE", path: "/api/v1/orders/42", wantStatus: 405, wantAllow: "GET, HEAD, PUT"},
		{name: "glob covers everything below", method: "GET", path: "/public/css/site.css", wantStatus: 200},
		{name: "template does not span segments", method: "GET", path: "/api/v1/orders/42/items", wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := g.send(request(tc.method, tc.path))
			if res.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", res.Status, tc.wantStatus, res.Body)
			}
			if tc.wantAllow != "" {
				expectProblem(t, res, 405, "method_not_allowed")
				if allow, _ := res.Headers.Get("allow"); allow != tc.wantAllow {
					t.Errorf("allow %q, want %q", allow, tc.wantAllow)
				}
			}
		})
	}
}

// TestPathNormalizationBypasses shows that the tricks used to reach a route
// the policy does not allow are either rejected or normalized before matching,
// and that the upstream receives the normalized path that was authorized.
func TestPathNormalizationBypasses(t *testing.T) {
	g := startGateway(t, ordersAPI, 1)
	tests := []struct {
		name       string
		path       string
		wantStatus int
		// wantUpstream is the :path the upstream received ("" when denied).
		wantUpstream string
		wantReason   string
	}{
		{name: "dot-dot out of a public prefix", path: "/public/../admin", wantStatus: 404, wantReason: "no_route"},
		{name: "dot-dot inside a public prefix", path: "/public/a/../b", wantStatus: 200, wantUpstream: "/public/b"},
		{name: "encoded dot-dot", path: "/public/%2e%2e/admin", wantStatus: 404, wantReason: "no_route"},
		{name: "mixed-case encoded dot-dot", path: "/public/%2E%2e/admin", wantStatus: 404, wantReason: "no_route"},
		{name: "encoded slash", path: "/public/..%2fadmin", wantStatus: 400, wantReason: "bad_path"},
		{name: "encoded backslash", path: "/public/..%5cadmin", wantStatus: 400, wantReason: "bad_path"},
		{name: "double slash", path: "//admin", wantStatus: 404, wantReason: "no_route"},
		{name: "double slash into a route", path: "//healthz", wantStatus: 200, wantUpstream: "/healthz"},
		{name: "matrix parameter", path: "/healthz;x=1", wantStatus: 200, wantUpstream: "/healthz"},
		{name: "matrix parameter hiding a segment", path: "/public;/../admin", wantStatus: 404, wantReason: "no_route"},
		{name: "encoded NUL", path: "/healthz%00.json", wantStatus: 400, wantReason: "bad_path"},
		{name: "double encoding", path: "/public/%252e%252e/admin", wantStatus: 400, wantReason: "bad_path"},
		{name: "overlong UTF-8 dot", path: "/public/%c0%ae%c0%ae/admin", wantStatus: 400, wantReason: "bad_path"},
		{name: "query is kept byte for byte", path: "/public/./a?x=%2e%2e&y=1", wantStatus: 200, wantUpstream: "/public/a?x=%2e%2e&y=1"},
		{name: "not origin-form", path: "http://evil.example/healthz", wantStatus: 400, wantReason: "bad_path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := g.send(request("GET", tc.path))
			if tc.wantReason != "" {
				expectProblem(t, res, tc.wantStatus, tc.wantReason)
				return
			}
			if res.Status != tc.wantStatus || upstreamPath(res) != tc.wantUpstream {
				t.Errorf("status %d upstream %q, want %d and %q", res.Status, upstreamPath(res), tc.wantStatus, tc.wantUpstream)
			}
		})
	}
}

func TestDefaultAllowLetsUnmatchedRequestsThrough(t *testing.T) {
	g := startGateway(t, `{"routes": [], "default": "allow"}`, 1)
	if res := g.send(request("GET", "/anything")); res.Status != 200 || upstreamPath(res) != "/anything" {
		t.Fatalf("status %d upstream %q", res.Status, upstreamPath(res))
	}
	// Normalization still applies to requests no route governs.
	expectProblem(t, g.send(request("GET", "/a%2fb")), 400, "bad_path")
}

func TestTwoWorkersServeConcurrentlyAndShareStats(t *testing.T) {
	g := startGateway(t, ordersAPI, 2)
	const perWorker = 200
	var wg sync.WaitGroup
	for w := range g.vms {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				path := fmt.Sprintf("/api/v1/orders/%d", i)
				if i%4 == 0 {
					path = "/nope"
				}
				g.sendOn(w, request("GET", path))
			}
		}(w)
	}
	wg.Wait()
	allowed, _ := g.env.Metric("apiguard.requests.allowed")
	denied, _ := g.env.Metric("apiguard.requests.denied.no_route")
	if allowed != 2*perWorker*3/4 || denied != 2*perWorker/4 {
		t.Errorf("allowed=%d denied=%d across both workers, want %d and %d", allowed, denied, 2*perWorker*3/4, 2*perWorker/4)
	}
}
