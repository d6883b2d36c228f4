// Package schema checks JSON documents against a compiled subset of JSON
// Schema draft 2020-12, in one strict streaming pass that also refuses what
// would let two JSON readers see different documents: duplicate member
// names, names that differ only in letter case from one the schema names,
// invalid UTF-8 and lone surrogates, nesting past a limit, trailing data and
// numbers no float64 can hold.
//
// The subset: type, properties, required, additionalProperties, items, enum
// and const (of scalars), minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, minLength, maxLength, pattern (RE2), minItems, maxItems,
// format (email, uuid, date-time, uri), $ref to "#" or "#/$defs/<name>", and
// boolean schemas. The annotations title, description, default, examples,
// deprecated, readOnly, writeOnly, $comment and $schema (2020-12 only) are
// allowed and ignore. Any other keyword is a configuration error: a schema
// never silently checks less than it says.
package schema

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/internal/pattern"
)

// Schema is a compiled schema, immutable and safe for concurrent use.
type Schema struct {
	root *node
}

// kind is a bit set of JSON types; integer is a number without a fraction
// or exponent in its text.
type kind uint8

const (
	kNull kind = 1 << iota
	kBoolean
	kObject
	kArray
	kNumber
	kInteger
	kString
)

var kindNames = map[string]kind{
	"null": kNull, "boolean": kBoolean, "object": kObject, "array": kArray,
	"number": kNumber | kInteger, "integer": kInteger, "string": kString,
}

type node struct {
	// never is the schema false: nothing is valid.
	never bool
	// types is 0 for any type; allowed is types, or every kind for 0.
	types, allowed kind
	// checksText: a string's text is checked (length, pattern, format or
	// enum), not only scanned.
	checksText bool
	// smallBounds: the bounds are integers of at most 18 digits, and
	// there is no enum, so that an integer that size compares as an int64.
	smallBounds bool
	// propNames and propNodes are the properties, in the order written;
	// propIndex finds one by name where there are more than a search
	// reads quickly (see property).
	propNames []string
	propNodes []*node
	propIndex map[string]int
	// folded maps each property name, case-folded, to it: a member whose
	// name folds to one of them but is not it is refused.
	folded   map[string]string
	required []string
	// requiredProps[i] is required[i]'s index in propNames, -1 for none.
	requiredProps []int
	additional    *node
	items         *node
	enum          []scalar
	min, max      *bound
	minLen        int
	maxLen        int
	pattern       *pattern.Pattern
	minItems      int
	maxItems      int
	format        string
	// ref is the $ref as written, target what it names.
	ref    string
	target *node
}

// bound is a numeric bound, exact.
type bound struct {
	value     decimal
	exclusive bool
	// keyword names the bound in a violation.
	keyword string
	// small is the bound when it is written as an integer of at most 18
	// digits (isSmall), for the integers most documents compare.
	small   int64
	isSmall bool
}

// scalar is an enum or const value: its kind and canonical text (a string
// unescaped, a number as decimal.appendCanonical spells it, true, false,
// null).
type scalar struct {
	k    kind
	text string
}

var annotations = map[string]bool{
	"title": true, "description": true, "default": true, "examples": true, "deprecated": true,
	"readOnly": true, "writeOnly": true, "$comment": true,
}

var formats = map[string]bool{"email": true, "uuid": true, "date-time": true, "uri": true}

// Compile reads the schema v with r, every error at its JSON path (path is
// the schema's own), and returns it; nil when it has errors.
func Compile(r *config.Reader, path string, v gjson.Result) *Schema {
	c := compiler{r: r, defs: map[string]*node{}, defNames: map[string]bool{}}
	before := len(r.Errors())
	if v.IsObject() {
		if d := v.Get(`\$defs`); d.Exists() {
			if !d.IsObject() {
				r.Errorf(config.Join(path, "$defs"), "must be an object, got %s", config.Kind(d))
			} else {
				d.ForEach(func(k, _ gjson.Result) bool {
					c.defNames[k.String()] = true
					return true
				})
				d.ForEach(func(k, dv gjson.Result) bool {
					c.defs[k.String()] = c.node(config.Join(config.Join(path, "$defs"), k.String()), dv, 1)
					return true
				})
			}
		}
	}
	c.root = c.node(path, v, 0)
	c.resolve(path)
	if len(r.Errors()) > before {
		return nil
	}
	return &Schema{root: c.root}
}

// maxSchemaDepth bounds a schema's own nesting, so that compiling a hostile
// or mistaken configuration cannot exhaust the stack.
const maxSchemaDepth = 64

type compiler struct {
	r        *config.Reader
	defNames map[string]bool
	defs     map[string]*node
	root     *node
	refs     []*node
}

