package jwt

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

func TestStrictObject(t *testing.T) {
	deep := func(n int) string { return `{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}` }
	tests := []struct {
		name string
		doc  string
		err  error
	}{
		{name: "claims", doc: `{"sub":"alice","aud":["a","b"],"n":-1.5e3,"ok":true,"x":null,"o":{"k":[{}]}}`},
		{name: "whitespace around", doc: " \t\r\n{ \"a\" : 1 } \n"},
		{name: "same name in sibling objects", doc: `{"a":{"role":1},"b":{"role":2}}`},
		{name: "escaped names that differ", doc: `{"\u00e9":1,"e":2}`},
		{name: "valid surrogate pair", doc: `{"a":"\ud83d\ude00"}`},
		{name: "raw multibyte UTF-8", doc: "{\"caf\u00e9\":\"\u2028\"}"},
		{name: "JSON escapes", doc: `{"a":"\"\\\/\b\f\n\r\t"}`},

		{name: "exact duplicate", doc: `{"sub":"a","sub":"b"}`, err: errDuplicateKey},
		{name: "duplicate after unescaping", doc: `{"sub":"a","\u0073ub":"b"}`, err: errDuplicateKey},
		{name: "case variant", doc: `{"role":"user","Role":"admin"}`, err: errCaseVariant},
		{name: "case variant at depth", doc: `{"a":[{"b":{"x":1,"X":2}}]}`, err: errCaseVariant},
		{name: "Kelvin sign folds to k", doc: `{"kid":1,"\u212aid":2}`, err: errCaseVariant},
		{name: "long s folds to s", doc: `{"sub":1,"\u017fub":2}`, err: errCaseVariant},
		{name: "non-ASCII case variant", doc: `{"\u00e9":1,"\u00c9":2}`, err: errCaseVariant},
		{name: "case variant in a wide object", doc: `{` + manyMembers(40) + `,"M5":0}`, err: errCaseVariant},
		{name: "duplicate in a wide object", doc: `{` + manyMembers(40) + `,"m5":0}`, err: errDuplicateKey},

		{name: "invalid UTF-8", doc: "{\"a\":\"\xc0\xaf\"}", err: errBadText},
		{name: "invalid UTF-8 in a name", doc: "{\"\xff\":1}", err: errBadText},
		{name: "UTF-8 encoded surrogate", doc: "{\"a\":\"\xed\xa0\x80\"}", err: errBadText},
		{name: "lone high surrogate", doc: `{"a":"\ud800"}`, err: errBadText},
		{name: "high surrogate then text", doc: `{"a":"\ud800x"}`, err: errBadText},
		{name: "lone low surrogate", doc: `{"a":"\udc00"}`, err: errBadText},
		{name: "two high surrogates", doc: `{"a":"\ud800\ud800"}`, err: errBadText},
		{name: "lone surrogate in a name", doc: `{"\udfff":1}`, err: errBadText},

		{name: "array", doc: `[]`, err: errNotJSONObject},
		{name: "trailing garbage", doc: `{}x`, err: errNotJSONObject},
		{name: "two objects", doc: `{}{}`, err: errNotJSONObject},
		{name: "trailing comma", doc: `{"a":1,}`, err: errNotJSONObject},
		{name: "leading zero", doc: `{"a":01}`, err: errNotJSONObject},
		{name: "bare minus", doc: `{"a":-}`, err: errNotJSONObject},
		{name: "no exponent digits", doc: `{"a":1e}`, err: errNotJSONObject},
		{name: "raw control character", doc: "{\"a\":\"\x01\"}", err: errNotJSONObject},
		{name: "bad escape", doc: `{"a":"\x41"}`, err: errNotJSONObject},
		{name: "short unicode escape", doc: `{"a":"\u12"}`, err: errNotJSONObject},
		{name: "single quotes", doc: `{'a':1}`, err: errNotJSONObject},
		{name: "truncated", doc: `{"a":[1,2`, err: errNotJSONObject},
		{name: "literal typo", doc: `{"a":tru}`, err: errNotJSONObject},

		{name: "at the depth limit", doc: deep(tokenLimits.depth - 1)},
		{name: "too deep", doc: deep(tokenLimits.depth), err: errTooDeep},
		{name: "too many members", doc: `{` + manyMembers(tokenLimits.members) + `}`, err: errTooManyValues},
		{name: "too many values", doc: `{"a":[` + strings.Repeat("0,", tokenLimits.values) + `0]}`, err: errTooManyValues},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := strictObject([]byte(tc.doc), tokenLimits)
			if err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
}

func manyMembers(n int) string {
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, `"m`+string(rune('0'+i%10))+string(rune('a'+i/10))+`":0`)
	}
	return strings.Join(parts, ",") + `,"m5":1`
}

