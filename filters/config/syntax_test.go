package config

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// syntaxCases cover every way checkSyntax can refuse a document, and the
// documents it must accept; each is also a seed of FuzzCheckSyntax.
var syntaxCases = []struct {
	name, data string
	offset     int
	msg        string
}{
	{name: "object", data: `{"routes": [{"a": 1.5e-3, "b": [true, false, null], "c": "\u00e9\n"}]}`},
	{name: "top-level number", data: `  -0.5E+10 `},
	{name: "top-level string", data: `"x"`},
	{name: "invalid UTF-8 in a string", data: "\"\xff\xfe\""},
	{name: "empty containers", data: `{"a": {}, "b": []}`},
	{name: "only spaces", data: " \t\r\n", offset: 4, msg: "unexpected end of JSON input"},
	{name: "trailing garbage", data: `{"routes": []} x`, offset: 16, msg: "invalid character 'x' after top-level value"},
	{name: "two values", data: `1 2`, offset: 3, msg: "invalid character '2' after top-level value"},
	{name: "unclosed object", data: `{"a": 1`, offset: 7, msg: "unexpected end of JSON input"},
	{name: "unclosed array", data: `[1,`, offset: 3, msg: "unexpected end of JSON input"},
	{name: "unclosed string", data: `{"a`, offset: 3, msg: "unexpected end of JSON input"},
	{name: "value expected", data: `{"a": }`, offset: 7, msg: "invalid character '}' looking for beginning of value"},
	{name: "trailing comma in array", data: `[1,]`, offset: 4, msg: "invalid character ']' looking for beginning of value"},
	{name: "trailing comma in object", data: `{"a": 1,}`, offset: 9, msg: "invalid character '}' looking for beginning of object key string"},
	{name: "unquoted key", data: `{a: 1}`, offset: 2, msg: "invalid character 'a' looking for beginning of object key string"},
	{name: "missing colon", data: `{"a" 1}`, offset: 6, msg: "invalid character '1' after object key"},
	{name: "missing comma in object", data: `{"a": 1 "b": 2}`, offset: 9, msg: "invalid character '\"' after object key:value pair"},
	{name: "missing comma in array", data: `[1 2]`, offset: 4, msg: "invalid character '2' after array element"},
	{name: "control character in string", data: "\"a\tb\"", offset: 3, msg: `invalid character '\t' in string literal`},
	{name: "bad escape", data: `"\x"`, offset: 3, msg: "invalid character 'x' in string escape code"},
	{name: "escape at end", data: `"\`, offset: 2, msg: "invalid character ' ' in string escape code"},
	{name: "bad unicode escape", data: `"\u12g4"`, offset: 6, msg: `invalid character 'g' in \u hexadecimal character escape`},
	{name: "leading zero", data: `[01]`, offset: 3, msg: "invalid character '1' after array element"},
	{name: "lone minus", data: `-`, offset: 1, msg: "invalid character ' ' in numeric literal"},
	{name: "minus letter", data: `[-a]`, offset: 3, msg: "invalid character 'a' in numeric literal"},
	{name: "no digit after point", data: `1.e3`, offset: 3, msg: "invalid character 'e' after decimal point in numeric literal"},
	{name: "no exponent digit", data: `[1e+]`, offset: 5, msg: "invalid character ']' in exponent of numeric literal"},
	{name: "bad literal", data: `[tru]`, offset: 5, msg: "invalid character ']' in literal true (expecting 'e')"},
	{name: "literal cut short", data: `fal`, offset: 3, msg: "invalid character ' ' in literal false (expecting 's')"},
	{name: "quote in message", data: `'a'`, offset: 1, msg: `invalid character '\'' looking for beginning of value`},
	{name: "high byte in message", data: "\xff", offset: 1, msg: "invalid character 'ÿ' looking for beginning of value"},
	{name: "nested to the limit", data: strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)},
	{name: "nested past the limit", data: strings.Repeat(`{"a":`, maxDepth) + "[", offset: 5*maxDepth + 1, msg: "invalid character '[' exceeded max depth"},
}

func TestCheckSyntax(t *testing.T) {
	for _, tc := range syntaxCases {
		t.Run(tc.name, func(t *testing.T) {
			offset, msg := checkSyntax([]byte(tc.data), nil)
			if offset != tc.offset || msg != tc.msg {
				t.Errorf("checkSyntax = %d %q, want %d %q", offset, msg, tc.offset, tc.msg)
			}
		})
	}
}

// TestStringsAreScannedAtEveryOffset: scanString reads eight bytes at a
// time up to the first quote, backslash or control character; each of
// them, and a byte that is none of them, at every place in and past the
// first words of a string, in strings that end at and before the
// document's end, gets encoding/json's verdict, offset and message.
func TestStringsAreScannedAtEveryOffset(t *testing.T) {
	for _, special := range []string{`"`, `\`, `\"`, `\u00e9`, `\x`, "\n", "\t", "\x1f", " ", "\x7f", "\x80", "\xff", "!", "#", "[", "]", `\\`} {
		for at := 0; at < 20; at++ {
			for _, tail := range []string{`"`, `", "b"]`, ``, `a`} {
				data := []byte(`["` + strings.Repeat("a", at) + special + strings.Repeat("b", 9) + tail)
				offset, msg := checkSyntax(data, nil)
				var raw json.RawMessage
				wantOffset, wantMsg := 0, ""
				if err := json.Unmarshal(data, &raw); err != nil {
					var syn *json.SyntaxError
					if !errors.As(err, &syn) {
						t.Fatalf("encoding/json: %v", err)
					}
					wantOffset, wantMsg = int(syn.Offset), syn.Error()
				}
				if offset != wantOffset || msg != wantMsg {
					t.Errorf("%q: checkSyntax = %d %q, encoding/json %d %q", data, offset, msg, wantOffset, wantMsg)
				}
			}
		}
	}
}

// FuzzCheckSyntax holds checkSyntax to encoding/json's verdict, offset and
// message on any input: the configuration errors operators saw before it
// replaced json.Unmarshal.
func FuzzCheckSyntax(f *testing.F) {
	for _, tc := range syntaxCases {
		f.Add([]byte(tc.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return // Parse refuses an empty document before checking it
		}
		offset, msg := checkSyntax(data, nil)
		var raw json.RawMessage
		err := json.Unmarshal(data, &raw)
		var syn *json.SyntaxError
		switch {
		case err == nil && msg != "":
			t.Fatalf("encoding/json accepts %q, checkSyntax says %d %q", data, offset, msg)
		case err == nil:
		case !errors.As(err, &syn):
			t.Fatalf("encoding/json: %v", err)
		case int(syn.Offset) != offset || syn.Error() != msg:
			t.Fatalf("%q: checkSyntax = %d %q, encoding/json %d %q", data, offset, msg, syn.Offset, syn.Error())
		}
	})
}

// thousandRoutes is the policy of the e2e start-up scenario
// apiguard-1000-routes (97 KB), whose on_configure these benchmarks bound.
func thousandRoutes() []byte {
	routes := make([]string, 1000)
	for i := range routes {
		routes[i] = `{"name": "svc` + strconv.Itoa(i) + `", "match": {"path": "/svc` + strconv.Itoa(i) + `/items/{id}", "methods": ["GET"]}, "auth": "none"}`
	}
	return []byte(`{"routes": [` + strings.Join(routes, ",\n") + `]}`)
}

// BenchmarkCheckSyntax checks a 1,000-route policy, as configure does.
func BenchmarkCheckSyntax(b *testing.B) {
	data := thousandRoutes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, msg := checkSyntax(data, nil); msg != "" {
			b.Fatal(msg)
		}
	}
}

