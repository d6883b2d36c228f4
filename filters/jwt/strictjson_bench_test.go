package jwt

import (
	"strings"
	"testing"
)

// hostilePayloads are forged payloads of about 5.6 KiB (a 7.5 KiB token)
// shaped to make a duplicate-key check expensive: nesting at the depth limit,
// a wide array, many members.
func hostilePayloads() map[string]string {
	nest := func(depth int) string { return strings.Repeat("[", depth) + "0" + strings.Repeat("]", depth) }
	group := nest(30)
	var b strings.Builder
	b.WriteString(`{"a":[`)
	for b.Len() < 5600-len(group) {
		b.WriteString(group + ",")
	}
	b.WriteString("0]}")
	nested := b.String()
	wide := `{"a":[` + strings.Repeat("0,", 2800) + `0]}`
	var m strings.Builder
	m.WriteString("{")
	for i := 0; m.Len() < 5600; i++ {
		if i > 0 {
			m.WriteString(",")
		}
		m.WriteString(`"` + strings.Repeat("k", 1+i%3) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)) + `":0`)
	}
	m.WriteString("}")
	return map[string]string{"nested-arrays": nested, "wide-array": wide, "many-members": m.String()}
}

// BenchmarkRejectForged is what a forged token costs before any signature
// check: every shape must be refused (or pass the JSON checks and fail on
// iss) without work that grows faster than its size.
func BenchmarkRejectForged(b *testing.B) {
	v := newVerifier(b)
	for name, payload := range hostilePayloads() {
		raw := b64(`{"alg":"RS256","kid":"rs256"}`) + "." + b64(payload) + "." + b64("sig")
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, d := v.Check(raw, now); !d.Denied() {
					b.Fatal("accepted")
				}
			}
		})
	}
}
