package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
)

func compile(t testing.TB, src string) *Schema {
	t.Helper()
	r := &config.Reader{}
	s := Compile(r, "schema", gjson.Parse(src))
	if errs := r.Errors(); len(errs) > 0 {
		t.Fatalf("compile %s: %v", src, errs)
	}
	return s
}

const orderSchema = `{
	"type": "object",
	"required": ["items", "currency"],
	"additionalProperties": false,
	"properties": {
		"currency": {"enum": ["EUR", "USD"]},
		"note": {"type": "string", "maxLength": 5},
		"email": {"type": "string", "format": "email"},
		"ref": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
		"id": {"type": "string", "format": "uuid"},
		"at": {"type": "string", "format": "date-time"},
		"site": {"type": "string", "format": "uri"},
		"discount": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
		"big": {"type": "integer", "maximum": 9007199254740993},
		"flag": {"const": true},
		"items": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"$ref": "#/$defs/item"}}
	},
	"$defs": {
		"item": {"type": "object", "required": ["sku", "qty"], "properties": {
			"sku": {"type": "string", "minLength": 1},
			"qty": {"type": "integer", "minimum": 1, "maximum": 100}}}
	}
}`

func TestCheck(t *testing.T) {
	s := compile(t, orderSchema)
	valid := `{"currency": "EUR", "items": [{"sku": "a", "qty": 1}]`
	tests := []struct {
		name string
		doc  string
		want string // "pointer rule" pairs, ";"-separated; "" for valid
	}{
		{name: "valid", doc: valid + `}`},
		{name: "valid with every optional member", doc: valid + `, "note": "hi", "email": "a@b.example", "ref": "ABC-12", "id": "0f8fad5b-d9cb-469f-a165-70867728950e",
			"at": "2026-12-02T10:00:00Z", "site": "https://example.com/x", "discount": 0.5, "big": 9007199254740993, "flag": true}`},
		{name: "missing required", doc: `{"items": [{"sku": "a"}]}`, want: "/items/0/qty required;/currency required"},
		{name: "mass assignment", doc: valid + `, "is_admin": true}`, want: "/is_admin additionalProperties"},
		{name: "case variant of a named member", doc: valid + `, "Currency": "USD"}`, want: "/Currency case_variant"},
		{name: "wrong type", doc: `{"currency": "EUR", "items": {}}`, want: "/items type"},
		{name: "enum", doc: `{"currency": "eur", "items": [{"sku": "a", "qty": 1}]}`, want: "/currency enum"},
		{name: "integer as 1.0", doc: `{"currency": "EUR", "items": [{"sku": "a", "qty": 1.0}]}`, want: "/items/0/qty type"},
		{name: "integer as 1e0", doc: `{"currency": "EUR", "items": [{"sku": "a", "qty": 1e0}]}`, want: "/items/0/qty type"},
		{name: "above maximum", doc: `{"currency": "EUR", "items": [{"sku": "a", "qty": 101}]}`, want: "/items/0/qty maximum"},
		{name: "below minimum", doc: `{"currency": "EUR", "items": [{"sku": "a", "qty": 0}]}`, want: "/items/0/qty minimum"},
		{name: "exact beyond float64", doc: valid + `, "big": 9007199254740994}`, want: "/big maximum"},
		{name: "exclusive maximum", doc: valid + `, "discount": 1}`, want: "/discount exclusiveMaximum"},
		{name: "1e400", doc: valid + `, "discount": 1e400}`, want: "/discount number_range"},
		{name: "huge exponent", doc: valid + `, "discount": 1e99999999999}`, want: "/discount number_range"},
		{name: "long digits beyond float64", doc: valid + `, "discount": 1` + strings.Repeat("0", 400) + `}`, want: "/discount number_range"},
		{name: "too many items", doc: `{"currency": "EUR", "items": [{"sku": "a", "qty": 1}, {"sku": "a", "qty": 1}, {"sku": "a", "qty": 1}, {"sku": "a", "qty": 1}]}`, want: "/items maxItems"},
		{name: "too few items", doc: `{"currency": "EUR", "items": []}`, want: "/items minItems"},
		{name: "max length in code points", doc: valid + `, "note": "héllo"}`},
		{name: "too long", doc: valid + `, "note": "hello!"}`, want: "/note maxLength"},
		{name: "pattern", doc: valid + `, "ref": "abc-1"}`, want: "/ref pattern"},
		{name: "formats", doc: valid + `, "email": "a b@c", "id": "0f8fad5b", "at": "2026-12-02", "site": "/relative"}`,
			want: "/email format;/id format;/at format;/site format"},
		{name: "const", doc: valid + `, "flag": false}`, want: "/flag enum"},
		{name: "duplicate key", doc: `{"currency": "EUR", "currency": "USD", "items": []}`, want: "/currency duplicate_key"},
		{name: "duplicate key after unescaping", doc: `{"currency": "EUR", "\u0063urrency": "USD", "items": []}`, want: "/currency duplicate_key"},
		{name: "trailing data", doc: valid + `} {}`, want: " trailing_data"},
		{name: "syntax", doc: `{"currency": "EUR",}`, want: " syntax"},
		{name: "lone surrogate", doc: valid + `, "note": "\ud800"}`, want: "/note utf8"},
		{name: "invalid UTF-8", doc: valid + ", \"note\": \"\xff\"}", want: "/note utf8"},
		{name: "a pair of surrogates", doc: valid + `, "note": "\ud83d\ude00"}`},
		{name: "pointer escapes", doc: valid + `, "a/b~c": 1}`, want: "/a~1b~0c additionalProperties"},
		{name: "not JSON", doc: `orders`, want: " syntax"},
		{name: "empty", doc: ``, want: " syntax"},
		{name: "leading zero", doc: valid + `, "discount": 01}`, want: " syntax"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range s.Check([]byte(tc.doc), DefaultLimits) {
				got = append(got, v.Pointer+" "+v.Rule)
			}
			if g := strings.Join(got, ";"); g != tc.want {
				t.Errorf("violations %q, want %q", g, tc.want)
			}
		})
	}
}

