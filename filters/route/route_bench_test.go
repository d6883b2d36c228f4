package route

import (
	"fmt"
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
				if idx, _ := t.Match("GET", path, &p); idx < 0 {
					b.Fatal("no match")
				}
			}
		})
	}
}
