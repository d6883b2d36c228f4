package schema

import (
	"strconv"
	"testing"

	"github.com/apiguard/apiguard/internal/testkit/ordertest"
)

// BenchmarkCheck is the cost of validating an order body, per KiB (compare
// e2e's BenchmarkStream/apiguard-validate-json-*, the same in plugin.wasm).
func BenchmarkCheck(b *testing.B) {
	s := compile(b, ordertest.Schema)
	for _, size := range []int{1 << 10, 64 << 10} {
		doc := ordertest.Body(size)
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if v := s.Check(doc, DefaultLimits); len(v) > 0 {
					b.Fatal(v)
				}
			}
		})
	}
}
