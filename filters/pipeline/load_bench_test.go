package pipeline

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkLoad is what on_configure costs for a policy of 1,000 routes:
// Envoy runs it on every worker at every configuration push.
func BenchmarkLoad(b *testing.B) {
	routes := make([]string, 1000)
	for i := range routes {
		routes[i] = fmt.Sprintf(`{"name": "svc%d", "match": {"path": "/svc%d/items/{id}", "methods": ["GET"]}, "auth": "none"}`, i, i)
	}
	raw := []byte(`{"routes": [` + strings.Join(routes, ",\n") + `]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := Load(raw); errs != nil {
			b.Fatal(errs)
		}
	}
}
