package pipeline

import (
	"testing"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/route"
)

func BenchmarkRequest(b *testing.B) {
	p, errs := Compile(Config{Routes: []Route{{Name: "orders", Match: route.Spec{Path: "/api/v1/orders/{id}"}, Auth: authn.RouteAuth{Public: true}}}})
	if errs != nil {
		b.Fatal(errs)
	}
	var params route.Params
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if out := p.Request(Request{Method: "GET", Path: "/api/v1/orders/42", Authority: "api.example.com"}, &params); out.Denied() {
			b.Fatal(out)
		}
	}
}
