package config

import (
	"fmt"
	"slices"
	"strings"
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

// TestPathsOutliveTheirChunk: the paths a reader makes stay what they were
// made as after it has moved on to new chunks, kept and compared at the
// end as a compiled policy or an error would keep them; a key longer than a
// chunk gets a chunk of its own.
func TestPathsOutliveTheirChunk(t *testing.T) {
	long := strings.Repeat("k", 3*pathChunk)
	var doc strings.Builder
	doc.WriteString(`[`)
	const n = 2000
	for i := range n {
		if i > 0 {
			doc.WriteString(",")
		}
		fmt.Fprintf(&doc, `{"name%d": [true], %q: 1}`, i, long)
	}
	doc.WriteString(`]`)
	r := &Reader{}
	var kept []string
	r.Array("items", gjson.Parse(doc.String()), func(p string, _ int, v gjson.Result) {
		r.EachKey(p, v, func(p, key string, v gjson.Result) {
			kept = append(kept, p)
			if key != long {
				r.Array(p, v, func(p string, _ int, _ gjson.Result) { kept = append(kept, p) })
			}
		})
	})
	if len(kept) != 3*n {
		t.Fatalf("%d paths, want %d", len(kept), 3*n)
	}
	for i := range n {
		want := []string{fmt.Sprintf("items[%d].name%d", i, i), fmt.Sprintf("items[%d].name%d[0]", i, i), fmt.Sprintf("items[%d].%s", i, long)}
		if got := kept[3*i : 3*i+3]; !slices.Equal(got, want) {
			t.Fatalf("element %d: paths %.60q, want %.60q", i, got, want)
		}
	}
}

// TestPathsAtTheRoot: an element or member of the document itself has no
// parent path to start with.
func TestPathsAtTheRoot(t *testing.T) {
	r := &Reader{}
	var got []string
	r.Array("", gjson.Parse(`[0,1,2,3,4,5,6,7,8,9,10]`), func(p string, _ int, _ gjson.Result) { got = append(got, p) })
	if len(got) != 11 || got[0] != "[0]" || got[10] != "[10]" {
		t.Errorf("element paths %q", got)
	}
	if p := r.Join("", "routes"); p != "routes" {
		t.Errorf("Join(\"\", routes) = %q", p)
	}
}