// resolve points each $ref at its target, refusing a chain of references
// that never reaches a schema.
func (c *compiler) resolve(path string) {
	for _, n := range c.refs {
		n.target = c.root
		if n.ref != "#" {
			n.target = c.defs[strings.TrimPrefix(n.ref, "#/$defs/")]
		}
	}
	for _, n := range c.refs {
		seen := map[*node]bool{}
		for t := n; t != nil && t.target != nil; t = t.target {
			if seen[t] {
				c.r.Errorf(path, "$ref %q refers to itself without a schema in between", n.ref)
				break
			}
			seen[t] = true
		}
	}
}

func (c *compiler) node(path string, v gjson.Result, depth int) *node {
	r := c.r
	n := &node{allowed: ^kind(0), minLen: -1, maxLen: -1, minItems: -1, maxItems: -1}
	switch {
	case v.Type == gjson.True:
		return n
	case v.Type == gjson.False:
		n.never = true
		return n
	case !v.IsObject():
		r.Errorf(path, "a schema must be an object or a boolean, got %s", config.Kind(v))
		return n
	case depth > maxSchemaDepth:
		r.Errorf(path, "schema nested deeper than %d levels", maxSchemaDepth)
		return n
	}
	v.ForEach(func(k, kv gjson.Result) bool {
		key := k.String()
		p := config.Join(path, key)
		switch key {
		case "$schema":
			if s, _ := r.Str(p, kv); s != "" && s != "https://json-schema.org/draft/2020-12/schema" {
				r.Errorf(p, "only draft 2020-12 is supported")
			}
		case "$defs":
			if depth > 0 {
				r.Errorf(p, "$defs only at the schema's root")
			}
		case "$ref":
			s, _ := r.Str(p, kv)
			name, isDef := strings.CutPrefix(s, "#/$defs/")
			switch {
			case s == "#":
			case isDef && c.defNames[name] && !strings.ContainsAny(name, "/~"):
			default:
				r.Errorf(p, "%q: only \"#\" and \"#/$defs/<name>\" of this schema are supported", s)
			}
			n.ref = s
			c.refs = append(c.refs, n)
		case "type":
			c.types(p, kv, n)
		case "properties":
			if !kv.IsObject() {
				r.Errorf(p, "must be an object, got %s", config.Kind(kv))
				break
			}
			n.folded = map[string]string{}
			kv.ForEach(func(pk, pv gjson.Result) bool {
				name := pk.String()
				n.propNames = append(n.propNames, name)
				n.propNodes = append(n.propNodes, c.node(config.Join(p, name), pv, depth+1))
				f := fold(name)
				switch other, dup := n.folded[f]; {
				case dup && other == name:
					r.Errorf(config.Join(p, name), "duplicate key")
				case dup:
					r.Errorf(config.Join(p, name), "differs only in letter case from property %q", other)
				}
				n.folded[f] = name
				return true
			})
		case "required":
			n.required = r.Strings(p, kv)
		case "additionalProperties":
			n.additional = c.node(p, kv, depth+1)
		case "items":
			n.items = c.node(p, kv, depth+1)
		case "enum":
			if !kv.IsArray() || len(kv.Array()) == 0 {
				r.Errorf(p, "must be a non-empty array")
				break
			}
			r.Array(p, kv, func(ep string, _ int, ev gjson.Result) { n.enum = append(n.enum, c.scalar(ep, ev)) })
		case "const":
			n.enum = []scalar{c.scalar(p, kv)}
		case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
			b := c.bound(p, kv, key)
			if strings.HasSuffix(key, "inimum") {
				n.min = tighter(n.min, b, -1)
			} else {
				n.max = tighter(n.max, b, 1)
			}
		case "minLength":
			n.minLen = int(r.Count(p, kv, 0, 1<<30))
		case "maxLength":
			n.maxLen = int(r.Count(p, kv, 0, 1<<30))
		case "minItems":
			n.minItems = int(r.Count(p, kv, 0, 1<<30))
		case "maxItems":
			n.maxItems = int(r.Count(p, kv, 0, 1<<30))
		case "pattern":
			s, _ := r.Str(p, kv)
			re, err := pattern.Compile(s)
			if err != nil {
				r.Errorf(p, "not an RE2 regular expression: %v", err)
				break
			}
			n.pattern = re
		case "format":
			s, _ := r.Str(p, kv)
			if !formats[s] {
				r.Errorf(p, "format %q is not supported (email, uuid, date-time, uri)", s)
			}
			n.format = s
		default:
			if !annotations[key] {
				r.Errorf(p, "keyword not supported by apiguard's JSON Schema subset")
			}
		}
		return true
	})
	if n.ref != "" {
		v.ForEach(func(k, _ gjson.Result) bool {
			if key := k.String(); key != "$ref" && key != "$defs" && key != "$schema" && !annotations[key] {
				r.Errorf(config.Join(path, "$ref"), "$ref must stand alone in its schema (beside %s)", key)
				return false
			}
			return true
		})
	}
	if n.types != 0 {
		n.allowed = n.types
	}
	n.checksText = n.minLen >= 0 || n.maxLen >= 0 || n.pattern != nil || n.format != "" || len(n.enum) > 0
	n.smallBounds = (n.min == nil || n.min.isSmall) && (n.max == nil || n.max.isSmall) && len(n.enum) == 0
	if len(n.propNames) > linearProperties {
		n.propIndex = make(map[string]int, len(n.propNames))
		for i, name := range n.propNames {
			n.propIndex[name] = i
		}
	}
	for _, name := range n.required {
		n.requiredProps = append(n.requiredProps, n.property([]byte(name)))
	}
	if n.minLen >= 0 && n.maxLen >= 0 && n.minLen > n.maxLen || n.minItems >= 0 && n.maxItems >= 0 && n.minItems > n.maxItems {
		r.Errorf(path, "a minimum above its maximum: nothing would be valid")
	}
	return n
}

