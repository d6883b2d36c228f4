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
	// The format byte for byte, after what the buffer already held.
	got := appendPairs([]byte("xy"), [][2]string{{":status", "401"}, {"x-e", ""}})
	want := "xy" + "\x02\x00\x00\x00" + "\x07\x00\x00\x00\x03\x00\x00\x00" + "\x03\x00\x00\x00\x00\x00\x00\x00" +
		":status\x00401\x00" + "x-e\x00\x00"
	if string(got) != want {
		t.Fatalf("appendPairs wrote %q, want %q", got, want)
	}
	if _, err := parsePairs([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}, nil); err == nil {
		t.Fatal("a count past the buffer parsed")
	}
}
