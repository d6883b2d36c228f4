package config

import (
	"testing"

	"github.com/tidwall/gjson"
)

type keyA struct{}
type keyB struct{}

// TestMemoBuildsOncePerKeyAndReader: what a reader memoizes is built once
// for it, per key, and never shared with another reader (another
// document's reading).
func TestMemoBuildsOncePerKeyAndReader(t *testing.T) {
	builds := 0
	build := func() any { builds++; return &builds }
	r := &Reader{}
	a1, a2 := r.Memo(keyA{}, build), r.Memo(keyA{}, build)
	b := r.Memo(keyB{}, func() any { return new(int) })
	other := (&Reader{}).Memo(keyA{}, build)
	switch {
	case a1 != a2:
		t.Error("the same key built twice for one reader")
	case a1 == b:
		t.Error("two keys share one value")
	case builds != 2:
		t.Errorf("build ran %d times, want once per reader", builds)
	}
	_ = other
}

func TestEmpty(t *testing.T) {
	for _, tc := range []struct {
		json string
		want bool
	}{
		{json: `{}`, want: true},
		{json: `[]`, want: true},
		{json: ` { } `, want: true},
		{json: `{"a": 1}`, want: false},
		{json: `[null]`, want: false},
		{json: `""`, want: false},
		{json: `0`, want: false},
		{json: ``, want: false},
	} {
		t.Run(tc.json, func(t *testing.T) {
			if got := Empty(gjson.Parse(tc.json)); got != tc.want {
				t.Errorf("Empty(%s) = %v, want %v", tc.json, got, tc.want)
			}
		})
	}
}
