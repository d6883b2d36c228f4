package ratelimit_test

import (
	"testing"

	"github.com/apiguard/apiguard/filters/stage"
)

// BenchmarkAdmit is one admitted request through a route with one per-peer
// rule: key, hash, a shared-data read and a compare-and-swap.
func BenchmarkAdmit(b *testing.B) {
	g := load(b, `{"rate_limit": {"rules": [{"name": "per-peer", "key": ["peer"], "rate": 1000000000, "per": "second", "burst": 1000000000}]},
		"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": "none"}]}`)
	g.host.Properties["source.address"] = []byte("192.0.2.1:4000")
	w := g.p.NewWorker(g.host)
	h := headers{{":method", "GET"}, {":path", "/orders"}, {":authority", "api.example"}}
	var s stage.Stream
	b.ReportAllocs()
	for b.Loop() {
		s.Reset()
		if d := g.p.RequestHeaders(&s, h, w); d.Denied() {
			b.Fatal(d.Reason.Code())
		}
	}
}
