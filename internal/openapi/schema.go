package openapi

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// schemaWriter turns one OpenAPI schema (a body's, or one parameter's) into
// a schema of filters/schema's subset. Each component the schema refers to
// becomes one entry of the root's $defs, so shared and recursive components
// keep their shape.
type schemaWriter struct {
	// where names the schema in warnings: "addPet (POST /pet): request body".
	where string
	warn  func(string)
	names map[*openapi3.Schema]string
	taken map[string]bool
	defs  map[string]any
	// open are the schemas being written out: an allOf or anyOf part that
	// is one of them refers back to itself, which no merge can write out.
	open map[*openapi3.Schema]bool
}

func newSchemaWriter(where string, warn func(string)) *schemaWriter {
	return &schemaWriter{where: where, warn: warn,
		names: map[*openapi3.Schema]string{}, taken: map[string]bool{}, defs: map[string]any{},
		open: map[*openapi3.Schema]bool{}}
}

// root writes ref as a whole schema, with the $defs it refers to.
func (w *schemaWriter) root(ref *openapi3.SchemaRef) any {
	s := w.schema(ref, "")
	if len(w.defs) == 0 {
		return s
	}
	m, ok := s.(map[string]any)
	if !ok {
		// A false allOf part made the whole schema a boolean: the
		// components it referred to are not needed.
		return s
	}
	m["$defs"] = w.defs
	return m
}

func (w *schemaWriter) dropped(at, keyword, consequence string) {
	w.warnAt(at, keyword+" is not in apiguard's JSON Schema subset, dropped: "+consequence)
}

func (w *schemaWriter) warnAt(at, msg string) {
	if at == "" {
		at = "/"
	}
	w.warn(w.where + " schema at " + at + ": " + msg)
}

// schema writes one schema found at the JSON pointer at of the output.
func (w *schemaWriter) schema(ref *openapi3.SchemaRef, at string) any {
	if ref == nil || ref.Value == nil {
		return true
	}
	if ref.Ref != "" {
		return map[string]any{"$ref": "#/$defs/" + w.def(ref)}
	}
	return w.inline(ref.Value, at)
}

// def names the component ref refers to, writing it into $defs the first
// time; the name is taken before its body is written, so a recursive
// component refers to itself.
func (w *schemaWriter) def(ref *openapi3.SchemaRef) string {
	if name, ok := w.names[ref.Value]; ok {
		return name
	}
	base := ref.Ref[strings.LastIndexAny(ref.Ref, "/#")+1:]
	base = strings.Map(func(r rune) rune {
		if r == '~' || r == '/' || r < ' ' {
			return '_'
		}
		return r
	}, base)
	if base == "" {
		base = "schema"
	}
	name := base
	for i := 2; w.taken[name]; i++ {
		name = base + "_" + itoa(i)
	}
	w.names[ref.Value], w.taken[name] = name, true
	w.defs[name] = w.inline(ref.Value, "/$defs/"+name)
	return name
}

// Integer ranges of the OpenAPI formats int32 and int64, written as JSON
// integers so that filters/schema compares them exactly.
var intRanges = map[string][2]json.Number{
	"int32": {"-2147483648", "2147483647"},
	"int64": {"-9223372036854775808", "9223372036854775807"},
}

// Formats filters/schema checks, and those that only describe (OpenAPI's
// number formats are checked as ranges or by float64 parsing itself).
var (
	checkedFormats    = []string{"email", "uuid", "date-time", "uri"}
	annotationFormats = []string{"float", "double", "password", "binary"}
)

func (w *schemaWriter) inline(s *openapi3.Schema, at string) any {
	if s.Always != nil {
		return *s.Always
	}
	w.open[s] = true
	defer delete(w.open, s)
	m := map[string]any{}
	types := s.Type.Slice()
	switch len(types) {
	case 0:
	case 1:
		m["type"] = types[0]
	default:
		m["type"] = types
	}
	if s.MaxLength != nil && s.MinLength > *s.MaxLength || s.MaxItems != nil && s.MinItems > *s.MaxItems {
		// filters/schema refuses such a schema as a mistake; what the
		// document says is that no value is valid.
		w.warnAt(at, "a minimum above its maximum: no value is accepted")
		return false
	}
	w.values(s, m, at)
	w.numbers(s, m, types, at)
	w.strings(s, m, at)
	w.arrays(s, m, at)
	w.objects(s, m, at)
	for _, k := range []struct {
		name  string
		set   bool
		gives string
	}{
		{"multipleOf", s.MultipleOf != nil, "any multiple is accepted"},
		{"not", s.Not != nil, "what it excludes is accepted"},
		{"if/then/else", s.If != nil || s.Then != nil || s.Else != nil, "its conditions are not checked"},
		{"$dynamicRef", s.DynamicRef != "", "its target is not checked"},
	} {
		if k.set {
			w.dropped(at, k.name, k.gives)
		}
	}
	for _, k := range sortedKeys(s.Extensions) {
		if !strings.HasPrefix(k, "x-") {
			w.dropped(at, k, "it is not checked")
		}
	}
	if len(s.OneOf) > 0 || len(s.AnyOf) > 0 {
		w.alternatives(s, m, at)
	}
	var out any = m
	if len(s.AllOf) > 0 {
		out = w.allOf(s, m, at)
	}
	// OpenAPI 3.0's nullable admits null beside what the rest allows,
	// an allOf's parts included.
	if m, ok := out.(map[string]any); ok && s.Nullable {
		admitNull(m)
	}
	return out
}

