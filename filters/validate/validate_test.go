package validate_test

import (
	"strings"
	"testing"

	"github.com/apiguard/apiguard/filters/pipeline"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

type headers = hosttest.Headers

const policy = `{
	"validate": {"headers": {"max_count": 12, "max_value_bytes": 64, "forbidden": ["x-debug"]}},
	"routes": [
		{"name": "orders", "match": {"path": "/tenants/{tenant}/orders/{id}", "methods": ["GET", "PUT"]}, "auth": "none",
			"validate": {
				"path": {"id": {"type": "integer", "minimum": 1}, "tenant": {"type": "string", "pattern": "^[a-z]{2,16}$"}},
				"body": {"max_bytes": 256, "schema": {"type": "object", "additionalProperties": false, "required": ["qty"],
					"properties": {"qty": {"type": "integer", "minimum": 1, "maximum": 10}, "note": {"type": "string"}}}}}},
		{"name": "search", "match": {"path": "/search", "methods": ["GET"]}, "auth": "none",
			"validate": {"headers": {"required": ["x-tenant"]}, "query": {"unknown": "reject", "repeated": "reject", "max_params": 4,
				"params": {"q": {"required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 20}},
				           "limit": {"schema": {"type": "integer", "minimum": 1, "maximum": 100}},
				           "tag": {"repeated": true, "schema": {"enum": ["a", "b"]}}}}}},
		{"name": "upload", "match": {"path": "/upload", "methods": ["POST"]}, "auth": "none",
			"validate": {"body": {"max_bytes": 8, "required": true, "content_types": ["text/plain"], "encodings": ["gzip"]}}},
		{"name": "free", "match": {"path": "/free"}, "auth": "none"}
	]}`

func TestValidation(t *testing.T) {
	p, errs := pipeline.Load([]byte(policy))
	if errs != nil {
		t.Fatal(errs)
	}
	json := [2]string{"content-type", "application/json"}
	tests := []struct {
		name    string
		method  string
		path    string
		headers headers
		body    string // "" with hasBody false: no body
		hasBody bool
		want    verdict.Reason
		// violations as "in pointer rule", ";"-separated
		wantViolations string
		// kind is the failure counted (apiguard.validate.failed.<kind>);
		// "" for none.
		kind string
	}{
		{name: "valid order", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{json}, body: `{"qty": 2}`, hasBody: true},
		{name: "json with a charset and parameters in another case", method: "PUT", path: "/tenants/acme/orders/7",
			headers: headers{{"content-type", "Application/JSON; Charset=UTF-8"}}, body: `{"qty": 2}`, hasBody: true},
		{name: "a +json type", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{{"content-type", "application/merge-patch+json"}}, body: `{"qty": 2}`, hasBody: true},
		{name: "GET without a body", method: "GET", path: "/tenants/acme/orders/7"},
		{name: "path parameter not an integer", method: "GET", path: "/tenants/acme/orders/abc", want: verdict.RequestInvalid, wantViolations: "path /id type", kind: "path"},
		{name: "path parameter 1.0", method: "GET", path: "/tenants/acme/orders/1.0", want: verdict.RequestInvalid, wantViolations: "path /id type", kind: "path"},
		{name: "two bad path parameters", method: "GET", path: "/tenants/ACME/orders/0", want: verdict.RequestInvalid, wantViolations: "path /id minimum;path /tenant pattern", kind: "path"},
		{name: "mass assignment", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{json}, body: `{"qty": 2, "price": 0}`, hasBody: true,
			want: verdict.RequestInvalid, wantViolations: "body /price additionalProperties", kind: "body"},
		{name: "above maximum", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{json}, body: `{"qty": 11}`, hasBody: true,
			want: verdict.RequestInvalid, wantViolations: "body /qty maximum", kind: "body"},
		{name: "duplicate key", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{json}, body: `{"qty": 1, "qty": 9}`, hasBody: true,
			want: verdict.RequestInvalid, wantViolations: "body /qty duplicate_key", kind: "body"},
		{name: "case variant", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{json}, body: `{"qty": 1, "QTY": 9}`, hasBody: true,
			want: verdict.RequestInvalid, wantViolations: "body /QTY case_variant", kind: "body"},
		{name: "a body without content-type", method: "PUT", path: "/tenants/acme/orders/7", body: `{"qty": 2}`, hasBody: true, want: verdict.UnsupportedMediaType, kind: "media_type"},
		{name: "text/plain on a JSON route", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{{"content-type", "text/plain"}}, body: `{"qty": 2}`, hasBody: true, want: verdict.UnsupportedMediaType, kind: "media_type"},
		{name: "another charset", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{{"content-type", "application/json; charset=utf-16"}}, body: `{"qty": 2}`, hasBody: true, want: verdict.UnsupportedMediaType, kind: "media_type"},
		{name: "gzip on a JSON route", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{json, {"content-encoding", "gzip"}}, body: `{"qty": 2}`, hasBody: true, want: verdict.UnsupportedMediaType, kind: "media_type"},
		{name: "two content-types joined", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{{"content-type", "application/json,text/plain"}}, body: `{"qty": 2}`, hasBody: true,
			want: verdict.RequestInvalid, wantViolations: "header /content-type duplicate", kind: "header"},
		{name: "two content-type lines", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{json, json}, body: `{"qty": 2}`, hasBody: true,
			want: verdict.RequestInvalid, wantViolations: "header /content-type duplicate", kind: "header"},
		{name: "a quoted comma is one value", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{{"content-type", `application/json; x="a,b"`}}, body: `{"qty": 2}`, hasBody: true},
		{name: "declared too large", method: "PUT", path: "/tenants/acme/orders/7", headers: headers{json, {"content-length", "257"}}, body: `{"qty": 2}`, hasBody: true, want: verdict.BodyTooLarge},
		{name: "forbidden header, from the global rules", method: "GET", path: "/tenants/acme/orders/7", headers: headers{{"x-debug", "1"}},
			want: verdict.RequestInvalid, wantViolations: "header /x-debug forbidden", kind: "header"},
		{name: "control character", method: "GET", path: "/tenants/acme/orders/7", headers: headers{{"x-note", "a\x01b"}},
			want: verdict.RequestInvalid, wantViolations: "header /x-note control_character", kind: "header"},
		{name: "too many headers", method: "GET", path: "/tenants/acme/orders/7", headers: manyHeaders(10), want: verdict.HeadersTooLarge, kind: "header"},
		{name: "a value too large", method: "GET", path: "/tenants/acme/orders/7", headers: headers{{"x-note", strings.Repeat("a", 65)}}, want: verdict.HeadersTooLarge, kind: "header"},
		{name: "valid search", method: "GET", path: "/search?q=shoes&limit=10&tag=a&tag=b", headers: headers{{"x-tenant", "t"}}},
		{name: "a required header", method: "GET", path: "/search?q=shoes", want: verdict.RequestInvalid, wantViolations: "header /x-tenant required", kind: "header"},
		{name: "a required parameter", method: "GET", path: "/search?limit=1", headers: headers{{"x-tenant", "t"}}, want: verdict.RequestInvalid, wantViolations: "query /q required", kind: "query"},
		{name: "an unknown parameter", method: "GET", path: "/search?q=a&debug=1", headers: headers{{"x-tenant", "t"}}, want: verdict.RequestInvalid, wantViolations: "query /debug unknown", kind: "query"},
		{name: "a repeated parameter", method: "GET", path: "/search?q=a&q=b", headers: headers{{"x-tenant", "t"}}, want: verdict.RequestInvalid, wantViolations: "query /q repeated", kind: "query"},
		{name: "a bad value, never echoed", method: "GET", path: "/search?q=a&limit=1000", headers: headers{{"x-tenant", "t"}}, want: verdict.RequestInvalid, wantViolations: "query /limit maximum", kind: "query"},
		{name: "a percent-encoded name", method: "GET", path: "/search?%71=a", headers: headers{{"x-tenant", "t"}}},
		{name: "a semicolon is data, checked in the value the upstream reads", method: "GET", path: "/search?q=a&limit=5;1000", headers: headers{{"x-tenant", "t"}},
			want: verdict.RequestInvalid, wantViolations: "query /limit type", kind: "query"},
		{name: "a semicolon separates no parameters", method: "GET", path: "/search?q=a;debug=1", headers: headers{{"x-tenant", "t"}}},
		{name: "a malformed escape", method: "GET", path: "/search?q=%zz", headers: headers{{"x-tenant", "t"}}, want: verdict.RequestInvalid, wantViolations: "query /q encoding;query /q required", kind: "query"},
		{name: "a long parameter name is cut as a body's member names", method: "GET", path: "/search?q=a&" + strings.Repeat("n", 700) + "=1", headers: headers{{"x-tenant", "t"}},
			want: verdict.RequestInvalid, wantViolations: "query /" + strings.Repeat("n", 255) + " unknown", kind: "query"},
		{name: "a long name is cut at a character's start", method: "GET", path: "/search?q=a&" + strings.Repeat("%C3%A9", 200) + "=1", headers: headers{{"x-tenant", "t"}},
			want: verdict.RequestInvalid, wantViolations: "query /" + strings.Repeat("é", 127) + " unknown", kind: "query"},
		{name: "a long name is not cut inside an escape", method: "GET", path: "/search?q=a&" + strings.Repeat("n", 254) + "%2F=1", headers: headers{{"x-tenant", "t"}},
			want: verdict.RequestInvalid, wantViolations: "query /" + strings.Repeat("n", 254) + " unknown", kind: "query"},
		{name: "a long header name is cut too", method: "GET", path: "/tenants/acme/orders/7", headers: headers{{strings.Repeat("h", 600), "a\x01b"}},
			want: verdict.RequestInvalid, wantViolations: "header /" + strings.Repeat("h", 255) + " control_character", kind: "header"},
		{name: "too many parameters", method: "GET", path: "/search?q=a&tag=a&tag=a&tag=a&tag=a", headers: headers{{"x-tenant", "t"}}, want: verdict.RequestInvalid, wantViolations: "query  max_params", kind: "query"},
		{name: "upload: text", method: "POST", path: "/upload", headers: headers{{"content-type", "text/plain"}}, body: "hello", hasBody: true},
		{name: "upload: gzip allowed there", method: "POST", path: "/upload", headers: headers{{"content-type", "text/plain"}, {"content-encoding", "gzip"}}, body: "hello", hasBody: true},
		{name: "upload: body required", method: "POST", path: "/upload", want: verdict.RequestInvalid, wantViolations: "body  required", kind: "body"},
		{name: "a route without its own validation has the global rules", method: "POST", path: "/free", headers: headers{{"x-debug", "1"}, {"content-type", "a,b"}}, body: "x", hasBody: true,
			want: verdict.RequestInvalid, wantViolations: "header /x-debug forbidden;header /content-type duplicate", kind: "header"},
		{name: "without a body section, any body passes", method: "POST", path: "/free", headers: headers{{"content-type", "text/csv"}}, body: "x", hasBody: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s stage.Stream
			s.HasBody = tc.hasBody
			h := append(headers{{":method", tc.method}, {":path", tc.path}, {":authority", "api.example"}}, tc.headers...)
			host := &hosttest.Host{}
			w := p.NewWorker(host)
			d := p.RequestHeaders(&s, h, w)
			if !d.Denied() && s.BodyLimit > 0 {
				d = p.RequestBody(&s, []byte(tc.body), w)
			}
			var got []string
			for _, v := range d.Violations() {
				got = append(got, v.In+" "+v.Pointer+" "+v.Rule)
			}
			if d.Reason != tc.want || strings.Join(got, ";") != tc.wantViolations {
				t.Errorf("%s %q; want %s %q", d.Reason.Code(), strings.Join(got, ";"), tc.want.Code(), tc.wantViolations)
			}
			for _, kind := range []string{"header", "path", "query", "body", "media_type"} {
				name := "apiguard.validate.failed." + kind
				if n, want := host.Counter(name), uint64(map[bool]int{true: 1}[kind == tc.kind]); !host.Defined(name) || n != want {
					t.Errorf("%s = %d (defined %t), want %d", name, n, host.Defined(name), want)
				}
			}
		})
	}
}

