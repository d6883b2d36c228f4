package config

import (
	"slices"
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

// TestObjectOfReadsAsObject: an object read with its fields prepared
// (FieldSet) is read as Object reads it: the same fields read, then the
// same errors, in the same order.
func TestObjectOfReadsAsObject(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       []string
	}{
		{name: "every field", json: `{"a": 1, "b": 2, "c": 3}`, want: []string{"read o.a", "read o.b", "read o.c"}},
		{name: "required ones only", json: `{"c": 3, "a": 1}`, want: []string{"read o.c", "read o.a"}},
		{name: "missing required, sorted", json: `{"b": 2}`, want: []string{"read o.b", "o.a: required", "o.c: required"}},
		{name: "unknown and duplicate", json: `{"a": 1, "ab": 0, "a": 1, "c": 3}`,
			want: []string{"read o.a", "read o.c", "o.ab: unknown field", "o.a: duplicate key"}},
		{name: "not an object", json: `[1]`, want: []string{"o: must be an object, got an array"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [2][]string
			for i := range got {
				r := &Reader{}
				read := func(p string, _ gjson.Result) { got[i] = append(got[i], "read "+p) }
				fields := Fields{"a": {Required: true, Read: read}, "b": {Read: read}, "c": {Required: true, Read: read}}
				if i == 0 {
					r.Object("o", gjson.Parse(tc.json), fields)
				} else {
					r.ObjectOf("o", gjson.Parse(tc.json), NewFieldSet(fields))
				}
				for _, e := range r.Errors() {
					got[i] = append(got[i], e.Error())
				}
			}
			if !slices.Equal(got[0], tc.want) || !slices.Equal(got[1], tc.want) {
				t.Errorf("Object: %q\nObjectOf: %q\nwant %q", got[0], got[1], tc.want)
			}
		})
	}
}
