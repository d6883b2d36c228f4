package route

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkNormalize(b *testing.B) {
	for _, p := range []string{"/api/v1/orders/42", "/api/v1/orders/42?limit=10", "/public/%2e%2e/a;x/b//c"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, d := Normalize(p); d.Denied() {
					b.Fatal(d)
				}
			}
		})
	}
}

// BenchmarkMatch shows the matching cost stays flat as routes grow.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		specs := make([]Spec, 0, n)
		for i := 0; len(specs) < n; i++ {
			specs = append(specs,
				Spec{Name: fmt.Sprint("a", i), Path: fmt.Sprintf("/api/v1/res%d/{id}", i), Methods: []string{"GET"}},
				Spec{Name: fmt.Sprint("b", i), Path: fmt.Sprintf("/api/v1/res%d/{id}/items/**", i)},
			)
		}
		t, errs := Compile(specs)
		if errs != nil {
			b.Fatal(errs)
		}
		path := fmt.Sprintf("/api/v1/res%d/42", n/4)
		b.Run(fmt.Sprint(n, "-routes"), func(b *testing.B) {
			var p Params
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if idx, _ := t.Match(AnyHost, "GET", path, &p); idx < 0 {
					b.Fatal("no match")
				}
			}
		})
	}
}

// BenchmarkMatchWorstCase measures the bound on backtracking. The table has
// every combination of "a" and {param} over the first branch segments (2^branch
// routes), each followed by the same 16 long literal segments and "z"; the
// path follows every combination down the long segments and then fails on its
// last segment, so the walk visits every node of the trie. Each visit costs a
// constant (segmentMemo), so the cost grows with the path's length plus the
// number of trie nodes, not with their product.
func BenchmarkMatchWorstCase(b *testing.B) {
	long := strings.Repeat("x", 480)
	for _, branch := range []int{0, 4, 8, 10} {
		var specs []Spec
		for combo := 0; combo < 1<<branch; combo++ {
			var p strings.Builder
			for d := 0; d < branch; d++ {
				if combo>>d&1 == 1 {
					fmt.Fprintf(&p, "/{p%d}", d)
				} else {
					p.WriteString("/a")
				}
			}
			p.WriteString(strings.Repeat("/"+long, 16) + "/z")
			specs = append(specs, Spec{Name: fmt.Sprint(combo), Path: p.String()})
		}
		t, errs := Compile(specs)
		if errs != nil {
			b.Fatal(errs)
		}
		path := strings.Repeat("/a", branch) + strings.Repeat("/"+long, 16) + "/y"
		if len(path) > MaxPathLength {
			b.Fatalf("path of %d bytes", len(path))
		}
		b.Run(fmt.Sprintf("%d-routes-%d-bytes", len(specs), len(path)), func(b *testing.B) {
			var p Params
			for i := 0; i < b.N; i++ {
				if idx, _ := t.Match(AnyHost, "GET", path, &p); idx >= 0 {
					b.Fatal("matched")
				}
			}
		})
	}
}

// BenchmarkMatchHosts is a request's whole routing, canonical host included,
// in a table of 1 or 100 APIs: each on an exact host and a tenant wildcard,
// with 10 routes of its own. The host's group is found by map lookups on the
// host and its suffixes, so the cost stays flat as hosts grow.
func BenchmarkMatchHosts(b *testing.B) {
	for _, n := range []int{1, 100} {
		var specs []Spec
		for h := 100; h < 100+n; h++ {
			for r := 0; r < 10; r++ {
				specs = append(specs, Spec{
					Name: fmt.Sprint(h, "-", r), Path: fmt.Sprintf("/api/v1/res%d/{id}", r), Methods: []string{"GET"},
					Hosts: []string{fmt.Sprintf("api%d.example.com", h), fmt.Sprintf("*.tenants%d.example.com", h)},
				})
			}
		}
		t, errs := Compile(specs)
		if errs != nil {
			b.Fatal(errs)
		}
		h := 100 + n/2
		for _, tc := range []struct{ kind, authority string }{
			{"exact", fmt.Sprintf("api%d.example.com", h)},
			{"wildcard", fmt.Sprintf("acme.tenants%d.example.com", h)},
		} {
			b.Run(fmt.Sprintf("%d-hosts/%s", n, tc.kind), func(b *testing.B) {
				var p Params
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					host, d := CanonicalHost(tc.authority, "https")
					if d.Denied() {
						b.Fatal(d)
					}
					if idx, _ := t.Match(t.Host(host), "GET", "/api/v1/res5/42", &p); idx < 0 {
						b.Fatal("no match")
					}
				}
			})
		}
	}
}

// BenchmarkShadows is the near-miss search over 1,000 routes, which
// configure runs when some route or default lets requests through without
// a token (pipeline's warnings).
func BenchmarkShadows(b *testing.B) {
	specs := []Spec{{Name: "health", Path: "/healthz", Methods: []string{"GET"}}}
	for i := len(specs); i < 1000; i++ {
		specs = append(specs, Spec{Name: fmt.Sprint("r", i), Path: fmt.Sprintf("/tenants/{tenant}/things%d/{id}", i), Methods: []string{"GET", "PUT"}})
	}
	t, errs := Compile(specs)
	if errs != nil {
		b.Fatal(errs)
	}
	b.ReportAllocs()
	for b.Loop() {
		t.Shadows(nil)
	}
}

// BenchmarkCompile is the route table's share of configure for 1,000
// routes, each with its own first segment (one node with 1,000 literal
// children) and a parameter.
func BenchmarkCompile(b *testing.B) {
	specs := make([]Spec, 1000)
	for i := range specs {
		specs[i] = Spec{Name: fmt.Sprint("svc", i), Path: fmt.Sprintf("/svc%d/items/{id}", i), Methods: []string{"GET"}}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := Compile(specs); errs != nil {
			b.Fatal(errs)
		}
	}
}
