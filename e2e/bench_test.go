package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
	"github.com/apiguard/apiguard/internal/testkit/ordertest"
)

// BenchmarkStream is the per-stream floor every stage is measured against: a
// full stream (context create, request headers, response headers, log, done,
// delete) through the null plugin (a module built the same way that only
// continues) and through apiguard, case by case. Each stream's outcome is
// checked: the status the client sees and whether the upstream was reached.
// `make bench-table` (TestBenchmarkTable) and the V8 host (e2e/v8) run the
// same cases.
func BenchmarkStream(b *testing.B) {
	// floor is the null plugin's ns/op by upstream response and request
	// body size: each apiguard case reports its cost as a ratio to the null
	// plugin's on the same stream shape (x-null).
	type shape struct {
		resp *host.Response
		body int
	}
	floor := map[shape]float64{}
	for _, sc := range streamScenarios() {
		b.Run(sc.name, func(b *testing.B) {
			vm := sc.start(b, nil)
			b.ReportAllocs()
			b.ResetTimer()
			inPlugin := vm.CallbackTime()
			for i := 0; i < b.N; i++ {
				sc.roundTrip(b, vm, i)
			}
			b.StopTimer()
			b.ReportMetric(float64((vm.CallbackTime()-inPlugin).Nanoseconds())/float64(b.N), "plugin-ns/op")
			b.ReportMetric(float64(vm.MemorySize())/(1<<20), "linear-MiB")
			perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			n := len(sc.requests[0].Body)
			if n > 0 {
				b.ReportMetric(perOp/(float64(n)/1024), "ns/KiB")
			}
			if k := (shape{sc.response(), n}); sc.module == "nullplugin.wasm" {
				floor[k] = perOp
			} else if f := floor[k]; f > 0 {
				b.ReportMetric(perOp/f, "x-null")
			}
		})
	}
}

// streamScenario is one case of BenchmarkStream: a module with a filter
// configuration, the requests its streams cycle through, and the status each
// must get. A 2xx went to the upstream; anything else is a local reply that
// must not have.
type streamScenario struct {
	name, module, config string
	requests             []host.Request
	status               int
	// resp is what the upstream answers; nil for benchResponse.
	resp *host.Response
	// prime is how many streams run first, untimed, each answered 200: a
	// rate limit's budget they use up.
	prime int
}

// response is what the upstream answers the scenario's streams.
func (sc streamScenario) response() *host.Response {
	if sc.resp != nil {
		return sc.resp
	}
	return benchResponse
}

