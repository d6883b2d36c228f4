package openapi

import (
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// route is one route of the filter JSON (README, Configuration reference).
type route struct {
	Name     string         `json:"name"`
	Match    match          `json:"match"`
	Auth     any            `json:"auth"`
	Validate map[string]any `json:"validate,omitempty"`
	Authz    map[string]any `json:"authz,omitempty"`
}

type match struct {
	Path    string   `json:"path"`
	Methods []string `json:"methods"`
}

type auth struct {
	Providers []string `json:"providers"`
	Optional  bool     `json:"optional,omitempty"`
}

// methodOrder is the order of an operation's routes within one path.
var methodOrder = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}

// operation is one operation being converted.
type operation struct {
	c      *converter
	path   string
	method string
	op     *openapi3.Operation
	// label names the operation in messages: "addPet (POST /pet)".
	label string
}

func (o *operation) warn(format string, args ...any) {
	o.c.warnings = append(o.c.warnings, o.label+": "+fmt.Sprintf(format, args...))
}

func (o *operation) fail(format string, args ...any) {
	o.c.errs = append(o.c.errs, o.label+": "+fmt.Sprintf(format, args...))
}

// route converts the operation, nil when it cannot be.
func (o *operation) route(item *openapi3.PathItem) *route {
	tmpl, params, ok := o.template()
	if !ok {
		return nil
	}
	rt := &route{Name: o.c.routeName(o.op.OperationID, o.method, o.path), Match: match{Path: tmpl, Methods: []string{o.method}}}
	var scopes []any
	rt.Auth, scopes, ok = o.auth()
	if !ok {
		return nil
	}
	switch len(scopes) {
	case 0:
	case 1:
		rt.Authz = map[string]any{"allow": scopes[0]}
	default:
		rt.Authz = map[string]any{"allow": map[string]any{"any": scopes}}
	}
	v := map[string]any{}
	o.parameters(item, params, v)
	if o.op.RequestBody != nil && o.op.RequestBody.Value != nil {
		if b := o.body(o.op.RequestBody.Value); b != nil {
			v["body"] = b
		}
	}
	if len(v) > 0 {
		rt.Validate = o.c.overGlobal(v)
	}
	return rt
}

// template writes the OpenAPI path as a route template: the same syntax,
// but a parameter's name must be an identifier, so others are renamed
// (params maps each OpenAPI name to its name in the template).
func (o *operation) template() (string, map[string]string, bool) {
	params, used := map[string]string{}, map[string]bool{}
	segs := strings.Split(strings.TrimPrefix(o.c.opts.BasePath+o.path, "/"), "/")
	for i, seg := range segs {
		if !strings.ContainsAny(seg, "{}") {
			if seg == "." || seg == ".." || seg == "**" || seg == "" && i < len(segs)-1 || strings.ContainsFunc(seg, notInRoutePath) {
				o.fail("path segment %q cannot be matched: apiguard matches normalized paths, whose segments are never empty, . or .., nor hold ?#%%\\;*{} or control characters", seg)
				return "", nil, false
			}
			continue
		}
		name, ok := strings.CutPrefix(seg, "{")
		name, ok2 := strings.CutSuffix(name, "}")
		if !ok || !ok2 || strings.ContainsAny(name, "{}") {
			o.fail("path segment %q mixes a parameter with other text: apiguard's templates capture whole segments", seg)
			return "", nil, false
		}
		id := identifier(name)
		for n := 2; used[id]; n++ {
			id = identifier(name) + "_" + strconv.Itoa(n)
		}
		params[name], segs[i], used[id] = id, "{"+id+"}", true
	}
	return "/" + strings.Join(segs, "/"), params, true
}

// isToken reports an RFC 9110 token, which a header name must be.
func isToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	})
}

func notInRoutePath(r rune) bool { return r < ' ' || r == 0x7f || strings.ContainsRune("?#%\\;*", r) }

// identifier is name with every character a template's parameter name
// may not hold replaced by '_'.
func identifier(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c != '_' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || '0' <= b[0] && b[0] <= '9' {
		b = append([]byte{'_'}, b...)
	}
	return string(b)
}

