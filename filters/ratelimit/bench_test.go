package ratelimit_test

import (
	"testing"

	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
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

// BenchmarkAdmitStream and BenchmarkRefuseStream are one stream, its
// request and response phases, through a route with one rule that admits
// or refuses it, keyed by the peer or, after authentication (a cached
// token), by the token's subject; on a host that allocates nothing, so
// that allocs/op are the pipeline's.
func BenchmarkAdmitStream(b *testing.B)  { benchmarkStream(b, admitsAll, verdict.None) }
func BenchmarkRefuseStream(b *testing.B) { benchmarkStream(b, refusesAll, verdict.RateLimited) }

func benchmarkStream(b *testing.B, limit string, want verdict.Reason) {
	for _, key := range ruleKeys {
		b.Run(key.name, func(b *testing.B) {
			g := newQuietGateway(b, `{"name": "r", "key": ["`+key.part+`"], `+limit+`}`, "draft")
			g.stream()
			b.ReportAllocs()
			for b.Loop() {
				if d := g.stream(); d.Reason != want {
					b.Fatal(d.Reason.Code())
				}
			}
		})
	}
}