// streamScenarios are BenchmarkStream's cases. Add a case here and the
// benchmark, the table in BENCHMARKS.md and the V8 host pick it up.
func streamScenarios() []streamScenario {
	// A route with no policy: hardening off, as the floor of apiguard's own
	// work; hardened is the same route with the default (strict) hardening.
	const passThrough = `{"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none"}], "response": {"security_headers": "off"}}`
	const hardened = `{"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none"}]}`
	// A typical API response: ten headers, two of them leaky.
	tenHeaders := &host.Response{Status: 200, Headers: host.Headers{{"content-type", "application/json"}, {"content-length", "11"},
		{"date", "Wed, 02 Dec 2026 01:00:00 GMT"}, {"server", "nginx"}, {"x-powered-by", "Express"}, {"etag", `"abc123"`},
		{"x-request-id", "4f6c1a2e-9d1b-4a55-8f0e-3b1f6f1e2a77"}, {"vary", "Accept-Encoding"}, {"last-modified", "Tue, 01 Dec 2026 00:00:00 GMT"},
		{"x-ratelimit-remaining", "99"}}}
	// Cold cases cycle through more distinct tokens than the verified-token
	// cache holds, so every request verifies a signature.
	tokens := func(alg string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = idpKeys()[alg].Token(idpClaims("jti", strconv.Quote(strconv.Itoa(i))))
		}
		return out
	}
	cases := []struct {
		name, module, config string
		path                 string
		tokens               []string
		body                 []byte
		status               int
		resp                 *host.Response
		// tls is the connection's session; nil for plaintext.
		tls   *host.TLS
		prime int
	}{
		{name: "null-plugin", module: "nullplugin.wasm", config: "{}", path: "/api/v1/orders/42", status: 200},
		{name: "apiguard-pass-through", module: "plugin.wasm", config: passThrough, path: "/api/v1/orders/42", status: 200},
		{name: "apiguard-1000-routes", module: "plugin.wasm", config: manyRoutes(1000), path: manyRoutesRequest(1000).Path, status: 200},
		{name: "apiguard-no-route-404", module: "plugin.wasm", config: passThrough, path: "/api/v1/customers/42", status: 404},
		// The other denials a flood of bad requests meets: no token, a
		// verified token the route's authorization refuses, a client over
		// its rate limit (one request an hour, the first spent by priming).
		{name: "apiguard-no-token-401", module: "plugin.wasm", config: ordersPolicy(), path: "/orders/42", status: 401},
		{name: "apiguard-authz-403", module: "plugin.wasm", config: authzRoutes(10), path: "/tenants/globex/orders/7", tokens: []string{authzBenchToken()}, status: 403},
		{name: "apiguard-rate-limited-429", module: "plugin.wasm", config: rateLimitedOnce, path: "/api/v1/orders/42", status: 429, prime: 1},
		{name: "null-plugin-10-headers", module: "nullplugin.wasm", config: "{}", path: "/api/v1/orders/42", status: 200, resp: tenHeaders},
		{name: "apiguard-pass-through-10-headers", module: "plugin.wasm", config: passThrough, path: "/api/v1/orders/42", status: 200, resp: tenHeaders},
		{name: "apiguard-hardened-10-headers", module: "plugin.wasm", config: hardened, path: "/api/v1/orders/42", status: 200, resp: tenHeaders},
		{name: "apiguard-jwt-cached", module: "plugin.wasm", config: ordersPolicy(), path: "/orders/42", tokens: tokens("RS256", 1), status: 200},
		{name: "apiguard-jwt-cached-authz-10-routes", module: "plugin.wasm", config: authzRoutes(10), path: "/tenants/acme/orders/7", tokens: []string{authzBenchToken()}, status: 200},
		{name: "apiguard-jwt-cached-authz-1000-routes", module: "plugin.wasm", config: authzRoutes(1000), path: "/tenants/acme/orders/7", tokens: []string{authzBenchToken()}, status: 200},
		// Every stage a typical API route runs: a cached token, its
		// authorization, a per-user local rate limit and the default
		// (strict) hardening of the response.
		{name: "apiguard-full-pipeline", module: "plugin.wasm", config: fullPipeline(), path: "/tenants/acme/orders/7", tokens: []string{authzBenchToken()}, status: 200},
		// A service identity: the properties read and the SPIFFE ID parsed
		// and matched, alone and with the user's cached token.
		{name: "apiguard-peer", module: "plugin.wasm", config: peerRoutes(), path: "/payments", tls: mtls(billingService), status: 200},
		{name: "apiguard-peer-and-jwt-cached", module: "plugin.wasm", config: peerRoutes(), path: "/refunds", tls: mtls(billingService),
			tokens: []string{idpKeys()["ES256"].Token(idpClaims())}, status: 200},
		{name: "apiguard-jwt-cold-RS256", module: "plugin.wasm", config: ordersPolicy(), path: "/orders/42", tokens: tokens("RS256", 1024), status: 200},
		{name: "apiguard-jwt-cold-ES256", module: "plugin.wasm", config: ordersPolicy(), path: "/orders/42", tokens: tokens("ES256", 1024), status: 200},
		{name: "apiguard-jwt-cold-EdDSA", module: "plugin.wasm", config: ordersPolicy(), path: "/orders/42", tokens: tokens("EdDSA", 1024), status: 200},
		{name: "apiguard-jwt-cold-HS256", module: "plugin.wasm", config: ordersPolicy(), path: "/orders/42", tokens: tokens("HS256", 1024), status: 200},
		// Bodies: the floor, a route that does not read them, and JSON
		// validated against a schema, per KiB.
		{name: "null-plugin-body-1KiB", module: "nullplugin.wasm", config: "{}", path: "/api/v1/orders/42", body: ordertest.Body(1 << 10), status: 200},
		{name: "null-plugin-body-64KiB", module: "nullplugin.wasm", config: "{}", path: "/api/v1/orders/42", body: ordertest.Body(64 << 10), status: 200},
		{name: "apiguard-body-unvalidated-1KiB", module: "plugin.wasm", config: passThrough, path: "/api/v1/orders/42", body: ordertest.Body(1 << 10), status: 200},
		// A path parameter and query parameters typed by schemas, one of
		// them a pattern: no body read, so nothing allocated.
		{name: "apiguard-typed-params", module: "plugin.wasm", config: typedParams, path: "/api/v1/orders/42?limit=10&tenant=acme-corp", status: 200},
		{name: "apiguard-validate-json-1KiB", module: "plugin.wasm", config: validatedOrders, path: "/api/v1/orders/42", body: ordertest.Body(1 << 10), status: 200},
		{name: "apiguard-validate-json-64KiB", module: "plugin.wasm", config: validatedOrders, path: "/api/v1/orders/42", body: ordertest.Body(64 << 10), status: 200},
	}
	var out []streamScenario
	for _, c := range cases {
		sc := streamScenario{name: c.name, module: c.module, config: c.config, status: c.status, resp: c.resp, prime: c.prime}
		switch {
		case c.body != nil:
			req := request("PUT", c.path, "user-agent", "bench/1.0", "content-type", "application/json")
			req.Body = c.body
			sc.requests = []host.Request{req}
		case c.tokens != nil:
			for _, tok := range c.tokens {
				sc.requests = append(sc.requests, request("GET", c.path, append(bearer(tok), "user-agent", "bench/1.0")...))
			}
		default:
			sc.requests = []host.Request{request("GET", c.path, "user-agent", "bench/1.0", "accept", "application/json")}
		}
		for i := range sc.requests {
			sc.requests[i].TLS = c.tls
		}
		out = append(out, sc)
	}
	return out
}

