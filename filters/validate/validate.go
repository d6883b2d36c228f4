package validate

import (
	"strings"
	"unicode/utf8"

	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/schema"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// Policy is one route's compiled validation, immutable.
type Policy struct {
	sections
	path []pathParam
}

type pathParam struct {
	name, at string
	schema   *schema.Schema
}

type headerRules struct {
	maxCount, maxValue, maxTotal int
	required, forbidden          []string
}

type queryRules struct {
	params                        []queryParam
	rejectUnknown, rejectRepeated bool
	maxParams, maxLength          int
}

type queryParam struct {
	name               string
	required, repeated bool
	schema             *schema.Schema
}

type bodyRules struct {
	maxBytes  int64
	required  bool
	types     []string
	encodings []string
	schema    *schema.Schema
	// strict checks a JSON body's text even without a schema; json: JSON
	// bodies are read (a schema or strict).
	strict, json bool
	limits       schema.Limits
}

// AppendPathParams appends the typed path parameters, which the route's
// template must capture.
func (p *Policy) AppendPathParams(dst []stage.ParamUse) []stage.ParamUse {
	for _, pp := range p.path {
		dst = append(dst, stage.ParamUse{Name: pp.name, Path: pp.at})
	}
	return dst
}

// paramLimits bound a parameter's check: a parameter is a scalar.
var paramLimits = schema.Limits{Depth: 1, Violations: 1}

// failures count the requests validation refused by what broke a rule:
// apiguard.validate.failed.<kind>. They are not per route: a route's
// denials are counted by route already, and a kind per route would be a
// series per route and kind. A body larger than its limit is refused before
// this stage reads it, and counted by its reason, body_too_large.
type failures struct {
	header, path, query, body, mediaType *stage.Counter
}

func newFailures() *failures {
	const m = "apiguard.validate.failed."
	return &failures{header: stage.NewCounter(m + "header"), path: stage.NewCounter(m + "path"),
		query: stage.NewCounter(m + "query"), body: stage.NewCounter(m + "body"), mediaType: stage.NewCounter(m + "media_type")}
}

// AppendCounters appends the failure counters, one per kind.
func (p *Policy) AppendCounters(dst []*stage.Counter) []*stage.Counter {
	f := p.failed
	return append(dst, f.header, f.path, f.query, f.body, f.mediaType)
}

// count counts a denial d by its kind: where its first violation is, or
// what its reason says. A host that failed is no validation failure.
func (f *failures) count(w *stage.Worker, d verdict.Decision) verdict.Decision {
	var c *stage.Counter
	switch {
	case d.Reason == verdict.HeadersTooLarge:
		c = f.header
	case d.Reason == verdict.UnsupportedMediaType:
		c = f.mediaType
	case d.Reason != verdict.RequestInvalid || len(d.Violations()) == 0:
		return d
	case d.Violations()[0].In == "header":
		c = f.header
	case d.Violations()[0].In == "path":
		c = f.path
	case d.Violations()[0].In == "query":
		c = f.query
	default:
		c = f.body
	}
	w.Count(c, 1)
	return d
}

// RequestHeaders checks the headers, the path parameters and the query,
// and the body's declared media type, asking for the body phase when the
// body is read or capped.
func (p *Policy) RequestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	d := p.requestHeaders(s, in)
	if d.Denied() {
		return p.failed.count(in.Worker(), d)
	}
	return d
}

func (p *Policy) requestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	var vs []verdict.Violation
	if d := p.checkHeaders(in, &vs); d.Denied() {
		return d
	}
	for _, pp := range p.path {
		value, _ := s.Params.Get(pp.name)
		for _, v := range pp.schema.CheckText(value, paramLimits) {
			vs = append(vs, verdict.Violation{In: "path", Pointer: pointer(pp.name), Rule: v.Rule})
		}
	}
	if p.query != nil {
		_, query, _ := strings.Cut(s.Path, "?")
		p.query.check(query, &vs)
	}
	if len(vs) > 0 {
		return invalid(vs)
	}
	if p.body != nil {
		return p.body.begin(s, in, p)
	}
	return verdict.Decision{}
}

// invalid is the denial for violations, at most a few of them: enough to
// fix a request, never a report as large as it.
func invalid(vs []verdict.Violation) verdict.Decision {
	if len(vs) > schema.DefaultLimits.Violations {
		vs = vs[:schema.DefaultLimits.Violations]
	}
	return verdict.DenyWith(verdict.RequestInvalid, &verdict.Denial{Violations: vs})
}

// pointer is name as a one-token JSON pointer, of at most
// schema.MaxPointer bytes.
func pointer(name string) string {
	p := "/" + name
	if strings.ContainsAny(name, "~/") {
		p = "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
	}
	if len(p) <= schema.MaxPointer {
		return p
	}
	// The name is the client's: cut it as a body's member names are, at a
	// character's start and not inside an escape.
	n := schema.MaxPointer
	for n > 1 && !utf8.RuneStart(p[n]) {
		n--
	}
	if p[n-1] == '~' {
		n--
	}
	return p[:n]
}

// singleValued are the headers a request may carry once: two of them let
// apiguard and the upstream read different ones. Envoy joins repeated
// inline headers with a comma, so a comma in one is a second value too
// (content-type's own parameters never hold one unquoted).
var singleValued = []string{"content-type", "content-length", "authorization", "host"}

