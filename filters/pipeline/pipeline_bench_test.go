package pipeline

import (
	"crypto/elliptic"
	"fmt"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

func BenchmarkRequest(b *testing.B) {
	p, errs := Compile(Config{Routes: []Route{{Name: "orders", Match: route.Spec{Path: "/api/v1/orders/{id}"}, Auth: authn.RouteAuth{Public: true}}}})
	if errs != nil {
		b.Fatal(errs)
	}
	benchRequests(b, p, headers{{":method", "GET"}, {":path", "/api/v1/orders/42"}, {":authority", "api.example.com"}})
}

// BenchmarkRequestJWTCached is a request with a token the cache has seen.
func BenchmarkRequestJWTCached(b *testing.B) {
	k := jwttest.EC("k", elliptic.P256())
	p, errs := Load([]byte(fmt.Sprintf(`{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": %s},
		"claim_to_headers": {"sub": "x-auth-sub"}}},
		"routes": [{"name": "orders", "match": {"path": "/orders/{id}"}, "auth": {"providers": ["idp"]}}]}`, jwttest.JWKS(k))))
	if errs != nil {
		b.Fatal(errs)
	}
	tok := k.Token(jwttest.Claims("i", "a", time.Now().Add(time.Hour).Unix(), "sub", `"alice"`))
	benchRequests(b, p, headers{{":method", "GET"}, {":path", "/orders/42"}, {":authority", "api.example.com"}, {"authorization", "Bearer " + tok}})
}

// benchRequests runs one allowed request per iteration, as the glue does:
// one Stream reused, the headers boxed once (the glue's zero-size reader
// costs nothing to box).
func benchRequests(b *testing.B, p *Pipeline, h stage.Headers) {
	w := p.NewWorker(&hosttest.Host{})
	var s stage.Stream
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if d := p.RequestHeaders(&s, h, w); d.Denied() {
			b.Fatal(d)
		}
		s.Reset()
	}
}
