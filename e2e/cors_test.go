package e2e

import (
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// originAttacks are origins that look like the allowed ones
// (https://app.example.com, https://*.partner.example) and must get no
// allow header.
var originAttacks = []struct {
	name    string
	origins []string
}{
	{name: "the allowed host as a prefix", origins: []string{"https://app.example.com.evil.com"}},
	{name: "a longer label ending like it", origins: []string{"https://evilapp.example.com"}},
	{name: "a hyphen for the dot", origins: []string{"https://app-example.com"}},
	{name: "http instead of https", origins: []string{"http://app.example.com"}},
	{name: "another port", origins: []string{"https://app.example.com:8443"}},
	{name: "a trailing dot", origins: []string{"https://app.example.com."}},
	{name: "a Unicode look-alike host", origins: []string{"https://\u0430pp.example.com"}},
	{name: "an upper-case host under exact match", origins: []string{"https://APP.EXAMPLE.COM"}},
	{name: "two Origin headers", origins: []string{"https://app.example.com", "https://evil.example"}},
	{name: "the wildcard's own domain", origins: []string{"https://partner.example"}},
	{name: "the wildcard's domain as a prefix", origins: []string{"https://a.partner.example.evil.com"}},
	{name: "null", origins: []string{"null"}},
	{name: "empty", origins: []string{""}},
}

func withOrigins(req host.Request, origins []string) host.Request {
	for _, o := range origins {
		req.Headers = append(req.Headers, [2]string{"origin", o})
	}
	return req
}

func allowHeaders(h host.Headers) []string {
	var out []string
	for _, kv := range h {
		if strings.HasPrefix(kv[0], "access-control-allow-") {
			out = append(out, kv[0]+": "+kv[1])
		}
	}
	return out
}

// TestLookAlikeOriginsGetNoAllowHeaders: none of the origin attacks gets an
// allow header, neither on an actual request nor on a preflight (refused
// 403), and each response says it varies by Origin.
func TestLookAlikeOriginsGetNoAllowHeaders(t *testing.T) {
	g := startHardenedAPI(t)
	for _, tc := range originAttacks {
		t.Run(tc.name, func(t *testing.T) {
			res := g.vms[0].RoundTrip(withOrigins(request("GET", "/public/cors"), tc.origins), misbehavingUpstream)
			if res.Status != 200 || len(allowHeaders(res.Headers)) > 0 {
				t.Errorf("actual request: status %d, allow headers %v", res.Status, allowHeaders(res.Headers))
			}
			if v := res.Headers.Values("vary"); len(v) != 1 || v[0] != "Accept-Encoding, Origin" {
				t.Errorf("vary %q", v)
			}
			pre := g.vms[0].RoundTrip(withOrigins(request("OPTIONS", "/orders/7", "access-control-request-method", "GET"), tc.origins), misbehavingUpstream)
			expectProblem(t, pre, 403, "cors_refused")
			if len(allowHeaders(pre.Headers)) > 0 {
				t.Errorf("refused preflight with allow headers %v", allowHeaders(pre.Headers))
			}
			if v := pre.Headers.Values("vary"); len(v) != 1 || v[0] != "Origin" {
				t.Errorf("refused preflight: vary %q", v)
			}
		})
	}
}

// TestAllowedOriginsGetThemselvesBack: an allowed origin, exact or under
// the partners' wildcard, gets exactly itself (never "*"), with
// credentials and the exposed headers, replacing the upstream's own "*";
// on a denial too, so the web app can read its 401.
func TestAllowedOriginsGetThemselvesBack(t *testing.T) {
	g := startHardenedAPI(t)
	tok := idpKeys()["ES256"].Token(idpClaims())
	tests := []struct {
		name, origin string
		req          host.Request
		status       int
	}{
		{name: "the web app", origin: "https://app.example.com", req: request("GET", "/public/cors"), status: 200},
		{name: "a partner", origin: "https://eu.partner.example", req: request("GET", "/public/cors"), status: 200},
		{name: "a partner's subdomain", origin: "https://a.b.partner.example", req: request("GET", "/orders/7", bearer(tok)...), status: 200},
		{name: "a denial", origin: "https://app.example.com", req: request("GET", "/orders/7"), status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := g.vms[0].RoundTrip(withOrigins(tc.req, []string{tc.origin}), misbehavingUpstream)
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d", res.Status, tc.status)
			}
			want := []string{"access-control-allow-origin: " + tc.origin, "access-control-allow-credentials: true"}
			if got := allowHeaders(res.Headers); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("allow headers %v, want %v", got, want)
			}
			if v := res.Headers.Values("access-control-expose-headers"); len(v) != 1 || v[0] != "x-request-id" {
				t.Errorf("expose headers %v", v)
			}
			expectHardened(t, res, true)
		})
	}
}

