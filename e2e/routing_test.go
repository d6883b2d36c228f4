package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apiguard/apiguard/internal/testkit/pipelinetest"
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

// TestRoutingAndPathNormalization runs the pipeline's behaviour table through
// plugin.wasm: the :authority picks the host's routes, routes match most
// specific first and check the method; the
// tricks used to reach a route the policy does not allow (dot segments, encoded
// separators, //, ;params, NUL, double encoding, overlong UTF-8) are rejected
// or normalized before matching; and the upstream receives the normalized
// path that was authorized.
func TestRoutingAndPathNormalization(t *testing.T) {
	table, err := pipelinetest.Load("../filters/pipeline/testdata/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, string(table.Policy), 1)
	for _, tc := range table.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			req := request(tc.Method, tc.Path)
			req.Authority, req.Scheme = tc.Target()
			res := g.send(req)
			if tc.Reason != "" {
				expectProblem(t, res, tc.Status, tc.Reason)
				if allow, _ := res.Headers.Get("allow"); allow != tc.Allow {
					t.Errorf("allow %q, want %q", allow, tc.Allow)
				}
				return
			}
			if res.Status != tc.Status || upstreamPath(res) != tc.UpstreamPath {
				t.Errorf("status %d upstream %q, want %d and %q", res.Status, upstreamPath(res), tc.Status, tc.UpstreamPath)
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

// TestNearMissesOfProtectedRoutesAreLoggedAtStart: the routing table protects
// GET /shop/admin next to a public /shop/**, so the plugin starts (a warning
// never refuses a policy) and logs, at warn level with the route's JSON path,
// that another case and other methods reach the public route; a policy
// without such gaps logs no warning.
func TestNearMissesOfProtectedRoutesAreLoggedAtStart(t *testing.T) {
	table, err := pipelinetest.Load("../filters/pipeline/testdata/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, string(table.Policy), 1)
	var warnings []string
	for _, l := range g.env.Logs() {
		if w, ok := strings.CutPrefix(l.Message, "apiguard: configuration warning: "); ok && l.Level.String() == "warn" {
			warnings = append(warnings, w)
		}
	}
	for _, want := range []string{
		`routes[4]: GET /shop/ADMIN (another letter case; paths are case-sensitive) is served by public route "shop" (routes[5]) without a token`,
		`routes[4]: POST, PUT, PATCH, DELETE, OPTIONS /shop/admin (a method this route does not list) is served by public route "shop" (routes[5]) without a token`,
	} {
		if !slices.ContainsFunc(warnings, func(w string) bool { return strings.HasPrefix(w, want) }) {
			t.Errorf("no warning %q in %q", want, warnings)
		}
	}
	quiet := startGateway(t, ordersAPI, 1)
	for _, l := range quiet.env.Logs() {
		if l.Level.String() != "trace" && l.Level.String() != "debug" && l.Level.String() != "info" {
			t.Errorf("logged %s: %s", l.Level, l.Message)
		}
	}
}
