package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// ordersValidated is an orders API whose requests apiguard validates: typed
// path parameters, a declared query, and a JSON Schema for the order body,
// with a small body limit so that limits are easy to pass.
const ordersValidated = `{
  "validate": {"headers": {"forbidden": ["x-debug"]}},
  "routes": [
    {"name": "create-order", "match": {"path": "/tenants/{tenant}/orders", "methods": ["POST"]}, "auth": "none",
     "validate": {
       "path": {"tenant": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"}},
       "body": {"max_bytes": 512, "required": true, "schema": {
         "type": "object", "additionalProperties": false, "required": ["items"],
         "properties": {
           "items": {"type": "array", "minItems": 1, "maxItems": 10, "items": {"$ref": "#/$defs/item"}},
           "note": {"type": "string", "maxLength": 140}},
         "$defs": {"item": {"type": "object", "additionalProperties": false, "required": ["sku", "qty"],
           "properties": {"sku": {"type": "string", "pattern": "^[A-Z0-9-]+$"}, "qty": {"type": "integer", "minimum": 1, "maximum": 99}}}}}}}},
    {"name": "list-orders", "match": {"path": "/tenants/{tenant}/orders", "methods": ["GET"]}, "auth": "none",
     "validate": {"query": {"unknown": "reject", "params": {
       "limit": {"schema": {"type": "integer", "minimum": 1, "maximum": 100}},
       "status": {"schema": {"enum": ["open", "shipped"]}}}}}},
    {"name": "get-order", "match": {"path": "/tenants/{tenant}/orders/{id}", "methods": ["GET"]}, "auth": "none",
     "validate": {"path": {"id": {"type": "integer", "minimum": 1}, "tenant": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"}}}},
    {"name": "upload", "match": {"path": "/uploads", "methods": ["PUT"]}, "auth": "none",
     "validate": {"body": {"max_bytes": 64, "content_types": ["application/octet-stream"]}}}
  ]
}`

// violations reads the errors a validation problem lists.
func violations(t *testing.T, res *host.Result) []string {
	t.Helper()
	var body struct {
		Errors []struct{ In, Pointer, Rule string }
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatalf("problem %q: %v", res.Body, err)
	}
	var out []string
	for _, e := range body.Errors {
		out = append(out, e.In+" "+e.Pointer+" "+e.Rule)
	}
	return out
}

