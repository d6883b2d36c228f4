package validate

import (
	"testing"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

func fuzzPolicy(t testing.TB) *Policy {
	r := &config.Reader{}
	st := Compile(r, "validate", gjson.Parse(`{
		"headers": {"required": ["x-tenant"], "forbidden": ["x-debug"]},
		"query": {"unknown": "reject", "repeated": "reject", "params": {
			"q": {"required": true, "schema": {"type": "string", "maxLength": 8}},
			"n": {"schema": {"type": "integer", "minimum": 0}},
			"on": {"schema": {"type": "boolean"}}}},
		"body": {"max_bytes": 4096, "schema": {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "number"}}}}}}`), nil)
	if len(r.Errors()) > 0 {
		t.Fatal(r.Errors())
	}
	return st.(*Policy)
}

type fuzzHeaders [][2]string

func (h fuzzHeaders) Get(name string) string {
	for _, kv := range h {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

func (h fuzzHeaders) All() ([][2]string, error) { return h, nil }

// FuzzRequest runs hostile queries, header values and bodies through the
// stage: it never panics, and a violation names where, never what.
func FuzzRequest(f *testing.F) {
	f.Add("q=a&n=1&on=true", "application/json", "x", `{"a": [1, 2.5]}`)
	f.Add("q=%ff&n=1.0&n=2&z", "application/json; charset=utf-16", "a\x00b", `{"a": [1e400]}`)
	f.Add("q=a+b%20c&&=&%", "text/plain", "", `[[[[[[`)
	p := fuzzPolicy(f)
	w := hosttest.Worker(&hosttest.Host{}, p)
	f.Fuzz(func(t *testing.T, query, contentType, header, body string) {
		s := stage.Stream{Path: "/x?" + query, HasBody: true}
		h := fuzzHeaders{{"content-type", contentType}, {"x-tenant", header}}
		d := p.RequestHeaders(&s, s.Begin(h, w))
		if !d.Denied() && len(s.BodyReaders) > 0 {
			d = p.RequestBody(&s, []byte(body), s.Begin(h, w))
		}
		if d.Denied() && d.Reason.Status() >= 500 {
			t.Fatalf("%s for a client's request", d.Reason.Code())
		}
		for _, v := range d.Violations() {
			if v.Rule == "" || v.In == "" {
				t.Fatalf("violation %+v", v)
			}
			if v.In == "header" && v.Pointer != "/content-type" && v.Pointer != "/x-tenant" {
				t.Fatalf("violation %+v names a header not sent", v)
			}
		}
	})
}