// benchNow is the scenarios' fake clock: their tokens are valid then.
var benchNow = jwtNow

// benchResponse is what the upstream answers every scenario.
var benchResponse = &host.Response{Status: 200, Headers: host.Headers{{"content-type", "application/json"}}}

// start loads the scenario's module and configuration into one VM.
func (sc streamScenario) start(tb testing.TB, opt option) *host.VM {
	tb.Helper()
	opts := []option{func(c *host.Config) { c.Clock = host.NewFakeClock(benchNow) }}
	if opt != nil {
		opts = append(opts, opt)
	}
	env, vms, err := load(tb, sc.module, sc.config, 1, opts...)
	if err != nil {
		env.WriteLogs(os.Stderr)
		tb.Fatalf("%s: %v", sc.name, err)
	}
	for i := 0; i < sc.prime; i++ {
		if res := vms[0].RoundTrip(sc.requests[0], upstream); res.Err != nil || res.Status != 200 {
			tb.Fatalf("%s: priming stream %d: status %d, err %v", sc.name, i, res.Status, res.Err)
		}
	}
	return vms[0]
}

// rateLimitedOnce lets each client one request an hour.
const rateLimitedOnce = `{"rate_limit": {"rules": [{"name": "per-peer", "key": ["peer"], "rate": 1, "per": "hour"}]},
  "routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none"}]}`

// fullPipeline is authzRoutes(10) with a per-user rate limit that admits
// every request, and the default hardening.
func fullPipeline() string {
	return strings.Replace(authzRoutes(10), `"routes": [`, `"rate_limit": {"rules": [{"name": "per-user", "key": ["claim:/sub"], "rate": 1000000000, "per": "second", "burst": 1000000000}]},
		"routes": [`, 1)
}

// roundTrip runs stream i and fails unless it had the scenario's outcome.
func (sc streamScenario) roundTrip(tb testing.TB, vm *host.VM, i int) {
	resp := sc.response()
	res := vm.RoundTrip(sc.requests[i%len(sc.requests)], func(*host.UpstreamRequest) *host.Response { return resp })
	if res.Err != nil || res.Status != sc.status || (res.Upstream != nil) != (sc.status < 300) {
		tb.Fatalf("%s: stream %d: status %d (want %d), reached upstream %t, err %v", sc.name, i, res.Status, sc.status, res.Upstream != nil, res.Err)
	}
}

// peerRoutes need the billing service alone, or a service of its namespace
// with a user's token.
func peerRoutes() string {
	return fmt.Sprintf(`{"providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
  "routes": [
    {"name": "payments", "match": {"path": "/payments"}, "auth": "none", "peer": {"spiffe_ids": [%q]}},
    {"name": "refunds", "match": {"path": "/refunds"}, "auth": {"providers": ["idp"]}, "peer": {"spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}}]}`,
		idpIssuer, jwttest.JWKS(idpKeys()["ES256"]), billingService)
}