func manyHeaders(n int) headers {
	var h headers
	for range n {
		h = append(h, [2]string{"x-h", "v"})
	}
	return h
}

// TestBodyCapsWithoutReading: a route that accepts a non-JSON body only caps
// it; a JSON route reads it.
func TestBodyCapsWithoutReading(t *testing.T) {
	p, errs := pipeline.Load([]byte(policy))
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		path, method, ct string
		wantReaders      int
		wantLimit        int64
	}{
		{"/upload", "POST", "text/plain", 0, 8},
		{"/tenants/acme/orders/7", "PUT", "application/json", 1, 256},
		{"/free", "POST", "application/json", 0, 0},
	} {
		s := stage.Stream{HasBody: true}
		if d := p.RequestHeaders(&s, headers{{":method", tc.method}, {":path", tc.path}, {":authority", "a"}, {"content-type", tc.ct}}, p.NewWorker(&hosttest.Host{})); d.Denied() {
			t.Fatalf("%s: %s", tc.path, d.Reason.Code())
		}
		if len(s.BodyReaders) != tc.wantReaders || s.BodyLimit != tc.wantLimit {
			t.Errorf("%s: %d readers, limit %d; want %d, %d", tc.path, len(s.BodyReaders), s.BodyLimit, tc.wantReaders, tc.wantLimit)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		validate string
		want     string
	}{
		{`{"path": {"order": {"type": "integer"}}}`, "routes[0].validate.path.order: the route's path template captures no parameter {order}"},
		{`{"body": {"schema": {"type": "object", "anyOf": []}}}`, "routes[0].validate.body.schema.anyOf: keyword not supported"},
		{`{"body": {"schema": {"pattern": "(a"}}}`, "routes[0].validate.body.schema.pattern: not an RE2 regular expression"},
		{`{"body": {"encodings": ["gzip"]}}`, "routes[0].validate.body.encodings: a JSON body is checked as it arrives"},
		{`{"body": {"content_types": ["text/*"]}}`, `routes[0].validate.body.content_types[0]: "text/*" must be a lower-case media type`},
		{`{"body": {"content_types": ["text/plain"], "schema": {}}}`, "routes[0].validate.body.schema: needs a JSON media type"},
		{`{"headers": {"required": ["X-Tenant"]}}`, `routes[0].validate.headers.required[0]: "X-Tenant" must be a lower-case header name`},
		{`{"query": {"params": {"q": {"type": "string"}}}}`, "routes[0].validate.query.params.q.type: unknown field"},
		{`{"query": {"unknown": "deny"}}`, `routes[0].validate.query.unknown: must be one of ["allow" "reject"]`},
		{`{"bodies": {}}`, "routes[0].validate.bodies: unknown field"},
	}
	for _, tc := range tests {
		_, errs := pipeline.Load([]byte(`{"routes": [{"name": "a", "match": {"path": "/orders/{id}"}, "auth": "none", "validate": ` + tc.validate + `}]}`))
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if !strings.Contains(strings.Join(got, "\n"), tc.want) {
			t.Errorf("%s: errors %q, want one containing %q", tc.validate, got, tc.want)
		}
	}
}

// TestAnEmptyValidationChecksHeaderHygiene: "validate": {} at the top level
// refuses a second content-type on every route, and nothing else.
func TestAnEmptyValidationChecksHeaderHygiene(t *testing.T) {
	p, errs := pipeline.Load([]byte(`{"validate": {}, "routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none"}]}`))
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		ct   string
		want verdict.Reason
	}{{"application/json", verdict.None}, {"application/json, text/html", verdict.RequestInvalid}} {
		s := stage.Stream{HasBody: true}
		d := p.RequestHeaders(&s, headers{{":method", "POST"}, {":path", "/a"}, {":authority", "a"}, {"content-type", tc.ct}}, p.NewWorker(&hosttest.Host{}))
		if d.Reason != tc.want || s.BodyLimit != 0 {
			t.Errorf("%q: %s, body limit %d; want %s and no body phase", tc.ct, d.Reason.Code(), s.BodyLimit, tc.want.Code())
		}
	}
}
