package jwt

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzCanonicalPart: canonicalPart and decodePart accept exactly what decodes
// strictly as unpadded base64url, and decodePart decodes it to the same bytes.
func FuzzCanonicalPart(f *testing.F) {
	for _, s := range []string{"", "A", "AA", "AB", "AAA", "AAB", "AAAA", "eyJhbGciOiJIUzI1NiJ9", "a+b/", "AA==", "AA\n", "-_-_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		std, err := base64.RawURLEncoding.Strict().DecodeString(s)
		want := err == nil && !strings.ContainsAny(s, "\r\n")
		if got := canonicalPart(s); got != want {
			t.Fatalf("canonicalPart(%q) = %v, want %v (%v)", s, got, want, err)
		}
		if got, ok := decodePart(s); ok != want || ok && !bytes.Equal(got, std) {
			t.Fatalf("decodePart(%q) = %q, %v; want %q, %v", s, got, ok, std, want)
		}
	})
}
