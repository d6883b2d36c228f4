package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/apiguard/apiguard/e2e/host"
)

// answerAtOnce is a rate limit service that admits every request at once:
// the benchmark measures the plugin's side of a global check, not Redis.
type answerAtOnce struct {
	rlsv3.UnimplementedRateLimitServiceServer
}

func (answerAtOnce) ShouldRateLimit(context.Context, *rlsv3.RateLimitRequest) (*rlsv3.RateLimitResponse, error) {
	return &rlsv3.RateLimitResponse{OverallCode: rlsv3.RateLimitResponse_OK, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{{
		Code: rlsv3.RateLimitResponse_OK, CurrentLimit: &rlsv3.RateLimitResponse_RateLimit{RequestsPerUnit: 1000, Unit: rlsv3.RateLimitResponse_RateLimit_MINUTE},
		LimitRemaining: 999, DurationUntilReset: durationpb.New(30 * time.Second)}}}, nil
}

// BenchmarkGlobalRateLimit is the plugin's CPU per stream for a global
// check (the time spent in its callbacks, GuestTime: the request's
// descriptor and message, the dispatch, decoding the answer, resuming, the
// RateLimit headers), as a ratio to the null plugin's; the call's latency
// (a loopback gRPC server answering at once) is not counted. ns/op is the
// whole stream's wall time, with the call.
func BenchmarkGlobalRateLimit(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	rlsv3.RegisterRateLimitServiceServer(srv, answerAtOnce{})
	go srv.Serve(l)
	defer srv.Stop()
	const passThrough = `{"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none"}]}`
	const global = `{"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none",
		"rate_limit": {"global": [{"name": "per-peer", "cluster": "ratelimit", "domain": "apiguard", "timeout_ms": 1000,
		  "descriptors": [{"key": "peer", "from": "peer"}, {"key": "route", "from": "route"}]}]}}]}`
	const local = `{"rate_limit": {"rules": [{"name": "per-peer", "key": ["peer"], "rate": 1000000000, "per": "second", "burst": 1000000000}]},
		"routes": [{"name": "orders", "match": {"path": "/api/v1/orders/{id}"}, "auth": "none"}]}`
	cases := []struct{ name, module, config string }{
		{name: "null-plugin", module: "nullplugin.wasm", config: "{}"},
		{name: "apiguard-pass-through", module: "plugin.wasm", config: passThrough},
		{name: "apiguard-local-rule", module: "plugin.wasm", config: local},
		{name: "apiguard-global-check", module: "plugin.wasm", config: global},
	}
	var floor float64
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			_, vms, err := load(b, bc.module, bc.config, 1, func(c *host.Config) {
				c.Clusters = map[string]string{"ratelimit": "h2c://" + l.Addr().String()}
				c.MeasureGuestCPU = true
			})
			if err != nil {
				b.Fatal(err)
			}
			vm := vms[0]
			req := request("GET", "/api/v1/orders/42", "user-agent", "bench/1.0")
			resp := &host.Response{Status: 200, Headers: host.Headers{{"content-type", "application/json"}}}
			up := func(*host.UpstreamRequest) *host.Response { return resp }
			b.ReportAllocs()
			before := vm.GuestCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if res := vm.RoundTrip(req, up); res.Err != nil || res.Status != 200 {
					b.Fatal(res.Err, res.Status)
				}
			}
			b.StopTimer()
			guest := float64(vm.GuestCPU()-before) / float64(b.N)
			b.ReportMetric(guest, "plugin-ns/op")
			if bc.module == "nullplugin.wasm" {
				floor = guest
			} else if floor > 0 {
				b.ReportMetric(guest/floor, "x-null-plugin")
			}
		})
	}
}
