package jwt

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzCanonicalPart: canonicalPart accepts exactly what decodes strictly as
// unpadded base64url, and decodePart agrees with it.
func FuzzCanonicalPart(f *testing.F) {
	for _, s := range []string{"", "A", "AA", "AB", "AAA", "AAB", "AAAA", "eyJhbGciOiJIUzI1NiJ9", "a+b/", "AA==", "AA\n", "-_-_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := base64.RawURLEncoding.Strict().DecodeString(s)
		want := err == nil && !strings.ContainsAny(s, "\r\n")
		if got := canonicalPart(s); got != want {
			t.Fatalf("canonicalPart(%q) = %v, want %v (%v)", s, got, want, err)
		}
		if _, ok := decodePart(s); ok != want {
			t.Fatalf("decodePart(%q) ok = %v, want %v", s, ok, want)
		}
	})
}