func TestAnOrdersAPIRefusesMalformedRequests(t *testing.T) {
	g := startGateway(t, ordersValidated, 1)
	order := func(body string, chunk int, headers ...string) host.Request {
		req := request("POST", "/tenants/acme/orders", append([]string{"content-type", "application/json"}, headers...)...)
		req.Body, req.ChunkSize = []byte(body), chunk
		return req
	}
	valid := `{"items": [{"sku": "BOOK-1", "qty": 2}], "note": "gift"}`

	t.Run("a valid order arriving in chunks reaches the upstream whole", func(t *testing.T) {
		res := g.send(order(valid, 7))
		if res.Status != 200 || res.Upstream == nil || string(res.Upstream.Body) != valid {
			t.Fatalf("status %d, upstream %+v", res.Status, res.Upstream)
		}
	})

	tests := []struct {
		name           string
		req            host.Request
		status         int
		reason         string
		wantViolations []string
	}{
		{name: "mass assignment", req: order(`{"items": [{"sku": "BOOK-1", "qty": 2, "price": 0}], "is_admin": true}`, 10),
			status: 400, reason: "request_invalid", wantViolations: []string{"body /items/0/price additionalProperties", "body /is_admin additionalProperties"}},
		{name: "a quantity out of bounds, as 1.0 and as 1e400", req: order(`{"items": [{"sku": "A", "qty": 1.0}, {"sku": "B", "qty": 1e400}, {"sku": "C", "qty": 100}]}`, 0),
			status: 400, reason: "request_invalid", wantViolations: []string{"body /items/0/qty type", "body /items/1/qty number_range", "body /items/2/qty maximum"}},
		{name: "a duplicate key the upstream might read instead", req: order(`{"items": [{"sku": "A", "qty": 1, "qty": 50}]}`, 5),
			status: 400, reason: "request_invalid", wantViolations: []string{"body /items/0/qty duplicate_key"}},
		{name: "a case variant of a checked member", req: order(`{"items": [{"sku": "A", "qty": 1}], "Items": []}`, 0),
			status: 400, reason: "request_invalid", wantViolations: []string{"body /Items case_variant"}},
		{name: "deep nesting", req: order(strings.Repeat(`{"note":`, 100000), 4096),
			status: 413, reason: "body_too_large"},
		{name: "a chunked body over the limit, refused mid-stream", req: order(`{"items": [`+strings.Repeat(`{"sku": "A", "qty": 1},`, 40)+`]}`, 64),
			status: 413, reason: "body_too_large"},
		{name: "a content-length over the limit, refused before its body", req: order(`{"note": "`+strings.Repeat("x", 600)+`"}`, 0),
			status: 413, reason: "body_too_large"},
		{name: "trailing data after the document", req: order(valid+` {"items": []}`, 0),
			status: 400, reason: "request_invalid", wantViolations: []string{"body  trailing_data"}},
		{name: "a lone surrogate", req: order(`{"items": [{"sku": "A", "qty": 1}], "note": "\ud800"}`, 0),
			status: 400, reason: "request_invalid", wantViolations: []string{"body /note utf8"}},
		{name: "no content-type", req: func() host.Request { r := order(valid, 0); r.Headers.Del("content-type"); return r }(),
			status: 415, reason: "unsupported_media_type"},
		{name: "two content-types, which apiguard and the upstream could read apart", req: order(valid, 0, "content-type", "text/plain"), status: 400, reason: "request_invalid",
			wantViolations: []string{"header /content-type duplicate"}},
		{name: "JSON sent as text", req: func() host.Request { r := order(valid, 0); r.Headers.Set("content-type", "text/plain"); return r }(),
			status: 415, reason: "unsupported_media_type"},
		{name: "a JSON body in UTF-16", req: func() host.Request {
			r := order(valid, 0)
			r.Headers.Set("content-type", "application/json; charset=utf-16")
			return r
		}(), status: 415, reason: "unsupported_media_type"},
		{name: "a compressed body the schema cannot read", req: order(valid, 0, "content-encoding", "gzip"), status: 415, reason: "unsupported_media_type"},
		{name: "an empty body where one is required", req: request("POST", "/tenants/acme/orders", "content-type", "application/json"),
			status: 400, reason: "request_invalid", wantViolations: []string{"body  required"}},
		{name: "a tenant that breaks its pattern", req: request("GET", "/tenants/ACME/orders/7"), status: 400, reason: "request_invalid",
			wantViolations: []string{"path /tenant pattern"}},
		{name: "an order id that is not an integer", req: request("GET", "/tenants/acme/orders/abc"), status: 400, reason: "request_invalid",
			wantViolations: []string{"path /id type"}},
		{name: "an unknown query parameter", req: request("GET", "/tenants/acme/orders?limit=5&debug=true"), status: 400, reason: "request_invalid",
			wantViolations: []string{"query /debug unknown"}},
		{name: "a query value out of its enum, never echoed", req: request("GET", "/tenants/acme/orders?status=%3Cscript%3E"), status: 400, reason: "request_invalid",
			wantViolations: []string{"query /status enum"}},
		{name: "a forbidden header, from the global rules", req: request("GET", "/tenants/acme/orders/7", "x-debug", "1"), status: 400, reason: "request_invalid",
			wantViolations: []string{"header /x-debug forbidden"}},
		{name: "TRACE is served by no route that does not list it", req: request("TRACE", "/tenants/acme/orders/7"), status: 405, reason: "method_not_allowed"},
		{name: "an upload over its cap, counted as it streams", req: func() host.Request {
			r := request("PUT", "/uploads", "content-type", "application/octet-stream")
			r.Body, r.ChunkSize = make([]byte, 100), 10
			return r
		}(), status: 413, reason: "body_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := g.send(tc.req)
			expectProblem(t, res, tc.status, tc.reason)
			if got := violations(t, res); strings.Join(got, ";") != strings.Join(tc.wantViolations, ";") {
				t.Errorf("violations %q, want %q", got, tc.wantViolations)
			}
			if strings.Contains(string(res.Body), "script") {
				t.Errorf("the problem echoes a request value: %s", res.Body)
			}
		})
	}

	t.Run("an upload within its cap streams through unread", func(t *testing.T) {
		req := request("PUT", "/uploads", "content-type", "application/octet-stream")
		req.Body, req.ChunkSize = []byte(strings.Repeat("x", 60)), 10
		if res := g.send(req); res.Status != 200 || res.Upstream == nil || len(res.Upstream.Body) != 60 {
			t.Fatalf("status %d, upstream %+v", res.Status, res.Upstream)
		}
	})
}

