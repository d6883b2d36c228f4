package e2e

import (
	"encoding/json"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// TestAFailedHostCallFailsTheStreamClosed: when Envoy refuses an edit
// apiguard decided on (removing a spoofed claim header, setting a claim
// header, forwarding the normalized path), or cannot give the headers a
// stage reads, the request is answered with a 500 problem rather than
// forwarded half-edited or unchecked.
func TestAFailedHostCallFailsTheStreamClosed(t *testing.T) {
	token := idpKeys()["ES256"].Token(idpClaims())
	tests := []struct {
		name, call string
		req        host.Request
		// edit: the failed call applied a decision (logged as such), rather
		// than read what a stage needed.
		edit bool
	}{
		{name: "a spoofed claim header cannot be removed on a public route", call: "proxy_remove_header_map_value",
			req: request("GET", "/healthz", "x-auth-sub", "mallory"), edit: true},
		{name: "the token cannot be stripped", call: "proxy_remove_header_map_value",
			req: request("GET", "/orders/1", bearer(token)...), edit: true},
		{name: "a claim header cannot be set", call: "proxy_replace_header_map_value",
			req: request("GET", "/orders/1", bearer(token)...), edit: true},
		{name: "the normalized path cannot be forwarded", call: "proxy_replace_header_map_value",
			req: request("GET", "//healthz"), edit: true},
		{name: "the headers authentication needs cannot be read", call: "proxy_get_header_map_pairs",
			req: request("GET", "/orders/1", bearer(token)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, ordersPolicy(), 1, func(c *host.Config) {
				c.Clock = host.NewFakeClock(jwtNow)
				c.FailHostCalls = []string{tc.call}
			})
			res := g.send(tc.req)
			if res.Upstream != nil {
				t.Fatalf("forwarded upstream: %+v", res.Upstream)
			}
			expectProblem(t, res, 500, "internal")
			if tc.edit && !logged(g.env, "apiguard: cannot edit the request") {
				t.Error("the failure is not logged")
			}
		})
	}
}

// TestAFailedResponseEditFailsTheResponseClosed: when Envoy refuses to set
// a header a response-phase stage decided on (here the rate limiter's
// RateLimit headers), the client gets a 500 problem instead of the
// upstream's response without them.
func TestAFailedResponseEditFailsTheResponseClosed(t *testing.T) {
	g := startGateway(t, `{"routes": [{"name": "docs", "match": {"path": "/docs"}, "auth": "none",
		"rate_limit": {"rules": [{"name": "per-peer", "key": ["peer"], "rate": 100, "per": "second"}]}}]}`, 1, func(c *host.Config) {
		c.FailHostCalls = []string{"proxy_replace_header_map_value"}
	})
	res := g.send(request("GET", "/docs"))
	if res.Status != 500 {
		t.Fatalf("status %d, want 500: %s", res.Status, res.Body)
	}
	var p problem
	if err := json.Unmarshal(res.Body, &p); err != nil || p.Type != "urn:apiguard:problem:internal" {
		t.Errorf("body %s: %v", res.Body, err)
	}
	if !logged(g.env, "apiguard: cannot edit the response") {
		t.Error("the failure is not logged")
	}
}
