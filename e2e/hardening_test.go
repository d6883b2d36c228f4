package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// strictHeaders are the strict preset's headers and values (README,
// "Response hardening"), HSTS first.
var strictHeaders = [][2]string{
	{"strict-transport-security", "max-age=31536000; includeSubDomains"},
	{"x-content-type-options", "nosniff"},
	{"content-security-policy", "default-src 'none'; frame-ancestors 'none'"},
	{"x-frame-options", "DENY"},
	{"referrer-policy", "no-referrer"},
	{"cross-origin-opener-policy", "same-origin"},
	{"cross-origin-resource-policy", "same-origin"},
	{"permissions-policy", "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), fullscreen=(), " +
		"geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), " +
		"publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(), usb=(), xr-spatial-tracking=()"},
	{"cache-control", "no-store"},
}

var leakyHeaders = []string{"server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-runtime", "x-envoy-upstream-service-time"}

// hardenedPolicy is an orders API under the default (strict) hardening,
// with upstream 5xx bodies replaced, a CORS policy for the web app and its
// partners, a route that requires https, and one with hardening and CORS
// turned off.
func hardenedPolicy() string {
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
  "routes": [
    {"name": "orders", "match": {"path": "/orders/**", "methods": ["GET", "POST", "DELETE", "OPTIONS"]}, "auth": {"providers": ["idp"]}},
    {"name": "public", "match": {"path": "/public/**", "methods": ["GET"]}, "auth": "none"},
    {"name": "payments", "match": {"path": "/payments"}, "auth": "none", "response": {"require_https": true}},
    {"name": "legacy", "match": {"path": "/legacy/**"}, "auth": {"providers": ["idp"]}, "response": {"security_headers": "off", "replace_error_bodies": false}, "cors": "off"}
  ],
  "response": {"replace_error_bodies": true},
  "cors": {"origins": ["https://app.example.com", "https://*.partner.example"], "methods": ["GET", "POST"],
           "headers": ["authorization", "content-type"], "expose_headers": ["x-request-id"], "credentials": true, "max_age_s": 600}
}`, idpIssuer, jwttest.JWKS(idpKeys()["ES256"]))
}

func startHardenedAPI(t testing.TB, opts ...option) *apiGateway {
	return startGateway(t, hardenedPolicy(), 1, append([]option{func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) }}, opts...)...)
}

// misbehavingUpstream answers by path the way real upstreams misbehave:
// its own CSP and HSTS, two Server lines and framework banners, a 500 with
// a stack trace, CORS headers of its own.
func misbehavingUpstream(r *host.UpstreamRequest) *host.Response {
	path, _ := r.Headers.Get(":path")
	resp := &host.Response{Status: 200, Headers: host.Headers{{"content-type", "application/json"}}, Body: []byte(`{"ok":true}`)}
	switch {
	case strings.HasSuffix(path, "/own-policy"):
		resp.Headers = append(resp.Headers, [2]string{"content-security-policy", "default-src 'self'"},
			[2]string{"strict-transport-security", "max-age=60"}, [2]string{"x-frame-options", "SAMEORIGIN"})
	case strings.HasSuffix(path, "/banners"):
		resp.Headers = append(resp.Headers, [2]string{"server", "Apache/2.4.1"}, [2]string{"server", "Tomcat"},
			[2]string{"x-powered-by", "Express"}, [2]string{"x-aspnet-version", "4.0.30319"}, [2]string{"x-runtime", "0.012"})
	case strings.HasSuffix(path, "/crash"):
		resp.Status = 500
		resp.Headers = host.Headers{{"content-type", "text/html"}, {"content-length", "61"}}
		resp.Body = []byte("<pre>NullPointerException at com.acme.Orders(Orders.java:42)")
		resp.ChunkSize = 16
	case strings.HasSuffix(path, "/cors"):
		resp.Headers = append(resp.Headers, [2]string{"access-control-allow-origin", "*"}, [2]string{"vary", "Accept-Encoding"})
	}
	return resp
}

// expectHardened checks a response against the strict preset: every header
// once with the policy's value (HSTS only over https), no leaky header, no
// header line twice.
func expectHardened(t *testing.T, res *host.Result, https bool) {
	t.Helper()
	for i, kv := range strictHeaders {
		got := res.Headers.Values(kv[0])
		if i == 0 && !https {
			if len(got) != 0 {
				t.Errorf("HSTS on a plain-http response: %v", got)
			}
			continue
		}
		if len(got) != 1 || got[0] != kv[1] {
			t.Errorf("%s: %q, want exactly %q", kv[0], got, kv[1])
		}
	}
	for _, name := range leakyHeaders {
		if v, ok := res.Headers.Get(name); ok {
			t.Errorf("leaky header %s: %s", name, v)
		}
	}
	expectNoDuplicates(t, res.Headers)
}

func expectNoDuplicates(t *testing.T, h host.Headers) {
	t.Helper()
	seen := map[string]bool{}
	for _, kv := range h {
		if seen[kv[0]] {
			t.Errorf("header %s twice: %v", kv[0], h.Values(kv[0]))
		}
		seen[kv[0]] = true
	}
}

// TestEveryResponseIsHardened: the upstream's responses and every local
// denial of apiguard carry the strict headers once, without the headers
// that name the upstream's software; a denial also where Envoy would not
// pass a local reply back through the filter that sent it.
func TestEveryResponseIsHardened(t *testing.T) {
	for _, skips := range []bool{false, true} {
		t.Run(fmt.Sprintf("local reply skips the filter %t", skips), func(t *testing.T) {
			everyResponseIsHardened(t, startHardenedAPI(t, func(c *host.Config) { c.LocalReplySkipsFilter = skips }))
		})
	}
}

func everyResponseIsHardened(t *testing.T, g *apiGateway) {
	tok := idpKeys()["ES256"].Token(idpClaims())
	tests := []struct {
		name   string
		req    host.Request
		status int
		reason string
	}{
		{name: "200 from the upstream", req: request("GET", "/public/orders"), status: 200},
		{name: "200 with the upstream's own CSP and HSTS", req: request("GET", "/public/own-policy"), status: 200},
		{name: "200 with two Server lines and banners", req: request("GET", "/public/banners"), status: 200},
		{name: "200 over plain http", req: host.Request{Method: "GET", Path: "/public/orders", Scheme: "http"}, status: 200},
		{name: "200 after authentication", req: request("GET", "/orders/7", bearer(tok)...), status: 200},
		{name: "400 bad path", req: request("GET", "/public/%2e%2e%2fadmin"), status: 400, reason: "bad_path"},
		{name: "401 without a token", req: request("GET", "/orders/7"), status: 401, reason: "token_missing"},
		{name: "403 plain http where https is required", req: host.Request{Method: "GET", Path: "/payments", Scheme: "http"}, status: 403, reason: "https_required"},
		{name: "403 a refused preflight", req: request("OPTIONS", "/orders/7", "origin", "https://evil.example", "access-control-request-method", "GET"), status: 403, reason: "cors_refused"},
		{name: "404 no route", req: request("GET", "/nowhere"), status: 404, reason: "no_route"},
		{name: "405 method", req: request("PUT", "/public/x"), status: 405, reason: "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := g.vms[0].RoundTrip(tc.req, misbehavingUpstream)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if tc.reason != "" {
				expectProblem(t, res, tc.status, tc.reason)
			} else if res.Status != tc.status {
				t.Fatalf("status %d, want %d", res.Status, tc.status)
			}
			expectHardened(t, res, tc.req.Scheme != "http")
		})
	}
}

// TestUpstreamErrorPagesDoNotLeak: a 500 from the upstream reaches the
// client hardened, with a generic problem in place of its stack trace; and
// Envoy's own 503 for an unreachable upstream is hardened and replaced the
// same way, as it passes through the filter's response callbacks.
func TestUpstreamErrorPagesDoNotLeak(t *testing.T) {
	g := startHardenedAPI(t)
	res := g.vms[0].RoundTrip(request("GET", "/public/crash"), misbehavingUpstream)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	expectGenericProblem(t, res.Status, res.Headers, res.Body, 500)
	expectHardened(t, res, true)

	s, err := g.vms[0].NewStream(host.StreamInfo{SourceAddress: "203.0.113.7:51000"})
	if err != nil {
		t.Fatal(err)
	}
	if act, err := s.RequestHeaders(host.Headers{{":method", "GET"}, {":path", "/public/orders"}, {":authority", "api.example.com"}, {":scheme", "https"}}, true); act != host.Continue || err != nil {
		t.Fatalf("request: %v %v", act, err)
	}
	h, body, err := s.SendLocalReply(host.LocalReply{Status: 503, Details: "upstream_reset_before_response_started{remote_connection_failure}",
		Body: []byte("upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused"), GRPCStatus: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	expectGenericProblem(t, 503, h, body, 503)
	expectHardened(t, &host.Result{Headers: h}, true)
}

func expectGenericProblem(t *testing.T, status int, h host.Headers, body []byte, want int) {
	t.Helper()
	var p problem
	if err := json.Unmarshal(body, &p); err != nil || status != want || p.Status != want || p.Type != "urn:apiguard:problem:upstream_error" {
		t.Errorf("status %d, body %q (%v): want a generic %d problem", status, body, err, want)
	}
	if ct, _ := h.Get("content-type"); ct != "application/problem+json" {
		t.Errorf("content-type %q", ct)
	}
	if cl, ok := h.Get("content-length"); ok {
		t.Errorf("content-length %s left for a replaced body", cl)
	}
}

// TestAProblemIsNeverSniffed: with hardening off, apiguard's own problem
// replies still say nosniff, and nothing else is added or removed.
func TestAProblemIsNeverSniffed(t *testing.T) {
	g := startHardenedAPI(t)
	res := g.vms[0].RoundTrip(request("GET", "/legacy/x"), misbehavingUpstream)
	expectProblem(t, res, 401, "token_missing")
	if v := res.Headers.Values("x-content-type-options"); len(v) != 1 || v[0] != "nosniff" {
		t.Errorf("x-content-type-options %v", v)
	}
	if _, ok := res.Headers.Get("content-security-policy"); ok {
		t.Error("a route with hardening off got the preset")
	}
}

// TestARouteWithoutHardeningPaysNothing: on a route without CORS or
// hardening, the response phase makes no host call at all.
func TestARouteWithoutHardeningPaysNothing(t *testing.T) {
	g := startHardenedAPI(t)
	tok := idpKeys()["ES256"].Token(idpClaims())
	vm := g.vms[0]
	before := vm.HostCalls("proxy_on_response_headers")
	res := vm.RoundTrip(request("GET", "/legacy/x", append(bearer(tok), "origin", "https://app.example.com")...), misbehavingUpstream)
	if res.Status != 200 {
		t.Fatalf("status %d", res.Status)
	}
	if n := vm.HostCalls("proxy_on_response_headers") - before; n != 0 {
		t.Errorf("%d host calls in the response phase, want none", n)
	}
	before = vm.HostCalls("proxy_on_response_headers")
	vm.RoundTrip(request("GET", "/public/x"), misbehavingUpstream)
	if n := vm.HostCalls("proxy_on_response_headers") - before; n == 0 {
		t.Error("a hardened route made no host call in the response phase: the count proves nothing")
	}
}
