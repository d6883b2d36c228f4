package claims

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzScan: the raw scanners that walk a verified payload agree with gjson
// on every valid JSON value, and never read out of bounds on anything.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{`{"a": 1, "b": {"c": [1, "x", {"d": "}"}]}, "e\\"f": "g\\"h", "i": true}`, `["a", 1, null, {"b": []}, "c\\u0041"]`, `{}`, `[]`, `{"a"`, `["\\"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var keys, values []string
		for sc := Members(raw); ; {
			key, _, value, ok := sc.Next()
			if !ok {
				break
			}
			keys, values = append(keys, Unquote(key)), append(values, value)
		}
		var elements []string
		for sc := Elements(raw); ; {
			_, _, el, ok := sc.Next()
			if !ok {
				break
			}
			elements = append(elements, el)
		}
		if !gjson.Valid(raw) {
			return
		}
		v := gjson.Parse(raw)
		var wantKeys, wantValues, wantElements []string
		v.ForEach(func(k, val gjson.Result) bool {
			if v.IsObject() {
				wantKeys, wantValues = append(wantKeys, k.Str), append(wantValues, val.Raw)
			} else if v.IsArray() {
				wantElements = append(wantElements, val.Raw)
			}
			return true
		})
		if strings.Join(keys, "\x00") != strings.Join(wantKeys, "\x00") || strings.Join(values, "\x00") != strings.Join(wantValues, "\x00") ||
			strings.Join(elements, "\x00") != strings.Join(wantElements, "\x00") {
			t.Fatalf("%q: members %q %q, elements %q; gjson %q %q, %q", raw, keys, values, elements, wantKeys, wantValues, wantElements)
		}
	})
}

// FuzzParse: a claim path reads exactly the member each of its tokens
// names, whatever characters other path syntaxes treat as special, walking
// objects only.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"/sub", "/a/b", "/a~1b", "/~0", "/a.b", "/*", "/#", "/a|b", "/@this", "/0", "/\x8b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		doc := `"v"`
		for i := len(p) - 1; i >= 0; i-- {
			decoy := string(gjson.AppendJSONString(nil, p[i]+"x"))
			doc = "{" + decoy + ": [1], " + string(gjson.AppendJSONString(nil, p[i])) + ":" + doc + "}"
		}
		raw, found := doc, true
		for _, name := range p {
			if raw, found, _ = member(raw, name); !found {
				t.Fatalf("path %q: no member %q in %s", s, name, doc)
			}
		}
		if raw != `"v"` {
			t.Fatalf("path %q read %s from %s", s, raw, doc)
		}
	})
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Pointer
	}{
		{"/sub", Pointer{"sub"}}, {"/realm_access/roles", Pointer{"realm_access", "roles"}}, {"/a.b~1c~0d", Pointer{"a.b/c~d"}},
		{"sub", nil}, {"/a//b", nil}, {"/a~2", nil}, {"/\x8b", nil}, {"/" + strings.Repeat("a/", 16) + "a", nil},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != (tc.want != nil) || strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
