package e2e

import (
	"strconv"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// BenchmarkStream is the per-stream floor every stage is measured against: a
// full stream (context create, request headers, response headers, log, done,
// delete) through the null plugin (a module built the same way that only
// continues) and through apiguard on a route with no policies.
func BenchmarkStream(b *testing.B) {
	const passThrough = `{"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none"}]}`
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
	}{
		{name: "null-plugin", module: "nullplugin.wasm", config: "{}", path: "/api/v1/orders/42"},
		{name: "apiguard-pass-through", module: "plugin.wasm", config: passThrough, path: "/api/v1/orders/42"},
		{name: "apiguard-no-route-404", module: "plugin.wasm", config: passThrough, path: "/api/v1/customers/42"},
		{name: "apiguard-jwt-cached", module: "plugin.wasm", config: ordersPolicy(), path: "/orders/42", tokens: tokens("RS256", 1)},
		{name: "apiguard-jwt-cold-RS256", module: "plugin.wasm", config: ordersPolicy(), path: "/orders/42", tokens: tokens("RS256", 1024)},
		{name: "apiguard-jwt-cold-ES256", module: "plugin.wasm", config: ordersPolicy(), path: "/orders/42", tokens: tokens("ES256", 1024)},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			_, vms, err := load(b, bc.module, bc.config, 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
			if err != nil {
				b.Fatal(err)
			}
			vm := vms[0]
			reqs := []host.Request{request("GET", bc.path, "user-agent", "bench/1.0", "accept", "application/json")}
			if bc.tokens != nil {
				reqs = reqs[:0]
				for _, tok := range bc.tokens {
					reqs = append(reqs, request("GET", bc.path, append(bearer(tok), "user-agent", "bench/1.0")...))
				}
			}
			resp := &host.Response{Status: 200, Headers: host.Headers{{"content-type", "application/json"}}}
			up := func(*host.UpstreamRequest) *host.Response { return resp }
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if res := vm.RoundTrip(reqs[i%len(reqs)], up); res.Err != nil || res.Status != 200 && bc.tokens != nil {
					b.Fatal(res.Err, res.Status)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(vm.MemorySize())/(1<<20), "linear-MiB")
		})
	}
}