// validatedOrders validates an order body against ordertest.Schema.
var typedParams = `{"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none",
  "validate": {"path": {"id": {"type": "integer", "minimum": 1}}, "query": {"params": {"limit": {"schema": {"type": "integer", "maximum": 100}},
    "tenant": {"schema": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"}}}}}}]}`

var validatedOrders = `{"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none",
  "validate": {"path": {"id": {"type": "integer"}}, "body": {"max_bytes": 1048576, "schema": ` + ordertest.Schema + `}}}]}`

// BenchmarkRateLimit is the limiter's cost per full stream, against the
// null plugin's: one worker on one key (uncontended), and 2 and 4 workers
// on goroutines hammering one key, with the CAS retry rate. The limit is
// high enough that every request is admitted: the cost measured is the
// admitting path (a read and a compare-and-swap per rule).
func BenchmarkRateLimit(b *testing.B) {
	const limited = `{"rate_limit": {"rules": [{"name": "per-peer", "key": ["peer"], "rate": 1000000000, "per": "second", "burst": 1000000000}]},
		"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none"}]}`
	const limitedNoHeaders = `{"rate_limit": {"headers": "none", "rules": [{"name": "per-peer", "key": ["peer"], "rate": 1000000000, "per": "second", "burst": 1000000000}]},
		"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none"}]}`
	cases := []struct {
		name, module, config string
		workers              int
	}{
		{name: "null-plugin", module: "nullplugin.wasm", config: "{}", workers: 1},
		{name: "null-plugin-4-workers", module: "nullplugin.wasm", config: "{}", workers: 4},
		{name: "uncontended", module: "plugin.wasm", config: limited, workers: 1},
		{name: "uncontended-no-headers", module: "plugin.wasm", config: limitedNoHeaders, workers: 1},
		{name: "one-key-2-workers", module: "plugin.wasm", config: limited, workers: 2},
		{name: "one-key-4-workers", module: "plugin.wasm", config: limited, workers: 4},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			env, vms, err := load(b, bc.module, bc.config, bc.workers, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
			if err != nil {
				b.Fatal(err)
			}
			req := request("GET", "/api/v1/orders/42", "user-agent", "bench/1.0")
			resp := &host.Response{Status: 200, Headers: host.Headers{{"content-type", "application/json"}}}
			up := func(*host.UpstreamRequest) *host.Response { return resp }
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N/len(vms) + 1
			for _, vm := range vms {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < per; i++ {
						if res := vm.RoundTrip(req, up); res.Err != nil || res.Status != 200 {
							b.Error(res.Err, res.Status)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if bc.module == "plugin.wasm" {
				retries, _ := env.Metric("apiguard.ratelimit.per-peer.cas_retries")
				b.ReportMetric(float64(retries)/float64(per*len(vms)), "cas-retries/op")
			}
		})
	}
}

// authzRoutes is a policy of n authorized routes: the tenant's orders
// (roles from Keycloak's realm roles, the tenant bound to the path) and
// n-1 others like it.
func authzRoutes(n int) string {
	routes := []string{`{"name": "tenant-orders", "match": {"path": "/tenants/{tenant}/orders/{id}"}, "auth": {"providers": ["idp"]},
		"authz": {"allow": {"any_role": ["reader", "admin"], "claims": {"/tenant_id": "{tenant}"}}, "deny": {"claims": {"/suspended": true}}}}`}
	for i := 1; i < n; i++ {
		routes = append(routes, fmt.Sprintf(`{"name": "r%d", "match": {"path": "/tenants/{tenant}/things%d/{id}"}, "auth": {"providers": ["idp"]},
			"authz": {"allow": {"any_role": ["reader"], "claims": {"/tenant_id": "{tenant}"}}}}`, i, i))
	}
	return fmt.Sprintf(`{"providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
		"authz": {"roles_from": {"idp": ["/realm_access/roles", "/resource_access/orders-api/roles"]}},
		"routes": [%s]}`, idpIssuer, jwttest.JWKS(idpKeys()["RS256"]), strings.Join(routes, ","))
}

func authzBenchToken() string {
	return idpKeys()["RS256"].Token(idpClaims("tenant_id", `"acme"`, "realm_access", `{"roles": ["offline_access", "uma_authorization", "reader"]}`,
		"resource_access", `{"account": {"roles": ["manage-account", "view-profile"]}}`, "scope", `"openid profile email"`))
}