// TestWideSchemas: a schema naming more properties than a search reads
// (found by map) and than a member set's bits hold (remembered by name)
// finds duplicates and missing members wherever the names fall.
func TestWideSchemas(t *testing.T) {
	var props []string
	for i := range 70 {
		props = append(props, fmt.Sprintf(`"p%d": {"type": "integer"}`, i))
	}
	s := compile(t, `{"properties": {`+strings.Join(props, ", ")+`}, "required": ["p1", "p65", "extra"]}`)
	tests := []struct {
		doc, want string
	}{
		{`{"p1": 1, "p65": 2, "extra": 3}`, ""},
		{`{"p65": 2, "extra": 3, "p69": "x"}`, "/p69 type;/p1 required"},
		{`{"p1": 1}`, "/p65 required;/extra required"},
		{`{"p1": 1, "p2": 2, "p1": 3}`, "/p1 duplicate_key"},
		{`{"p66": 1, "p1": 2, "p66": 3}`, "/p66 duplicate_key"},
		{`{"extra": 1, "p1": 2, "extra": 3}`, "/extra duplicate_key"},
		{`{"P1": 1, "p1": 2, "p65": 2, "extra": 3}`, "/P1 case_variant"},
	}
	for _, tc := range tests {
		var got []string
		for _, v := range s.Check([]byte(tc.doc), DefaultLimits) {
			got = append(got, v.Pointer+" "+v.Rule)
		}
		if g := strings.Join(got, ";"); g != tc.want {
			t.Errorf("%s: violations %q, want %q", tc.doc, g, tc.want)
		}
	}
}