// BenchmarkReadingFloor is what reading the 1,000-route policy costs before
// any check or compile of apiguard's: "bytes" a loop that only counts its
// quotes, "gjson-walk" gjson's own walk visiting every value once; and,
// with "reader-walk", what the Reader's design pays before reading any
// field: its syntax check, which indexes the containers, and its own walk
// visiting every value once, with no path, type or key checked. Compiled
// to wasm (GOOS=wasip1 ... -exec build/wasirun), they are what a Go reader
// of this document pays in Go's wasm port, where each turn of a loop is a
// jump through the function's table of blocks (README, "Against the
// targets": on_configure for 1,000 routes).
func BenchmarkReadingFloor(b *testing.B) {
	data := thousandRoutes()
	b.Run("bytes", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		quotes := 0
		for b.Loop() {
			quotes = 0
			for _, c := range data {
				if c == '"' {
					quotes++
				}
			}
		}
		if quotes != 1000*18+2 {
			b.Fatalf("%d quotes", quotes)
		}
	})
	b.Run("gjson-walk", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		doc := string(data)
		values := 0
		var visit func(v gjson.Result)
		visit = func(v gjson.Result) {
			values++
			if v.IsObject() || v.IsArray() {
				v.ForEach(func(_, e gjson.Result) bool {
					visit(e)
					return true
				})
			}
		}
		for b.Loop() {
			values = 0
			visit(gjson.Parse(doc))
		}
		if values != 1000*7+2 {
			b.Fatalf("%d values", values)
		}
	})
	b.Run("reader-walk", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		var r Reader
		values := 0
		var visit func(key string, v gjson.Result) bool
		visit = func(_ string, v gjson.Result) bool {
			values++
			if v.IsObject() || v.IsArray() {
				r.ForEach(v, visit)
			}
			return true
		}
		for b.Loop() {
			r, values = Reader{}, 0
			root, ok := r.Parse(data)
			if !ok {
				b.Fatal(r.Errors())
			}
			visit("", root)
		}
		if values != 1000*7+2 {
			b.Fatalf("%d values", values)
		}
	})
}