// auth maps the operation's security requirements, alternatives each of
// which names schemes that must all hold, to the providers a token may come
// from, and their OAuth scopes to authorization conditions: one scopes
// condition per alternative, none when an alternative needs no scope (any
// token of its provider will do) or a request may come without a token.
func (o *operation) auth() (any, []any, bool) {
	reqs := o.c.doc.Security
	if o.op.Security != nil {
		reqs = *o.op.Security
	}
	if len(reqs) == 0 {
		return "none", nil, true
	}
	var providers, unmapped []string
	var scoped []any
	scopedProviders := map[string]bool{}
	anonymous, unscoped := false, false
	for _, req := range reqs {
		if len(req) == 0 {
			anonymous = true
			continue
		}
		var these, missing, scopes []string
		for _, scheme := range sortedKeys(req) {
			for _, sc := range req[scheme] {
				if !slices.Contains(scopes, sc) {
					scopes = append(scopes, sc)
				}
			}
			p, ok := o.c.opts.Providers[scheme]
			switch {
			case !ok:
				missing = append(missing, scheme)
			case !slices.Contains(these, p):
				these = append(these, p)
			}
		}
		switch {
		case len(missing) > 0:
			unmapped = append(unmapped, missing...)
			o.warn("security requirement %s refused: no provider for %s (-provider %s=NAME)", requirement(req), strings.Join(missing, ", "), missing[0])
			continue
		case len(these) > 1:
			o.warn("security requirement %s refused: it needs tokens of providers %s together, apiguard takes one token a request", requirement(req), strings.Join(these, " and "))
			continue
		case !slices.Contains(providers, these[0]):
			providers = append(providers, these[0])
		}
		if len(scopes) == 0 {
			unscoped = true
			continue
		}
		scoped = append(scoped, map[string]any{"scopes": scopes})
		scopedProviders[these[0]] = true
	}
	switch {
	case anonymous && len(providers) == 0:
		return "none", nil, true
	case len(providers) == 0 && len(unmapped) > 0:
		o.fail("no security requirement maps to a provider: name one for %s with -provider SCHEME=PROVIDER", strings.Join(unmapped, " or "))
		return nil, nil, false
	case len(providers) == 0:
		o.fail("no security requirement can be met with one token")
		return nil, nil, false
	}
	switch {
	case len(scoped) > 0 && anonymous:
		o.warn("scopes not checked: a request without a token is allowed too")
		scoped = nil
	case unscoped:
		scoped = nil
	case len(scoped) > 1 && len(scopedProviders) > 1:
		o.warn("a token of any of providers %s may meet any alternative's scopes: authorization does not tell providers apart", strings.Join(providers, ", "))
	}
	return auth{Providers: providers, Optional: anonymous}, scoped, true
}

func requirement(req openapi3.SecurityRequirement) string {
	return "{" + strings.Join(sortedKeys(req), ", ") + "}"
}

// parameters writes the operation's path, query and header parameters
// (those of its path item, overridden by its own) into v's sections.
func (o *operation) parameters(item *openapi3.PathItem, names map[string]string, v map[string]any) {
	var all []*openapi3.Parameter
	for _, list := range []openapi3.Parameters{item.Parameters, o.op.Parameters} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				continue
			}
			p := ref.Value
			all = slices.DeleteFunc(all, func(q *openapi3.Parameter) bool { return q.In == p.In && q.Name == p.Name })
			all = append(all, p)
		}
	}
	path, params := map[string]any{}, map[string]any{}
	var required []string
	unknown := o.c.opts.RejectUnknownQuery
	for _, p := range all {
		where := o.label + ": " + p.In + " parameter " + p.Name
		switch p.In {
		case openapi3.ParameterInPath:
			name, ok := names[p.Name]
			if !ok {
				continue // kin-openapi's validation refuses this document
			}
			if s := o.scalarSchema(p, where, "simple"); s != true {
				path[name] = s
			}
		case openapi3.ParameterInQuery:
			if qp := o.queryParam(p, where); qp != nil {
				params[p.Name] = qp
				break
			}
			o.warn("query parameter %s: an object's members are parameters of their own, not checked", p.Name)
			if unknown {
				unknown = false
				o.warn("unknown query parameters are accepted: the names of %s's members are not known", p.Name)
			}
		case openapi3.ParameterInHeader:
			// OpenAPI ignores these three as parameters (section 4.8.12.1).
			name := strings.ToLower(p.Name)
			switch {
			case !p.Required || name == "accept" || name == "content-type" || name == "authorization":
			case !isToken(name):
				o.warn("header parameter %q is not a header name: never sent, not required", p.Name)
			case !slices.Contains(required, name):
				required = append(required, name)
			}
		}
	}
	if len(path) > 0 {
		v["path"] = path
	}
	if len(params) > 0 || unknown {
		q := map[string]any{"repeated": "reject"}
		if len(params) > 0 {
			q["params"] = params
		}
		if unknown {
			q["unknown"] = "reject"
		}
		v["query"] = q
	}
	if len(required) > 0 {
		slices.Sort(required)
		v["headers"] = map[string]any{"required": required}
	}
}