func (p *Policy) checkHeaders(in *stage.Input, vs *[]verdict.Violation) verdict.Decision {
	all, err := in.All()
	if err != nil {
		return verdict.Deny(verdict.Internal, "cannot read request headers")
	}
	h := p.headers
	if h != nil && len(all) > h.maxCount {
		return verdict.Deny(verdict.HeadersTooLarge, "too many request headers")
	}
	total := 0
	var seen [4]int
	// By index: in wasm, copying a header pair is a call.
	for j := range all {
		kv := &all[j]
		name, value := kv[0], kv[1]
		total += len(name) + len(value)
		if h != nil && len(value) > h.maxValue {
			return verdict.Deny(verdict.HeadersTooLarge, "a request header value is too large")
		}
		for i := 0; i < len(value); i++ {
			if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
				*vs = append(*vs, verdict.Violation{In: "header", Pointer: pointer(name), Rule: "control_character"})
				break
			}
		}
		for i, sv := range singleValued {
			if name == sv {
				seen[i]++
				if seen[i] == 2 || sv != "content-type" && strings.IndexByte(value, ',') >= 0 || sv == "content-type" && unquotedComma(value) {
					*vs = append(*vs, verdict.Violation{In: "header", Pointer: pointer(name), Rule: "duplicate"})
				}
			}
		}
		if h != nil {
			for _, f := range h.forbidden {
				if name == f {
					*vs = append(*vs, verdict.Violation{In: "header", Pointer: pointer(name), Rule: "forbidden"})
				}
			}
		}
	}
	if h == nil {
		return verdict.Decision{}
	}
	if total > h.maxTotal {
		return verdict.Deny(verdict.HeadersTooLarge, "the request headers are too large")
	}
	for _, req := range h.required {
		found := false
		// By index: in wasm, copying a header pair is a call.
		for j := range all {
			kv := &all[j]
			if kv[0] == req {
				found = true
				break
			}
		}
		if !found {
			*vs = append(*vs, verdict.Violation{In: "header", Pointer: pointer(req), Rule: "required"})
		}
	}
	return verdict.Decision{}
}

// unquotedComma reports a comma outside a quoted-string.
func unquotedComma(v string) bool {
	quoted := false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return true
			}
		}
	}
	return false
}

func (q *queryRules) check(raw string, vs *[]verdict.Violation) {
	if len(raw) > q.maxLength {
		*vs = append(*vs, verdict.Violation{In: "query", Rule: "max_length"})
		return
	}
	var small [16]int
	counts := small[:]
	if len(q.params) > len(small) {
		counts = make([]int, len(q.params))
	}
	n := 0
	if !eachParam(raw, func(name, value string, good bool) bool {
		if n++; n > q.maxParams {
			*vs = append(*vs, verdict.Violation{In: "query", Rule: "max_params"})
			return false
		}
		if !good {
			*vs = append(*vs, verdict.Violation{In: "query", Pointer: pointer(name), Rule: "encoding"})
			return len(*vs) < schema.DefaultLimits.Violations
		}
		i := q.index(name)
		if i < 0 {
			if q.rejectUnknown {
				*vs = append(*vs, verdict.Violation{In: "query", Pointer: pointer(name), Rule: "unknown"})
			}
			return len(*vs) < schema.DefaultLimits.Violations
		}
		qp := &q.params[i]
		// Repeated values are each checked, whatever the upstream reads;
		// a parameter not declared repeatable may be refused.
		if counts[i]++; counts[i] == 2 && !qp.repeated && q.rejectRepeated {
			*vs = append(*vs, verdict.Violation{In: "query", Pointer: pointer(name), Rule: "repeated"})
		}
		for _, v := range qp.schema.CheckText(value, paramLimits) {
			*vs = append(*vs, verdict.Violation{In: "query", Pointer: pointer(name), Rule: v.Rule})
		}
		return len(*vs) < schema.DefaultLimits.Violations
	}) {
		return
	}
	for i := range q.params {
		if q.params[i].required && counts[i] == 0 {
			*vs = append(*vs, verdict.Violation{In: "query", Pointer: pointer(q.params[i].name), Rule: "required"})
		}
	}
}

func (q *queryRules) index(name string) int {
	for i := range q.params {
		if q.params[i].name == name {
			return i
		}
	}
	return -1
}

// eachParam calls each for every name=value pair of a query
// (httpsyntax.EachQueryPair: "&" separates them), decoded as
// application/x-www-form-urlencoded ('+' is a space), with good false for
// one whose escapes, UTF-8 or characters are invalid; it stops when each
// returns false, and reports whether it went through.
func eachParam(raw string, each func(name, value string, good bool) bool) bool {
	done := true
	httpsyntax.EachQueryPair(raw, func(name, value string) bool {
		dn, ok1 := httpsyntax.Unescape(name, true)
		dv, ok2 := httpsyntax.Unescape(value, true)
		ok1, ok2 = ok1 && validText(dn), ok2 && validText(dv)
		if !ok1 {
			dn = ""
		}
		done = each(dn, dv, ok1 && ok2)
		return done
	})
	return done
}

// validText: UTF-8 without control characters.
func validText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