// TestHostileShapesCostBoundedWork: deep nesting stops at the depth limit,
// wide objects and arrays are checked in one linear pass, and violations
// stop being collected at the limit.
func TestHostileShapesCostBoundedWork(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	if v := (*Schema)(nil).Check([]byte(deep), DefaultLimits); len(v) != 1 || v[0].Rule != RuleDepth {
		t.Errorf("100k levels: %v", v)
	}
	var wide strings.Builder
	wide.WriteString("{")
	for i := range 100000 {
		fmt.Fprintf(&wide, `"k%d": %d,`, i, i)
	}
	wide.WriteString(`"k5": 0}`)
	if v := (*Schema)(nil).Check([]byte(wide.String()), DefaultLimits); len(v) != 1 || v[0].Rule != RuleDuplicateKey || v[0].Pointer != "/k5" {
		t.Errorf("100k members with a duplicate: %v", v)
	}
	s := compile(t, `{"type": "array", "items": {"type": "integer"}}`)
	huge := "[" + strings.Repeat(`"x",`, 100000) + `"x"]`
	if v := s.Check([]byte(huge), DefaultLimits); len(v) != DefaultLimits.Violations {
		t.Errorf("100k wrong items: %d violations, want %d", len(v), DefaultLimits.Violations)
	}
	long := "{\"" + strings.Repeat("a", 10000) + "\": 1}"
	if v := compile(t, `{"additionalProperties": false}`).Check([]byte(long), DefaultLimits); len(v) != 1 || len(v[0].Pointer) > MaxPointer {
		t.Errorf("a long member name: %v", v)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		schema string
		want   string
	}{
		{`{"type": "object", "oneOf": []}`, "s.oneOf: keyword not supported by apiguard's JSON Schema subset"},
		{`{"type": "objekt"}`, `s.type: unknown type "objekt"`},
		{`{"pattern": "(?=x)"}`, "s.pattern: not an RE2 regular expression"},
		{`{"format": "ipv4"}`, `s.format: format "ipv4" is not supported`},
		{`{"$ref": "https://example.com/s.json"}`, `s.$ref: "https://example.com/s.json": only`},
		{`{"$ref": "#/$defs/missing"}`, `s.$ref: "#/$defs/missing": only`},
		{`{"$defs": {"a": {}}, "$ref": "#/$defs/a", "type": "object"}`, "$ref must stand alone in its schema (beside type)"},
		{`{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "properties": {"x": {"$ref": "#/$defs/a"}}}`, "refers to itself"},
		{`{"enum": [{"a": 1}]}`, "s.enum[0]: only strings, numbers, booleans and null"},
		{`{"minLength": 3, "maxLength": 2}`, "nothing would be valid"},
		{`{"minimum": 1e1000000}`, "s.minimum: exponent out of range (±999999)"},
		{`{"enum": [1, 1e-1000000]}`, "s.enum[1]: exponent out of range"},
		{`{"properties": {"role": {}, "Role": {}}}`, `s.properties.Role: differs only in letter case from property "role"`},
		{`{"properties": {"role": {}, "role": {"type": "integer"}}}`, `s.properties.role: duplicate key`},
		{`{"$schema": "http://json-schema.org/draft-07/schema#"}`, "only draft 2020-12"},
		{`{"items": {"$defs": {}}}`, "s.items.$defs: $defs only at the schema's root"},
		{`[]`, "a schema must be an object or a boolean"},
	}
	for _, tc := range tests {
		r := &config.Reader{}
		if s := Compile(r, "s", gjson.Parse(tc.schema)); s != nil {
			t.Errorf("%s: compiled", tc.schema)
		}
		var got []string
		for _, e := range r.Errors() {
			got = append(got, e.Error())
		}
		if !strings.Contains(strings.Join(got, "\n"), tc.want) {
			t.Errorf("%s: errors %q, want one containing %q", tc.schema, got, tc.want)
		}
	}
}

// TestRecursiveSchema: a tree schema through $defs checks every level and
// stops at the depth limit.
func TestRecursiveSchema(t *testing.T) {
	s := compile(t, `{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}, "n": {"type": "integer"}}}}}`)
	if v := s.Check([]byte(`{"children": [{"children": [{"n": "x"}]}]}`), DefaultLimits); len(v) != 1 || v[0].Pointer != "/children/0/children/0/n" {
		t.Errorf("violations %v", v)
	}
}

func FuzzCheck(f *testing.F) {
	for _, seed := range []string{`{"currency": "EUR", "items": [{"sku": "a", "qty": 1}]}`, `[1, 2.5e3, -0, "\u00e9", true, null]`, `{"a": {"b": [{}]}}`, `"\ud83d\ude00"`, `{"":""}`} {
		f.Add([]byte(seed))
	}
	s := compile(f, orderSchema)
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, v := range s.Check(doc, DefaultLimits) {
			if len(v.Pointer) > MaxPointer || v.Rule == "" {
				t.Fatalf("violation %+v", v)
			}
		}
	})
}