// queryParam writes a query parameter: a scalar, or an exploded form array
// whose repeated values are each one element. nil for an object, whose
// members are parameters of their own.
func (o *operation) queryParam(p *openapi3.Parameter, where string) map[string]any {
	qp := map[string]any{}
	if p.Required {
		qp["required"] = true
	}
	s := schemaOf(p)
	switch {
	case s != nil && s.Type.Is("object"):
		return nil
	case s != nil && s.Type.Is("array"):
		if (p.Style == "" || p.Style == "form") && (p.Explode == nil || *p.Explode) {
			qp["repeated"] = true
			qp["schema"] = newSchemaWriter(where+" items", o.warn1).root(s.Items)
			return qp
		}
		o.warn("query parameter %s: a delimited array (style %s, explode false) is not checked", p.Name, styleOf(p, "form"))
		qp["schema"] = true
		return qp
	}
	qp["schema"] = o.scalarSchema(p, where, "form")
	return qp
}

func styleOf(p *openapi3.Parameter, def string) string {
	if p.Style == "" {
		return def
	}
	return p.Style
}

// scalarSchema writes a parameter's schema, true (anything) when its value
// is not one scalar apiguard can check.
func (o *operation) scalarSchema(p *openapi3.Parameter, where, style string) any {
	s := schemaOf(p)
	switch {
	case s == nil:
		o.warn("%s parameter %s: a parameter described by content, not schema, is not checked", p.In, p.Name)
		return true
	case styleOf(p, style) != style:
		o.warn("%s parameter %s: style %s is not checked", p.In, p.Name, p.Style)
		return true
	case s.Type.Is("array") || s.Type.Is("object"):
		o.warn("%s parameter %s: an %s in a %s parameter is not checked", p.In, p.Name, s.Type.Slice()[0], p.In)
		return true
	}
	return newSchemaWriter(where, o.warn1).root(p.Schema)
}

func schemaOf(p *openapi3.Parameter) *openapi3.Schema {
	if p.Schema == nil {
		return nil
	}
	return p.Schema.Value
}

// warn1 is warn for a message already prefixed with its operation.
func (o *operation) warn1(msg string) { o.c.warnings = append(o.c.warnings, msg) }

// body writes the request body's section: its media types, whether it is
// required, and the schema of its JSON ones. A media-type range cannot be
// listed, so such a body is not checked.
func (o *operation) body(rb *openapi3.RequestBody) map[string]any {
	var types []string
	var schemas []*openapi3.SchemaRef
	for _, key := range sortedKeys(rb.Content) {
		mt, _, err := mime.ParseMediaType(key)
		if err != nil || strings.Contains(mt, "*") || !strings.Contains(mt, "/") {
			o.warn("request body media type %q is not one type: the body is not checked", key)
			return nil
		}
		if !slices.Contains(types, mt) {
			types = append(types, mt)
		}
		if mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json") {
			var schema *openapi3.SchemaRef
			if media := rb.Content[key]; media != nil {
				schema = media.Schema
			}
			schemas = append(schemas, schema)
		}
	}
	if len(types) == 0 {
		return nil
	}
	b := map[string]any{"content_types": types}
	if rb.Required {
		b["required"] = true
	}
	switch {
	case len(schemas) == 0:
	case slices.ContainsFunc(schemas[1:], func(s *openapi3.SchemaRef) bool { return valueOf(s) != valueOf(schemas[0]) }):
		o.warn("request body: JSON media types with different schemas: JSON bodies are checked as JSON only")
	case valueOf(schemas[0]) != nil:
		b["schema"] = newSchemaWriter(o.label+": request body", o.warn1).root(schemas[0])
	}
	return b
}

func valueOf(s *openapi3.SchemaRef) *openapi3.Schema {
	if s == nil {
		return nil
	}
	return s.Value
}
