package config

import (
	"math"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// member is one member of an object or array as a walk yields it.
type member struct {
	key string
	v   gjson.Result
}

// sameMembers checks that Reader.ForEach yields what gjson's ForEach does
// for v, and does so for every container below it.
func sameMembers(t *testing.T, r *Reader, v gjson.Result) {
	t.Helper()
	var want, got []member
	v.ForEach(func(k, v gjson.Result) bool { want = append(want, member{k.Str, v}); return true })
	r.ForEach(v, func(k string, v gjson.Result) bool { got = append(got, member{k, v}); return true })
	if len(got) != len(want) {
		t.Fatalf("%s: %d members, gjson has %d", v.Raw, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		sameNum := g.v.Num == w.v.Num || math.IsNaN(g.v.Num) && math.IsNaN(w.v.Num)
		if g.key != w.key || g.v.Type != w.v.Type || g.v.Raw != w.v.Raw || g.v.Str != w.v.Str || !sameNum || g.v.Index != w.v.Index {
			t.Fatalf("%s: member %d is %q %+v, gjson has %q %+v", v.Raw, i, g.key, g.v, w.key, w.v)
		}
		if g.v.IsObject() || g.v.IsArray() {
			sameMembers(t, r, g.v)
		}
	}
}

func FuzzForEach(f *testing.F) {
	for _, s := range []string{
		`{"routes": [{"name": "a", "match": {"path": "/a/{id}", "methods": ["GET"]}, "auth": "none"}]}`,
		` { "a" : [ 1 , -2.5e+3 , 0 , true , false , null , "x" ] , "b" : { } , "c" : [ ] }  `,
		`{"k\"ey": "v\\al\u00e9", "\u0041": {"x": [[], [{}], [[1]]]}, "n": 1E-7}`,
		`[{"a": {"b": {"c": {"d": []}}}}, "\ud83d\ude00", 12345678901234567890]`,
		`"just a string"`, `42`, `[]`, `{}`,
		`{"a": 1, "a": 2}`,
		`{"a\\": "b\\\"c", "\"": "\\", "\\\\\"": ["\"\"", "x\\\\"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, msg := checkSyntax(data, nil); msg != "" {
			return
		}
		var r Reader
		root, ok := r.Parse(data)
		if !ok {
			t.Fatalf("Parse refused what checkSyntax accepted: %v", r.Errors())
		}
		if root.IsObject() || root.IsArray() {
			sameMembers(t, &r, root)
			// A value that is not the document's is walked by gjson.
			sameMembers(t, &r, gjson.Parse(string(data)))
		}
	})
}

func TestForEachStopsWhenAsked(t *testing.T) {
	var r Reader
	root, _ := r.Parse([]byte(`{"a": 1, "b": {"c": 2}, "d": 3}`))
	var keys []string
	r.ForEach(root, func(k string, _ gjson.Result) bool { keys = append(keys, k); return k != "b" })
	if len(keys) != 2 || keys[1] != "b" {
		t.Fatalf("keys %v, want the walk to stop at b", keys)
	}
}

// TestEscapesAtEveryOffset: a key or value whose first escape lies at any
// offset from an eight-byte scan's start is decoded as gjson decodes it,
// and a plain one at the document's very end too.
func TestEscapesAtEveryOffset(t *testing.T) {
	for at := 0; at < 20; at++ {
		pad := strings.Repeat("a", at)
		for _, doc := range []string{
			`{"` + pad + `\"k": "` + pad + `\n\u00e9 v", "x": ["` + pad + `"]}`,
			`["` + pad + `\\"]`,
			`"` + pad + `"`,
			`{"` + pad + `":"` + pad + `"}`,
		} {
			var r Reader
			root, ok := r.Parse([]byte(doc))
			if !ok {
				t.Fatalf("%s: %v", doc, r.Errors())
			}
			if root.Type == gjson.String {
				if want := gjson.Parse(doc).Str; root.Str != want {
					t.Fatalf("%s: %q, gjson %q", doc, root.Str, want)
				}
				continue
			}
			sameMembers(t, &r, root)
		}
	}
}