// TestHostileBodiesCostBoundedWork sends a corpus of bodies built to hurt a
// JSON reader, up to Envoy's default 1 MiB buffer, to a route that reads
// JSON: each is refused with its rule, the VM never traps, and its memory
// stays within a bound after all of them.
func TestHostileBodiesCostBoundedWork(t *testing.T) {
	g := startGateway(t, `{"routes": [{"name": "ingest", "match": {"path": "/ingest", "methods": ["POST"]}, "auth": "none",
		"validate": {"body": {"max_bytes": 1048576, "schema": {"type": "object", "additionalProperties": false,
			"properties": {"values": {"type": "array", "maxItems": 1000, "items": {"type": "integer", "maximum": 100}}, "name": {"type": "string"}}}}}},
		{"name": "any-json", "match": {"path": "/any", "methods": ["POST"]}, "auth": "none", "validate": {"body": {"max_bytes": 1048576}}}]}`, 1)
	wide := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"values": [1`)
		for i := 1; i < n; i++ {
			b.WriteString(",1")
		}
		b.WriteString("]}")
		return b.String()
	}
	dupKeys := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, `"k%d": 1,`, i)
		}
		b.WriteString(`"k7": 2}`)
		return b.String()
	}
	// Routes: /ingest has a schema; /any only the strict JSON rules.
	corpus := []struct {
		name, body string
		rule       string
	}{
		{"100k levels of arrays", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), "max_depth"},
		{"100k levels of objects", strings.Repeat(`{"a":`, 100000), "max_depth"},
		{"half a million items", wide(500000), "maxItems"},
		{"40k members, one repeated at the end", dupKeys(40000), "duplicate_key"},
		{"a member named like a checked one but for case", `{"values": [], "Values": [1]}`, "case_variant"},
		{"a huge number", `{"values": [1` + strings.Repeat("0", 500000) + `]}`, "number_range"},
		{"an exponent beyond any float", `{"values": [1e999999999]}`, "number_range"},
		{"an integer written as a float", `{"values": [100.0]}`, "type"},
		{"mass assignment", `{"name": "x", "role": "admin"}`, "additionalProperties"},
		{"a string of half a megabyte of escapes", `{"name": "` + strings.Repeat(`\u00e9`, 80000) + `\ud800"}`, "utf8"},
		{"two documents", `{"name": "a"}{"name": "b"}`, "trailing_data"},
		{"a NUL in a string", "{\"name\": \"a\x00b\"}", "syntax"},
	}
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			path := "/ingest"
			if tc.rule == "max_depth" || tc.rule == "duplicate_key" {
				path = "/any"
			}
			req := request("POST", path, "content-type", "application/json")
			req.Body, req.ChunkSize = []byte(tc.body), 64<<10
			res := g.send(req)
			expectProblem(t, res, 400, "request_invalid")
			if got := violations(t, res); len(got) != 1 || !strings.HasSuffix(got[0], " "+tc.rule) {
				t.Errorf("violations %q, want one, of rule %s", got, tc.rule)
			}
		})
	}
	if mem := g.vms[0].MemorySize(); mem > 64<<20 {
		t.Errorf("linear memory grew to %d MiB", mem>>20)
	}
}
