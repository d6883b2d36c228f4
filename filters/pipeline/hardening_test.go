package pipeline

import (
	"testing"

	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

// TestPreflightsAreMatchedAsTheRequestTheyAnnounce: a CORS preflight on a
// route with a CORS policy is matched with the method it announces and
// answered before authentication; without both of its headers, or on a
// route without CORS, an OPTIONS is an ordinary request.
func TestPreflightsAreMatchedAsTheRequestTheyAnnounce(t *testing.T) {
	p, errs := Load([]byte(`{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": {"keys": [{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "alg": "HS256"}]}}}},
		"routes": [
		{"name": "orders", "match": {"path": "/orders", "methods": ["GET", "DELETE"]}, "auth": {"providers": ["idp"]}},
		{"name": "admin", "match": {"path": "/admin", "methods": ["GET"]}, "auth": {"providers": ["idp"]}, "cors": "off"}],
		"cors": {"origins": ["https://app.example.com"]}}`))
	if errs != nil {
		t.Fatal(errs)
	}
	preflight := func(path, method string) headers {
		return headers{{":method", "OPTIONS"}, {":path", path}, {":authority", "a.example"}, {"origin", "https://app.example.com"}, {"access-control-request-method", method}}
	}
	tests := []struct {
		name       string
		h          headers
		want       verdict.Reason
		wantAnswer bool
	}{
		{name: "allowed: answered without a token", h: preflight("/orders", "GET"), wantAnswer: true},
		{name: "a method the route serves but CORS does not allow", h: preflight("/orders", "DELETE"), want: verdict.CORSRefused},
		{name: "a method no route serves", h: preflight("/orders", "PATCH"), want: verdict.MethodNotAllowed},
		{name: "without Origin: an ordinary OPTIONS", h: without(preflight("/orders", "GET"), "origin"), want: verdict.MethodNotAllowed},
		{name: "on a route without CORS: an ordinary OPTIONS", h: preflight("/admin", "GET"), want: verdict.MethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s stage.Stream
			d := p.RequestHeaders(&s, tc.h, p.NewWorker(&hosttest.Host{}))
			if d.Reason != tc.want || (s.Answer != nil) != tc.wantAnswer {
				t.Errorf("reason %s, answer %+v; want %s, an answer %v", d.Reason.Code(), s.Answer, tc.want.Code(), tc.wantAnswer)
			}
		})
	}
}

func without(h headers, name string) headers {
	var out headers
	for _, kv := range h {
		if kv[0] != name {
			out = append(out, kv)
		}
	}
	return out
}

// TestStreamsNoRouteMatchedAreHardened: the response phase of a stream
// denied before or at matching runs the stages of the global settings,
// with the request's scheme known; a policy that turns hardening off has
// no such stage, and then reads no scheme.
func TestStreamsNoRouteMatchedAreHardened(t *testing.T) {
	routes := `"routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none", "response": {"security_headers": "off"}}]`
	on, errs := Load([]byte(`{` + routes + `}`))
	if errs != nil {
		t.Fatal(errs)
	}
	off, errs := Load([]byte(`{` + routes + `, "response": {"security_headers": "off"}}`))
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		name           string
		p              *Pipeline
		path, method   string
		want           verdict.Reason
		wantResponders bool
	}{
		{name: "no route", p: on, path: "/b", method: "GET", want: verdict.NoRoute, wantResponders: true},
		{name: "bad path", p: on, path: "/%2e%2e%2f", method: "GET", want: verdict.BadPath, wantResponders: true},
		{name: "no method", p: on, path: "/b", want: verdict.BadRequest, wantResponders: true},
		{name: "a route with hardening off", p: on, path: "/a", method: "GET"},
		{name: "hardening off everywhere", p: off, path: "/b", method: "GET", want: verdict.NoRoute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s stage.Stream
			h := headers{{":method", tc.method}, {":path", tc.path}, {":authority", "a.example"}, {":scheme", "https"}}
			if d := tc.p.RequestHeaders(&s, h, tc.p.NewWorker(&hosttest.Host{})); d.Reason != tc.want {
				t.Fatalf("reason %s, want %s", d.Reason.Code(), tc.want.Code())
			}
			if (len(s.Responders) > 0) != tc.wantResponders || (s.Scheme == "https") != (tc.p == on) {
				t.Fatalf("%d responders, scheme %q", len(s.Responders), s.Scheme)
			}
			if len(s.Responders) == 0 {
				return
			}
			tc.p.ResponseHeaders(&s, headers{{":status", "404"}}, tc.p.NewWorker(&hosttest.Host{}))
			if len(s.Response.Set) == 0 || s.Response.Set[0][0] != "strict-transport-security" {
				t.Errorf("response edits %+v, want the strict preset with HSTS", s.Response)
			}
		})
	}
}