// linearProperties is how many properties a search compares before a map
// is faster: a name hashed without AES in wasm costs a few comparisons.
const linearProperties = 8

// propNode is the schema of property prop, nil when prop is -1 (none).
func (n *node) propNode(prop int) *node {
	if prop < 0 {
		return nil
	}
	return n.propNodes[prop]
}

// property is the index of the property named key, -1 when n (which may be
// nil) names none.
func (n *node) property(key []byte) int {
	switch {
	case n == nil:
		return -1
	case n.propIndex != nil:
		if i, ok := n.propIndex[string(key)]; ok {
			return i
		}
		return -1
	}
	for i, name := range n.propNames {
		if len(name) == len(key) && (len(key) == 0 || name[0] == key[0]) && name == string(key) {
			return i
		}
	}
	return -1
}

func (c *compiler) types(p string, v gjson.Result, n *node) {
	add := func(p string, v gjson.Result) {
		s, _ := c.r.Str(p, v)
		k, ok := kindNames[s]
		if !ok && s != "" {
			c.r.Errorf(p, "unknown type %q", s)
		}
		n.types |= k
	}
	if v.IsArray() {
		c.r.Array(p, v, func(p string, _ int, v gjson.Result) { add(p, v) })
		return
	}
	add(p, v)
}

func (c *compiler) scalar(p string, v gjson.Result) scalar {
	switch v.Type {
	case gjson.String:
		return scalar{kString, v.String()}
	case gjson.Number:
		d, ok := parseDecimal([]byte(v.Raw))
		if !ok {
			c.r.Errorf(p, "exponent out of range (±%d)", maxExponent)
			return scalar{}
		}
		return scalar{kNumber, string(d.appendCanonical(nil))}
	case gjson.True, gjson.False:
		return scalar{kBoolean, v.Raw}
	case gjson.Null:
		return scalar{kNull, "null"}
	}
	c.r.Errorf(p, "only strings, numbers, booleans and null are supported here")
	return scalar{}
}

func (c *compiler) bound(p string, v gjson.Result, keyword string) *bound {
	if v.Type != gjson.Number {
		c.r.Errorf(p, "must be a number, got %s", config.Kind(v))
		return nil
	}
	d, ok := parseDecimal([]byte(v.Raw))
	if !ok {
		c.r.Errorf(p, "exponent out of range (±%d)", maxExponent)
		return nil
	}
	b := &bound{value: d, exclusive: strings.HasPrefix(keyword, "exclusive"), keyword: keyword}
	if digits := strings.TrimPrefix(v.Raw, "-"); len(digits) <= 18 && !strings.ContainsAny(digits, ".eE") {
		b.small, _ = strconv.ParseInt(v.Raw, 10, 64)
		b.isSmall = true
	}
	return b
}

// tighter returns the stricter of two bounds on one side (dir -1 for a
// minimum, 1 for a maximum).
func tighter(a, b *bound, dir int) *bound {
	if a == nil || b == nil {
		if a == nil {
			return b
		}
		return a
	}
	switch c := a.value.cmp(&b.value) * dir; {
	case c < 0:
		return a
	case c > 0:
		return b
	case b.exclusive:
		return b
	}
	return a
}

// fold is the key two names equal under simple case folding share.
func fold(s string) string { return strings.ToLower(strings.ToUpper(s)) }