// FuzzStrictObject checks strictObject against encoding/json: whatever it
// accepts, encoding/json accepts too, and decodes to the same members.
func FuzzStrictObject(f *testing.F) {
	for _, seed := range []string{
		`{"sub":"alice","aud":["a","b"],"exp":1e9}`, `{"role":"user","Role":"admin"}`, `{"a":"\ud800"}`,
		"{\"a\":\"\xc0\xaf\"}", `{"\u212aid":1,"kid":2}`, `{"a":[{"b":{"x":1,"X":2}}]}`, `{"a":"\ud83d\ude00"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := strictObject(b, tokenLimits)
		members, ownedErr := ownedObject(bytes.Clone(b), nil)
		if err != ownedErr {
			t.Fatalf("ownedObject: %v; strictObject: %v", ownedErr, err)
		}
		if err != nil {
			return
		}
		sameMembers(t, doc, members)
		var m map[string]any
		if jerr := json.Unmarshal(b, &m); jerr != nil {
			t.Fatalf("accepted what encoding/json refuses (%v): %q", jerr, b)
		}
		if !utf8.Valid(b) {
			t.Fatalf("accepted invalid UTF-8: %q", b)
		}
		n := 0
		doc.ForEach(func(k, v gjson.Result) bool {
			n++
			if _, ok := m[k.String()]; !ok {
				t.Errorf("gjson reads member %q that encoding/json does not", k.String())
			}
			return true
		})
		if n != len(m) {
			t.Errorf("%d members, encoding/json sees %d", n, len(m))
		}
	})
}

// TestOwnedObjectFindsTheTopLevelMembers: the members come from the check's
// own pass, so nested objects' names must not leak into them, and escaped
// names, spaces and every kind of value must read as gjson reads them.
func TestOwnedObjectFindsTheTopLevelMembers(t *testing.T) {
	for _, doc := range []string{
		`{}`,
		` { "sub" : "alice" , "n" : -1.5e3 } `,
		`{"a":{"b":1,"c":{"d":[{"e":2}]}},"b":"x","c":[{"a":1}],"d":{}}`,
		`{"\u0061b":1,"t\"q":"v\u00e9","k":"\ud83d\ude00"}`,
		`{"ok":true,"no":false,"x":null,"aud":["a","b"],"z":0}`,
	} {
		members, err := ownedObject([]byte(doc), nil)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		sameMembers(t, gjson.Parse(doc), members)
	}
}

// sameMembers checks that the members ownedObject found as it checked the
// document are those gjson reads, in order, names and values alike.
func sameMembers(t *testing.T, doc gjson.Result, members []member) {
	t.Helper()
	i := 0
	doc.ForEach(func(k, v gjson.Result) bool {
		if i >= len(members) {
			t.Fatalf("gjson reads member %d (%q), ownedObject found %d", i, k.Str, len(members))
		}
		m := members[i]
		if m.name != k.Str || m.value.Type != v.Type || m.value.Raw != v.Raw || m.value.Str != v.Str ||
			m.value.Num != v.Num && !(math.IsNaN(m.value.Num) && math.IsNaN(v.Num)) {
			t.Fatalf("member %d: ownedObject %q = %+v, gjson %q = %+v", i, m.name, m.value, k.Str, v)
		}
		i++
		return true
	})
	if i != len(members) {
		t.Fatalf("ownedObject found %d members, gjson reads %d", len(members), i)
	}
}

// FuzzFoldMatchesEqualFold: two names fold equal exactly when
// strings.EqualFold (encoding/json's rule) says they are equal.
func FuzzFoldMatchesEqualFold(f *testing.F) {
	for _, seed := range [][2]string{{"role", "Role"}, {"kid", "\u212aid"}, {"sub", "\u017fub"}, {"é", "É"}, {"ss", "ß"}, {"a", "b"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		folded := string(appendFolded(nil, []byte(a))) == string(appendFolded(nil, []byte(b)))
		if folded != strings.EqualFold(a, b) {
			t.Fatalf("%q and %q: fold equal %v, strings.EqualFold %v", a, b, folded, !folded)
		}
	})
}

// TestCheckAllocatesOnlyWhatTheTokenKeeps: Check allocates the token, its
// decoded header and payload, the payload's members and the kid; the
// scanners' name lists come back from a pool. Verify of an HMAC token
// allocates nothing: the signature is decoded on the stack, the key's MAC
// reused. What a flood of cold tokens leaves as garbage is what brings the
// collector on, and each cycle marks the whole pipeline.
func TestCheckAllocatesOnlyWhatTheTokenKeeps(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop lists")
	}
	v := newVerifier(t)
	raw := testKeys()["HS256"].Token(claims("sub", `"alice"`, "roles", `["a","b"]`, "realm_access", `{"roles":["x"]}`))
	if _, d := v.Check(raw, now); d.Denied() {
		t.Fatal(d.Detail())
	}
	if n := testing.AllocsPerRun(100, func() { v.Check(raw, now) }); n > 5 {
		t.Errorf("Check allocates %v objects per token, want at most 5", n)
	}
	tok, _ := v.Check(raw, now)
	keys := providerKeys(t)
	if d := v.Verify(tok, keys); d.Denied() {
		t.Fatal(d.Detail())
	}
	if n := testing.AllocsPerRun(100, func() { v.Verify(tok, keys) }); n > 0 {
		t.Errorf("Verify allocates %v objects per HMAC token, want none", n)
	}
}
