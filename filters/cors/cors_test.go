package cors

import (
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

type headers = hosttest.Headers

func compile(t *testing.T, js string) *Policy {
	t.Helper()
	r := &config.Reader{}
	st := Compile(r, "cors", gjson.Parse(js), nil)
	if len(r.Errors()) > 0 {
		t.Fatal(r.Errors())
	}
	return st.(*Policy)
}

const policy = `{"origins": ["https://app.example.com", "https://*.partner.example"], "methods": ["GET", "POST", "PUT"],
	"headers": ["authorization", "content-type"], "expose_headers": ["x-request-id"], "credentials": true, "max_age_s": 300}`

// TestActualRequests: an allowed origin gets itself back with the
// policy's headers; any other gets none, and every response says it
// varies by Origin.
func TestActualRequests(t *testing.T) {
	p := compile(t, policy)
	allowedHeaders := [][2]string{{"access-control-allow-credentials", "true"}, {"access-control-expose-headers", "x-request-id"}}
	tests := []struct {
		name    string
		origins []string
		want    string
	}{
		{name: "exact origin", origins: []string{"https://app.example.com"}, want: "https://app.example.com"},
		{name: "a subdomain of the wildcard", origins: []string{"https://eu.partner.example"}, want: "https://eu.partner.example"},
		{name: "no origin", origins: nil},
		{name: "suffix attack", origins: []string{"https://app.example.com.evil.com"}},
		{name: "prefix attack", origins: []string{"https://evilapp.example.com"}},
		{name: "hyphen for a dot", origins: []string{"https://app-example.com"}},
		{name: "http", origins: []string{"http://app.example.com"}},
		{name: "another port", origins: []string{"https://app.example.com:8443"}},
		{name: "trailing dot", origins: []string{"https://app.example.com."}},
		{name: "Unicode look-alike", origins: []string{"https://\u0430pp.example.com"}},
		{name: "upper case", origins: []string{"https://APP.EXAMPLE.COM"}},
		{name: "two Origin headers", origins: []string{"https://app.example.com", "https://evil.com"}},
		{name: "two Origin headers, the allowed one second", origins: []string{"https://evil.com", "https://app.example.com"}},
		{name: "null", origins: []string{"null"}},
		{name: "empty", origins: []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := headers{{":method", "GET"}}
			for _, o := range tc.origins {
				req = append(req, [2]string{"origin", o})
			}
			var s stage.Stream
			if d := p.BeforeAuthentication(&s, s.Begin(req, &stage.Worker{})); d.Denied() {
				t.Fatalf("denied %s", d.Reason.Code())
			}
			p.ResponseHeaders(&s, s.Begin(headers{{":status", "200"}, {"access-control-allow-origin", "*"}, {"vary", "Accept-Encoding"}}, &stage.Worker{}))
			want := [][2]string{}
			if tc.want != "" {
				want = append([][2]string{{"access-control-allow-origin", tc.want}}, allowedHeaders...)
			}
			want = append(want, [2]string{"vary", "Accept-Encoding, Origin"})
			if !slices.Equal(s.Response.Set, want) || !slices.Equal(s.Response.Remove, []string{"access-control-allow-origin"}) {
				t.Errorf("response edits %+v, want set %v and the upstream's allow-origin removed", s.Response, want)
			}
		})
	}
}

