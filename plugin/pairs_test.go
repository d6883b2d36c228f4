package main

import (
	"slices"
	"testing"
)

// TestPairsRoundTrip: what appendPairs writes, parsePairs reads back, and
// what no well-formed map can be is refused, never read past its end.
func TestPairsRoundTrip(t *testing.T) {
	cases := []struct {
		name  string
		pairs [][2]string
	}{
		{name: "none", pairs: [][2]string{}},
		{name: "pseudo and empty values", pairs: [][2]string{{":method", "GET"}, {":path", "/"}, {"x-empty", ""}, {"a", "b"}}},
		{name: "repeated key", pairs: [][2]string{{"cookie", "a=1"}, {"cookie", "b=2"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := appendPairs(nil, tc.pairs)
			got, err := parsePairs(b, [][2]string{{"kept", "first"}})
			if err != nil {
				t.Fatal(err)
			}
			if want := append([][2]string{{"kept", "first"}}, tc.pairs...); !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			for n := range len(b) {
				if _, err := parsePairs(b[:n], nil); err == nil && n < len(b) && len(tc.pairs) > 0 {
					t.Fatalf("a map cut to %d of %d bytes parsed", n, len(b))
				}
			}
		})
	}
	if _, err := parsePairs([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}, nil); err == nil {
		t.Fatal("a count past the buffer parsed")
	}
}
