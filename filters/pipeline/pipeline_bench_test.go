package pipeline

import (
	"testing"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/stage"
)

func BenchmarkRequest(b *testing.B) {
	p, errs := Compile(Config{Routes: []Route{{Name: "orders", Match: route.Spec{Path: "/api/v1/orders/{id}"}, Auth: authn.RouteAuth{Public: true}}}})
	if errs != nil {
		b.Fatal(errs)
	}
	h := headers{{":method", "GET"}, {":path", "/api/v1/orders/42"}, {":authority", "api.example.com"}}
	w := p.NewWorker()
	var s stage.Stream
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if out := p.RequestHeaders(&s, h, w); out.Denied() {
			b.Fatal(out)
		}
		s.Reset()
	}
}