// TestRequireHTTPSHoldsWhereNoRouteMatches: the global require_https makes
// the API https-only whatever the path, as Envoy's require_tls does a
// virtual host before it matches a route. A plain-http request no route
// matches gets 403 https_required, not the 404 or 405 that would tell
// known paths from unknown ones over plain http, nor the "default":
// "allow" that would send it upstream. A route's own setting decides its
// requests; a route's require_https alone leaves unknown paths a 404.
func TestRequireHTTPSHoldsWhereNoRouteMatches(t *testing.T) {
	const routes = `"routes": [
		{"name": "a", "match": {"path": "/a", "methods": ["GET"]}, "auth": "none"},
		{"name": "health", "match": {"path": "/healthz"}, "auth": "none", "response": {"require_https": false}},
		{"name": "pay", "match": {"path": "/pay"}, "auth": "none", "response": {"require_https": true}}]`
	load := func(extra string) *Pipeline {
		p, errs := Load([]byte(`{` + routes + extra + `}`))
		if errs != nil {
			t.Fatal(errs)
		}
		return p
	}
	global, open, perRoute := load(`, "response": {"require_https": true}`), load(`, "response": {"require_https": true}, "default": "allow"`), load(``)
	tests := []struct {
		name, method, path, scheme string
		p                          *Pipeline
		want                       verdict.Reason
	}{
		{name: "plain http, no route", p: global, method: "GET", path: "/nope", scheme: "http", want: verdict.HTTPSRequired},
		{name: "https, no route", p: global, method: "GET", path: "/nope", scheme: "https", want: verdict.NoRoute},
		{name: "plain http, a method the route does not serve", p: global, method: "POST", path: "/a", scheme: "http", want: verdict.HTTPSRequired},
		{name: "https, a method the route does not serve", p: global, method: "POST", path: "/a", scheme: "https", want: verdict.MethodNotAllowed},
		{name: "plain http, a route", p: global, method: "GET", path: "/a", scheme: "http", want: verdict.HTTPSRequired},
		{name: "plain http, a route that allows it", p: global, method: "GET", path: "/healthz", scheme: "http"},
		{name: "plain http, no route, default allow", p: open, method: "GET", path: "/nope", scheme: "http", want: verdict.HTTPSRequired},
		{name: "https, no route, default allow", p: open, method: "GET", path: "/nope", scheme: "https"},
		{name: "plain http, a path that cannot be normalized", p: global, method: "GET", path: "/%2e%2e%2f", scheme: "http", want: verdict.BadPath},
		{name: "route setting only: plain http, that route", p: perRoute, method: "GET", path: "/pay", scheme: "http", want: verdict.HTTPSRequired},
		{name: "route setting only: plain http, no route", p: perRoute, method: "GET", path: "/nope", scheme: "http", want: verdict.NoRoute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s stage.Stream
			h := headers{{":method", tc.method}, {":path", tc.path}, {":authority", "a.example"}, {":scheme", tc.scheme}}
			if d := tc.p.RequestHeaders(&s, h, tc.p.NewWorker(&hosttest.Host{})); d.Reason != tc.want {
				t.Errorf("reason %s, want %s", d.Reason.Code(), tc.want.Code())
			}
		})
	}
}