func (w *schemaWriter) values(s *openapi3.Schema, m map[string]any, at string) {
	if len(s.Enum) > 0 {
		if scalars(s.Enum) {
			m["enum"] = s.Enum
		} else {
			w.dropped(at, "enum of objects or arrays", "any value of the type is accepted")
		}
	}
	if s.Const != nil {
		if scalars([]any{s.Const}) {
			m["const"] = s.Const
		} else {
			w.dropped(at, "const object or array", "any value of the type is accepted")
		}
	}
}

func scalars(vs []any) bool {
	for _, v := range vs {
		switch v.(type) {
		case nil, string, bool, float64, int, int64, uint64, json.Number:
		default:
			return false
		}
	}
	return true
}

func (w *schemaWriter) numbers(s *openapi3.Schema, m map[string]any, types []string, at string) {
	if s.Min != nil {
		if s.ExclusiveMin.IsTrue() {
			m["exclusiveMinimum"] = *s.Min
		} else {
			m["minimum"] = *s.Min
		}
	}
	if s.Max != nil {
		if s.ExclusiveMax.IsTrue() {
			m["exclusiveMaximum"] = *s.Max
		} else {
			m["maximum"] = *s.Max
		}
	}
	if v := s.ExclusiveMin.Value; v != nil {
		m["exclusiveMinimum"] = *v
	}
	if v := s.ExclusiveMax.Value; v != nil {
		m["exclusiveMaximum"] = *v
	}
	numeric := slices.Contains(types, "integer") || slices.Contains(types, "number")
	switch r, isInt := intRanges[s.Format]; {
	case s.Format == "":
	case isInt && numeric:
		// The format's range bounds a side the schema leaves open.
		if m["minimum"] == nil && m["exclusiveMinimum"] == nil {
			m["minimum"] = r[0]
		}
		if m["maximum"] == nil && m["exclusiveMaximum"] == nil {
			m["maximum"] = r[1]
		}
	case isInt, slices.Contains(annotationFormats, s.Format):
	case slices.Contains(checkedFormats, s.Format):
		m["format"] = s.Format
	default:
		w.dropped(at, "format "+s.Format, "any "+orAny(types)+" is accepted")
	}
}

func orAny(types []string) string {
	if len(types) == 1 {
		return types[0]
	}
	return "value"
}

func (w *schemaWriter) strings(s *openapi3.Schema, m map[string]any, at string) {
	if s.MinLength > 0 {
		m["minLength"] = s.MinLength
	}
	if s.MaxLength != nil {
		m["maxLength"] = *s.MaxLength
	}
	if s.Pattern != "" {
		if _, err := regexp.Compile(s.Pattern); err != nil {
			w.dropped(at, "pattern "+quote(s.Pattern)+" (not RE2: "+err.Error()+")", "any string is accepted")
		} else {
			m["pattern"] = s.Pattern
		}
	}
}

func (w *schemaWriter) arrays(s *openapi3.Schema, m map[string]any, at string) {
	switch {
	case len(s.PrefixItems) > 0:
		// items then covers only the elements after the prefix: without
		// prefixItems it would wrongly apply to all.
		w.dropped(at, "prefixItems", "the array's elements are not checked")
	case s.Items != nil:
		m["items"] = w.schema(s.Items, at+"/items")
	}
	if s.MinItems > 0 {
		m["minItems"] = s.MinItems
	}
	if s.MaxItems != nil {
		m["maxItems"] = *s.MaxItems
	}
	if s.UniqueItems {
		w.dropped(at, "uniqueItems", "repeated elements are accepted")
	}
	if s.Contains != nil || s.MinContains != nil || s.MaxContains != nil {
		w.dropped(at, "contains", "the array need not contain a match")
	}
	if s.UnevaluatedItems.Has != nil || s.UnevaluatedItems.Schema != nil {
		w.dropped(at, "unevaluatedItems", "further elements are accepted")
	}
}

