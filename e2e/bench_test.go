package e2e

import (
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// BenchmarkStream is the per-stream floor every stage is measured against: a
// full stream (context create, request headers, response headers, log, done,
// delete) through the null plugin (a module built the same way that only
// continues) and through apiguard on a route with no policies.
func BenchmarkStream(b *testing.B) {
	const passThrough = `{"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none"}]}`
	cases := []struct {
		name, module, config string
		path                 string
	}{
		{name: "null-plugin", module: "nullplugin.wasm", config: "{}", path: "/api/v1/orders/42"},
		{name: "apiguard-pass-through", module: "plugin.wasm", config: passThrough, path: "/api/v1/orders/42"},
		{name: "apiguard-no-route-404", module: "plugin.wasm", config: passThrough, path: "/api/v1/customers/42"},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			_, vms, err := load(b, bc.module, bc.config, 1)
			if err != nil {
				b.Fatal(err)
			}
			vm := vms[0]
			req := request("GET", bc.path, "user-agent", "bench/1.0", "accept", "application/json")
			resp := &host.Response{Status: 200, Headers: host.Headers{{"content-type", "application/json"}}}
			up := func(*host.UpstreamRequest) *host.Response { return resp }
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if res := vm.RoundTrip(req, up); res.Err != nil {
					b.Fatal(res.Err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(vm.MemorySize())/(1<<20), "linear-MiB")
		})
	}
}
