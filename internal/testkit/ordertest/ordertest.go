// Package ordertest is the order document the validation benchmarks and
// soak measure with, natively (filters/schema) and through plugin.wasm
// (e2e): one schema of the usual shape and bodies of any size it accepts,
// so both sides measure the same work.
package ordertest

import "strconv"

// Schema is an order's JSON Schema: typed members, bounds, patterns, a
// format and an array of items.
const Schema = `{"type": "object", "additionalProperties": false, "required": ["customer", "items"],
  "properties": {
    "customer": {"type": "string", "format": "email"},
    "items": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["sku", "qty", "price"],
      "properties": {"sku": {"type": "string", "pattern": "^[A-Z0-9-]{1,32}$"}, "qty": {"type": "integer", "minimum": 1, "maximum": 1000},
        "price": {"type": "number", "minimum": 0}, "note": {"type": "string", "maxLength": 200}}}}}}`

// Body is an order of about n bytes that Schema accepts.
func Body(n int) []byte {
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