// TestPreflights: answered 204 with the policy's headers, or refused 403
// without any.
func TestPreflights(t *testing.T) {
	p := compile(t, policy)
	tests := []struct {
		name    string
		headers headers
		want    verdict.Reason
	}{
		{name: "allowed", headers: headers{{"origin", "https://app.example.com"}, {"access-control-request-method", "PUT"}, {"access-control-request-headers", "authorization,content-type"}}},
		{name: "allowed, headers in any case", headers: headers{{"origin", "https://a.partner.example"}, {"access-control-request-method", "GET"}, {"access-control-request-headers", "Content-Type"}}},
		{name: "origin not allowed", headers: headers{{"origin", "https://evil.com"}, {"access-control-request-method", "GET"}}, want: verdict.CORSRefused},
		{name: "method not allowed", headers: headers{{"origin", "https://app.example.com"}, {"access-control-request-method", "DELETE"}}, want: verdict.CORSRefused},
		{name: "method in lower case", headers: headers{{"origin", "https://app.example.com"}, {"access-control-request-method", "put"}}, want: verdict.CORSRefused},
		{name: "header not allowed", headers: headers{{"origin", "https://app.example.com"}, {"access-control-request-method", "GET"}, {"access-control-request-headers", "content-type, x-admin"}}, want: verdict.CORSRefused},
		{name: "two origins", headers: headers{{"origin", "https://app.example.com"}, {"origin", "https://app.example.com"}, {"access-control-request-method", "GET"}}, want: verdict.CORSRefused},
		{name: "empty origin", headers: headers{{"origin", ""}, {"access-control-request-method", "GET"}}, want: verdict.CORSRefused},
		{name: "null origin", headers: headers{{"origin", "null"}, {"access-control-request-method", "GET"}}, want: verdict.CORSRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := stage.Stream{Preflight: true}
			d := p.BeforeAuthentication(&s, s.Begin(append(headers{{":method", "OPTIONS"}}, tc.headers...), &stage.Worker{}))
			if d.Reason != tc.want {
				t.Fatalf("reason %s, want %s", d.Reason.Code(), tc.want.Code())
			}
			if d.Denied() {
				if s.Answer != nil || slices.ContainsFunc(d.Headers(), func(kv [2]string) bool { return strings.HasPrefix(kv[0], "access-control-") }) {
					t.Errorf("refused with allow headers: %+v %+v", s.Answer, d.Headers())
				}
				p.ResponseHeaders(&s, s.Begin(headers{{":status", "403"}}, &stage.Worker{}))
				if !slices.Equal(s.Response.Set, [][2]string{{"vary", "Origin"}}) {
					t.Errorf("refusal's response edits %+v, want only Vary: Origin", s.Response)
				}
				return
			}
			want := []([2]string){{"access-control-allow-origin", tc.headers.Get("origin")}, {"vary", "Origin"},
				{"access-control-allow-methods", "GET, POST, PUT"}, {"access-control-allow-headers", "authorization, content-type"},
				{"access-control-allow-credentials", "true"}, {"access-control-max-age", "300"}}
			if s.Answer == nil || s.Answer.Status != 204 || !slices.Equal(s.Answer.Headers, want) {
				t.Fatalf("answer %+v, want 204 with %v", s.Answer, want)
			}
			p.ResponseHeaders(&s, s.Begin(headers{{":status", "204"}}, &stage.Worker{}))
			if len(s.Response.Set) > 0 || len(s.Response.Remove) > 0 {
				t.Errorf("the answered preflight's response edited again: %+v", s.Response)
			}
		})
	}
}

// TestAnyOriginIsNeverReflected: "*" answers "*", whatever the origin, and
// the response then does not vary by it.
func TestAnyOriginIsNeverReflected(t *testing.T) {
	p := compile(t, `{"origins": ["*"]}`)
	var s stage.Stream
	p.BeforeAuthentication(&s, s.Begin(headers{{":method", "GET"}, {"origin", "https://evil.com"}}, &stage.Worker{}))
	p.ResponseHeaders(&s, s.Begin(headers{{":status", "200"}}, &stage.Worker{}))
	if !slices.Equal(s.Response.Set, [][2]string{{"access-control-allow-origin", "*"}}) {
		t.Errorf("response edits %+v", s.Response)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, js, want string
	}{
		{name: "star with credentials", js: `{"origins": ["*"], "credentials": true}`, want: `cors.origins: "*" cannot be combined with credentials`},
		{name: "star among others", js: `{"origins": ["*", "https://a.example"]}`, want: `cors.origins: "*" allows every origin: list it alone`},
		{name: "upper-case origin", js: `{"origins": ["https://App.example"]}`, want: `cors.origins[0]: "https://App.example" is not an origin`},
		{name: "origin with a path", js: `{"origins": ["https://a.example/"]}`, want: `cors.origins[0]: "https://a.example/" is not an origin`},
		{name: "no origins", js: `{"origins": []}`, want: `cors.origins: must list at least one origin`},
		{name: "lower-case method", js: `{"origins": ["null"], "methods": ["get"]}`, want: `cors.methods[0]: must be written "GET"`},
		{name: "max age too large", js: `{"origins": ["null"], "max_age_s": 86401}`, want: `cors.max_age_s: must be a whole number from 0 to 86400`},
		{name: "off is the only word", js: `"on"`, want: `cors: must be one of ["off"], got "on"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &config.Reader{}
			Compile(r, "cors", gjson.Parse(tc.js), nil)
			if errs := r.Errors(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tc.want) {
				t.Errorf("errors %v, want %q", errs, tc.want)
			}
		})
	}
}