// TestPreflightsAreAnsweredByTheGateway: an allowed preflight gets 204 with
// the allowed methods and headers and a bounded max-age, without a token and
// without reaching the upstream, even on a route whose methods do not list
// OPTIONS; a refused one gets 403 without allow headers; an OPTIONS without
// both preflight headers is an ordinary request (the orders route serves
// OPTIONS with a token).
func TestPreflightsAreAnsweredByTheGateway(t *testing.T) {
	g := startHardenedAPI(t)
	preflight := func(origin, method, headers string) host.Request {
		req := request("OPTIONS", "/orders/7", "origin", origin, "access-control-request-method", method)
		if headers != "" {
			req.Headers.Add("access-control-request-headers", headers)
		}
		return req
	}
	tests := []struct {
		name   string
		req    host.Request
		status int
		reason string
	}{
		{name: "allowed", req: preflight("https://app.example.com", "POST", "authorization,content-type"), status: 204},
		{name: "a method the route serves but CORS does not allow", req: preflight("https://app.example.com", "DELETE", ""), status: 403, reason: "cors_refused"},
		{name: "a header not allowed", req: preflight("https://app.example.com", "GET", "x-admin"), status: 403, reason: "cors_refused"},
		{name: "an origin not allowed", req: preflight("https://evil.example", "GET", ""), status: 403, reason: "cors_refused"},
		{name: "OPTIONS without Access-Control-Request-Method: auth applies", req: request("OPTIONS", "/orders/7", "origin", "https://app.example.com"), status: 401, reason: "token_missing"},
		{name: "OPTIONS without Origin: auth applies", req: request("OPTIONS", "/orders/7", "access-control-request-method", "GET"), status: 401, reason: "token_missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := g.vms[0].RoundTrip(tc.req, misbehavingUpstream)
			if tc.reason != "" {
				expectProblem(t, res, tc.status, tc.reason)
				if tc.reason == "cors_refused" && len(allowHeaders(res.Headers)) > 0 {
					t.Errorf("allow headers on a refusal: %v", allowHeaders(res.Headers))
				}
				return
			}
			if res.Status != 204 || res.Upstream != nil || len(res.Body) != 0 {
				t.Fatalf("status %d, upstream reached %v, body %q", res.Status, res.Upstream != nil, res.Body)
			}
			want := []string{"access-control-allow-origin: https://app.example.com", "access-control-allow-methods: GET, POST",
				"access-control-allow-headers: authorization, content-type", "access-control-allow-credentials: true"}
			if got := allowHeaders(res.Headers); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("allow headers %v, want %v", got, want)
			}
			if v, _ := res.Headers.Get("access-control-max-age"); v != "600" {
				t.Errorf("max-age %q", v)
			}
			expectHardened(t, res, true)
		})
	}
	if n, _ := g.env.Metric("apiguard.requests.answered"); n != 1 {
		t.Errorf("answered counter %d, want the one allowed preflight", n)
	}
	if n, _ := g.env.Metric("apiguard.requests.denied.cors_refused"); n != 3 {
		t.Errorf("cors_refused counter %d, want 3", n)
	}
}