func TestCheckText(t *testing.T) {
	tests := []struct {
		schema, text string
		want         string
	}{
		{`{"type": "integer", "minimum": 1}`, "7", ""},
		{`{"type": "integer", "minimum": 1}`, "0", "minimum"},
		{`{"type": "integer"}`, "1.0", "type"},
		{`{"type": "integer"}`, "abc", "type"},
		{`{"type": "integer"}`, " 7", "type"},
		{`{"type": "number", "maximum": 10}`, "1e3", "maximum"},
		{`{"type": "boolean"}`, "true", ""},
		{`{"type": "boolean"}`, "yes", "type"},
		{`{"type": "string", "format": "uuid"}`, "0f8fad5b-d9cb-469f-a165-70867728950e", ""},
		{`{"type": "string", "maxLength": 3}`, "1234", "maxLength"},
		{`{"type": "string"}`, "12", ""},
		{`{"enum": ["asc", "desc"]}`, "asc", ""},
		{`{"enum": ["asc", "desc"]}`, "up", "enum"},
		{`{"type": "string", "pattern": "^[a-z]+$"}`, "a\"b\\\\c\x01", "pattern"},
		{`{"type": "string"}`, "\xff", "utf8"},
		{`{"type": "integer"}`, "\xff", "type,utf8"},
		{`false`, "7", "false"},
		{`{"enum": [2, "1"]}`, "1", ""},
		{`{"enum": [1, "2"]}`, "1", "enum"},
	}
	for _, tc := range tests {
		var got []string
		for _, v := range compile(t, tc.schema).CheckText(tc.text, DefaultLimits) {
			got = append(got, v.Rule)
		}
		if g := strings.Join(got, ","); g != tc.want {
			t.Errorf("%s on %q: %q, want %q", tc.schema, tc.text, g, tc.want)
		}
	}
}

// TestCheckTextAllocatesNothing: a request's parameters are checked in
// place, valid or not, on the path of every request their route takes.
func TestCheckTextAllocatesNothing(t *testing.T) {
	tests := []struct{ schema, text string }{
		{`{"type": "integer", "minimum": 1, "maximum": 100}`, "42"},
		{`{"type": "number", "minimum": 0.5}`, "2.75"},
		{`{"type": "string", "pattern": "^[a-z0-9-]{1,32}$", "maxLength": 32}`, "acme-corp"},
		{`{"type": "string", "format": "uuid"}`, "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{`{"type": "boolean"}`, "true"},
	}
	for _, tc := range tests {
		s := compile(t, tc.schema)
		if v := s.CheckText(tc.text, DefaultLimits); len(v) > 0 {
			t.Fatalf("%s on %q: %v", tc.schema, tc.text, v)
		}
		if n := testing.AllocsPerRun(100, func() { s.CheckText(tc.text, DefaultLimits) }); n > 0 {
			t.Errorf("%s on %q: %.0f allocations", tc.schema, tc.text, n)
		}
	}
}

// TestStringsAtEveryOffset puts what ends a string's plain run (an escape,
// a multi-byte character, a byte that is not UTF-8, a control character) at
// every place of strings of up to 24 bytes, around the eight-byte words the
// scan reads: as a value, whose unescaped length is checked, and as a
// member name, which must match the schema's after unescaping.
func TestStringsAtEveryOffset(t *testing.T) {
	for _, tc := range []struct {
		raw, text string // in the document, and unescaped
		rule      string // what the document breaks, "" for nothing
	}{
		{raw: `\"`, text: `"`},
		{raw: `\u00e9`, text: "é"},
		{raw: "é", text: "é"},
		{raw: "\U0001F600", text: "\U0001F600"},
		{raw: "\xff", rule: RuleText},
		{raw: "\x01", rule: RuleSyntax},
	} {
		for n := 0; n <= 24; n++ {
			for at := 0; at <= n; at++ {
				raw := strings.Repeat("a", at) + tc.raw + strings.Repeat("b", n-at)
				text := strings.Repeat("a", at) + tc.text + strings.Repeat("b", n-at)
				length := utf8.RuneCountInString(text)
				value := compile(t, `{"type": "string", "minLength": `+strconv.Itoa(length)+`, "maxLength": `+strconv.Itoa(length)+`}`)
				name, _ := json.Marshal(text)
				member := compile(t, `{"type": "object", "additionalProperties": false, "required": [`+string(name)+`], "properties": {`+string(name)+`: {"type": "integer"}}}`)
				for _, c := range []struct {
					s   *Schema
					doc string
				}{{value, `"` + raw + `"`}, {member, `{"` + raw + `": 1}`}} {
					var rules []string
					for _, v := range c.s.Check([]byte(c.doc), DefaultLimits) {
						rules = append(rules, v.Rule)
					}
					if got := strings.Join(rules, ","); got != tc.rule && !(tc.rule != "" && c.s == member && strings.HasPrefix(got, tc.rule)) {
						t.Errorf("%q: %q, want %q", c.doc, got, tc.rule)
					}
				}
			}
		}
	}
}
