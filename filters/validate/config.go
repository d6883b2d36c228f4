// Package validate is the request-validation stage: it refuses requests
// whose headers, path parameters, query or body break the route's rules
// before the upstream sees them, at a bounded cost. Headers, parameters and
// the query are checked in the request-headers phase; a JSON body is read
// whole in the request-body phase and checked in one strict pass against a
// JSON Schema compiled at start (filters/schema).
package validate

import (
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/schema"
	"github.com/apiguard/apiguard/filters/stage"
)

// sections are the parts of a route's validation; a route's own section
// replaces the global one of the same name, whole.
type sections struct {
	headers *headerRules
	query   *queryRules
	body    *bodyRules
	// failed is shared by every route compiled from the same global
	// sections.
	failed *failures
}

// Defaults for the limits a section does not set.
const (
	defaultMaxHeaders      = 100
	defaultMaxHeaderValue  = 8 << 10
	defaultMaxHeadersTotal = 64 << 10
	defaultMaxParams       = 64
	defaultMaxQuery        = 4 << 10
	// defaultMaxBody is Envoy's default per-connection buffer limit: a
	// larger body could not be buffered whole anyway (Envoy answers 413).
	defaultMaxBody = 1 << 20
)

// Global reads the document's top-level "validate": the sections every
// route starts from.
func Global(r *config.Reader, path string, v gjson.Result) any {
	g := sections{failed: newFailures()}
	r.Object(path, v, g.fields(r))
	return &g
}

// Compile reads a route's "validate" over the global sections.
func Compile(r *config.Reader, path string, v gjson.Result, global any) stage.Stage {
	p := &Policy{}
	if g, ok := global.(*sections); ok && g != nil {
		p.sections = *g
	} else {
		p.failed = newFailures()
	}
	if v.Exists() {
		fields := p.sections.fields(r)
		fields["path"] = config.Field{Read: func(fp string, fv gjson.Result) {
			r.EachKey(fp, fv, func(pp, name string, pv gjson.Result) {
				if s := schema.Compile(r, pp, pv); s != nil {
					p.path = append(p.path, pathParam{name: name, at: pp, schema: s})
				}
			})
		}}
		r.Object(path, v, fields)
	}
	return p
}

func (s *sections) fields(r *config.Reader) config.Fields {
	return config.Fields{
		"headers": {Read: func(p string, v gjson.Result) { s.headers = readHeaders(r, p, v) }},
		"query":   {Read: func(p string, v gjson.Result) { s.query = readQuery(r, p, v) }},
		"body":    {Read: func(p string, v gjson.Result) { s.body = readBody(r, p, v) }},
	}
}

func readHeaders(r *config.Reader, path string, v gjson.Result) *headerRules {
	h := &headerRules{maxCount: defaultMaxHeaders, maxValue: defaultMaxHeaderValue, maxTotal: defaultMaxHeadersTotal}
	names := func(p string, v gjson.Result) []string {
		out := r.Strings(p, v)
		for i, n := range out {
			if n != strings.ToLower(n) || !httpsyntax.IsToken(n) {
				r.Errorf(p+"["+strconv.Itoa(i)+"]", "%q must be a lower-case header name", n)
			}
		}
		return out
	}
	r.Object(path, v, config.Fields{
		"max_count":       {Read: func(p string, v gjson.Result) { h.maxCount = int(r.Count(p, v, 1, 1000)) }},
		"max_value_bytes": {Read: func(p string, v gjson.Result) { h.maxValue = int(r.Count(p, v, 1, 1<<20)) }},
		"max_total_bytes": {Read: func(p string, v gjson.Result) { h.maxTotal = int(r.Count(p, v, 1, 1<<20)) }},
		"required":        {Read: func(p string, v gjson.Result) { h.required = names(p, v) }},
		"forbidden":       {Read: func(p string, v gjson.Result) { h.forbidden = names(p, v) }},
	})
	return h
}

func readQuery(r *config.Reader, path string, v gjson.Result) *queryRules {
	q := &queryRules{maxParams: defaultMaxParams, maxLength: defaultMaxQuery}
	r.Object(path, v, config.Fields{
		"params": {Read: func(p string, v gjson.Result) {
			r.EachKey(p, v, func(pp, name string, pv gjson.Result) {
				qp := queryParam{name: name}
				r.Object(pp, pv, config.Fields{
					"required": {Read: func(p string, v gjson.Result) { qp.required = r.Bool(p, v) }},
					"repeated": {Read: func(p string, v gjson.Result) { qp.repeated = r.Bool(p, v) }},
					"schema":   {Required: true, Read: func(p string, v gjson.Result) { qp.schema = schema.Compile(r, p, v) }},
				})
				q.params = append(q.params, qp)
			})
		}},
		"unknown": {Read: func(p string, v gjson.Result) {
			s, _ := r.Enum(p, v, "allow", "reject")
			q.rejectUnknown = s == "reject"
		}},
		"repeated": {Read: func(p string, v gjson.Result) {
			s, _ := r.Enum(p, v, "allow", "reject")
			q.rejectRepeated = s == "reject"
		}},
		"max_params": {Read: func(p string, v gjson.Result) { q.maxParams = int(r.Count(p, v, 1, 1000)) }},
		"max_length": {Read: func(p string, v gjson.Result) { q.maxLength = int(r.Count(p, v, 1, 64<<10)) }},
	})
	return q
}

func readBody(r *config.Reader, path string, v gjson.Result) *bodyRules {
	b := &bodyRules{maxBytes: defaultMaxBody, strict: true, limits: schema.DefaultLimits}
	r.Object(path, v, config.Fields{
		"max_bytes": {Read: func(p string, v gjson.Result) { b.maxBytes = r.Count(p, v, 1, 64<<20) }},
		"required":  {Read: func(p string, v gjson.Result) { b.required = r.Bool(p, v) }},
		"content_types": {Read: func(p string, v gjson.Result) {
			for i, t := range r.Strings(p, v) {
				mt, _, ok := parseMediaType(t)
				if !ok || mt != strings.ToLower(t) || strings.Contains(mt, "*") {
					r.Errorf(p+"["+strconv.Itoa(i)+"]", "%q must be a lower-case media type (type/subtype) without parameters or wildcards", t)
					continue
				}
				b.types = append(b.types, mt)
			}
		}},
		"encodings": {Read: func(p string, v gjson.Result) {
			for i, e := range r.Strings(p, v) {
				if e != strings.ToLower(e) || !httpsyntax.IsToken(e) || e == "identity" {
					r.Errorf(p+"["+strconv.Itoa(i)+"]", "%q must be a lower-case content coding other than identity", e)
				}
				b.encodings = append(b.encodings, e)
			}
		}},
		"schema":    {Read: func(p string, v gjson.Result) { b.schema = schema.Compile(r, p, v) }},
		"strict":    {Read: func(p string, v gjson.Result) { b.strict = r.Bool(p, v) }},
		"max_depth": {Read: func(p string, v gjson.Result) { b.limits.Depth = int(r.Count(p, v, 1, 512)) }},
	})
	if len(b.types) == 0 {
		b.types = []string{"application/json"}
	}
	b.json = (b.schema != nil || b.strict) && b.hasJSONType()
	if b.json && len(b.encodings) > 0 {
		r.Errorf(config.Join(path, "encodings"), "a JSON body is checked as it arrives: accepting an encoded one would let it pass unread (set strict to false and omit schema)")
	}
	if b.schema != nil && !b.hasJSONType() {
		r.Errorf(config.Join(path, "schema"), "needs a JSON media type in %s", config.Join(path, "content_types"))
	}
	return b
}