func (w *schemaWriter) objects(s *openapi3.Schema, m map[string]any, at string) {
	if len(s.Properties) > 0 {
		props := map[string]any{}
		for _, name := range sortedKeys(s.Properties) {
			props[name] = w.schema(s.Properties[name], at+"/properties/"+escapePointer(name))
		}
		m["properties"] = props
	}
	var required []string
	for _, name := range s.Required {
		// A request need not send what the server alone writes.
		if p := s.Properties[name]; p != nil && p.Value != nil && p.Value.ReadOnly || slices.Contains(required, name) {
			continue
		}
		required = append(required, name)
	}
	if len(required) > 0 {
		m["required"] = required
	}
	switch ap := s.AdditionalProperties; {
	case len(s.PatternProperties) > 0:
		// additionalProperties then spares the names the patterns match:
		// without them it would refuse those names.
		w.dropped(at, "patternProperties", "members beyond properties are accepted")
	case ap.Has != nil:
		m["additionalProperties"] = *ap.Has
	case ap.Schema != nil:
		m["additionalProperties"] = w.schema(ap.Schema, at+"/additionalProperties")
	}
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"minProperties", s.MinProps > 0}, {"maxProperties", s.MaxProps != nil},
		{"propertyNames", s.PropertyNames != nil},
		{"dependentRequired", len(s.DependentRequired) > 0}, {"dependentSchemas", len(s.DependentSchemas) > 0},
		{"unevaluatedProperties", s.UnevaluatedProperties.Has != nil || s.UnevaluatedProperties.Schema != nil},
	} {
		if k.set {
			w.dropped(at, k.name, "the object's members are checked without it")
		}
	}
}

// alternatives keeps the one form of oneOf/anyOf the subset can say:
// a schema or null. Any other is dropped, accepting what any would.
func (w *schemaWriter) alternatives(s *openapi3.Schema, m map[string]any, at string) {
	for _, group := range []struct {
		name string
		alts openapi3.SchemaRefs
	}{{"oneOf", s.OneOf}, {"anyOf", s.AnyOf}} {
		if len(group.alts) == 0 {
			continue
		}
		if other := orNull(group.alts); other != nil && !w.open[other.Value] {
			// The alternative is written out, a component too (the
			// components it refers to stay in $defs), to admit null.
			if alt, ok := w.inline(other.Value, at+"/"+group.name).(map[string]any); ok {
				admitNull(alt)
				if merged, ok := merge(m, alt); ok {
					replace(m, merged)
					continue
				}
			}
		}
		w.dropped(at, group.name, "the value is checked against none of its alternatives")
	}
}

// orNull returns the other alternative of [X, {type: null}].
func orNull(alts openapi3.SchemaRefs) *openapi3.SchemaRef {
	if len(alts) != 2 {
		return nil
	}
	for i, a := range alts {
		if a != nil && a.Value != nil && a.Value.Type.Is("null") {
			if o := alts[1-i]; o != nil && o.Value != nil {
				return o
			}
		}
	}
	return nil
}

// admitNull widens a written schema to accept null too.
func admitNull(m map[string]any) {
	if c, ok := m["const"]; ok {
		delete(m, "const")
		m["enum"] = []any{c}
	}
	switch t := m["type"].(type) {
	case string:
		m["type"] = []string{t, "null"}
	case []string:
		if !slices.Contains(t, "null") {
			m["type"] = append(slices.Clone(t), "null")
		}
	}
	if e, ok := m["enum"].([]any); ok && !slices.Contains(e, nil) {
		m["enum"] = append(slices.Clone(e), nil)
	}
}

func replace(dst, src map[string]any) {
	for k := range dst {
		delete(dst, k)
	}
	for k, v := range src {
		dst[k] = v
	}
}

// allOf merges the parts into one schema when they do not disagree: the
// union of their properties and required names, one type, and any other
// keyword stated alike. additionalProperties then applies to the merged
// properties, which is what authors of allOf mean (JSON Schema would apply
// each part's to its own properties only, refusing the other parts').
func (w *schemaWriter) allOf(s *openapi3.Schema, own map[string]any, at string) any {
	merged := own
	for i, part := range s.AllOf {
		if part == nil || part.Value == nil {
			continue
		}
		if w.open[part.Value] {
			w.dropped(at, "allOf with a part that refers back to the schema", "only the schema's own keywords are checked")
			return own
		}
		// A part that refers to a component is merged as written out;
		// the components it refers to stay in $defs.
		p := w.inline(part.Value, at+"/allOf/"+itoa(i))
		switch p := p.(type) {
		case bool:
			if !p {
				return false
			}
			continue
		case map[string]any:
			var ok bool
			if merged, ok = merge(merged, p); !ok {
				w.dropped(at, "allOf with parts that disagree", "only the schema's own keywords are checked")
				return own
			}
		}
	}
	return merged
}

// merge combines two schemas both must hold, if the subset can say it.
func merge(a, b map[string]any) (map[string]any, bool) {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	if _, ref := a["$ref"]; ref && len(b) > 0 {
		return nil, false
	}
	if _, ref := b["$ref"]; ref && len(a) > 0 {
		return nil, false
	}
	for k, bv := range b {
		av, both := out[k]
		switch {
		case !both:
			out[k] = bv
		case k == "properties":
			props := map[string]any{}
			for name, s := range av.(map[string]any) {
				props[name] = s
			}
			for name, s := range bv.(map[string]any) {
				if prev, dup := props[name]; dup && !reflect.DeepEqual(prev, s) {
					return nil, false
				}
				props[name] = s
			}
			out[k] = props
		case k == "required":
			req := slices.Clone(av.([]string))
			for _, name := range bv.([]string) {
				if !slices.Contains(req, name) {
					req = append(req, name)
				}
			}
			out[k] = req
		case !reflect.DeepEqual(av, bv):
			return nil, false
		}
	}
	return out, true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// escapePointer escapes a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
