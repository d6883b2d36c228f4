package schema

import (
	"strconv"
	"testing"
)

const benchSchema = `{"type": "object", "additionalProperties": false, "required": ["customer", "items"],
  "properties": {
    "customer": {"type": "string", "format": "email"},
    "items": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["sku", "qty", "price"],
      "properties": {"sku": {"type": "string", "pattern": "^[A-Z0-9-]{1,32}$"}, "qty": {"type": "integer", "minimum": 1, "maximum": 1000},
        "price": {"type": "number", "minimum": 0}, "note": {"type": "string", "maxLength": 200}}}}}}`

func benchOrder(n int) []byte {
	b := []byte(`{"customer": "buyer@example.com", "items": [`)
	for i := 0; len(b) < n-80; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"sku": "SKU-`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `", "qty": 3, "price": 19.99, "note": "gift wrap"}`...)
	}
	return append(b, "]}"...)
}

// BenchmarkCheck is the cost of validating an order body, per KiB (compare
// e2e's BenchmarkStream/apiguard-validate-json-*, the same in plugin.wasm).
func BenchmarkCheck(b *testing.B) {
	s := compile(b, benchSchema)
	for _, size := range []int{1 << 10, 64 << 10} {
		doc := benchOrder(size)
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
