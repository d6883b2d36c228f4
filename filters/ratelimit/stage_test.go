package ratelimit_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/pipeline"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

type headers = hosttest.Headers

var epoch = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)

// gateway is a loaded pipeline with one simulated worker per peer address
// on one shared host, and a fake clock. Its streams reuse one Stream, reset
// after each, as the glue reuses a stream context's: each request may take
// the state an earlier one kept (stage.Spare).
type gateway struct {
	t    testing.TB
	p    *pipeline.Pipeline
	host *hosttest.Host
	now  time.Time
	s    stage.Stream
}

func load(t testing.TB, config string) *gateway {
	t.Helper()
	p, errs := pipeline.Load([]byte(config))
	if errs != nil {
		t.Fatal(errs)
	}
	return &gateway{t: t, p: p, host: &hosttest.Host{Properties: map[string][]byte{}}, now: epoch}
}

// send runs a request from peer through the request phase and, when it
// was allowed or answered, the response phase; it returns the decision and
// the headers the client would see.
func (g *gateway) send(peer, path string, hdrs ...string) (verdict.Decision, headers) {
	g.t.Helper()
	g.host.Properties["source.address"] = []byte(peer)
	w := g.p.NewWorker(g.host)
	w.Now = func() time.Time { return g.now }
	h := headers{{":method", "GET"}, {":path", path}, {":authority", "api.example"}}
	for i := 0; i+1 < len(hdrs); i += 2 {
		h = append(h, [2]string{hdrs[i], hdrs[i+1]})
	}
	s := &g.s
	defer s.Reset()
	d := g.p.RequestHeaders(s, h, w)
	if d.Denied() {
		d = verdict.DenyWith(d.Reason, &verdict.Denial{Detail: d.Detail(), Headers: copied(d.Headers())})
	}
	out := slices.Clone(headers(d.Headers()))
	if len(s.Responders) > 0 {
		g.p.ResponseHeaders(s, headers{{":status", "200"}}, w)
		out = append(out, copied(s.Response.Set)...)
	}
	return d, out
}

// copied is a copy of h and of its values, as the host copies the headers
// it is given: a stage may write values in buffers the next stream reuses.
func copied(h [][2]string) [][2]string {
	out := make([][2]string, len(h))
	for i, kv := range h {
		out[i] = [2]string{kv[0], strings.Clone(kv[1])}
	}
	return out
}

const perPeer = `{"rate_limit": {"rules": [{"name": "per-peer", "key": ["peer"], "rate": 5, "per": "second", "burst": 4}]},
	"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": "none"},
	           {"name": "health", "match": {"path": "/healthz"}, "auth": "none", "rate_limit": "none"}]}`

// TestLimitedClientsGetRetryAfterAndTheDraftHeaders: the sixth immediate
// request of one peer is refused 429 with Retry-After and the
// RateLimit-Policy and RateLimit fields; allowed responses carry them too.
func TestLimitedClientsGetRetryAfterAndTheDraftHeaders(t *testing.T) {
	g := load(t, perPeer)
	for i := 0; i < 5; i++ {
		d, h := g.send("198.51.100.7:4000", "/orders")
		if d.Denied() {
			t.Fatalf("request %d refused: %s", i+1, d.Reason.Code())
		}
		if want := `"per-peer";r=` + string(rune('4'-i)) + `;t=1`; h.Get("ratelimit") != want {
			t.Errorf("request %d: RateLimit %q, want %q", i+1, h.Get("ratelimit"), want)
		}
	}
	d, h := g.send("198.51.100.7:4001", "/orders")
	if d.Reason != verdict.RateLimited || d.Reason.Status() != 429 {
		t.Fatalf("sixth request: %s, want rate_limited", d.Reason.Code())
	}
	for name, want := range map[string]string{
		"retry-after":      "1",
		"ratelimit-policy": `"per-peer";q=5;w=1`,
		"ratelimit":        `"per-peer";r=0;t=1`,
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if d, _ := g.send("198.51.100.8:4000", "/orders"); d.Denied() {
		t.Error("another peer was refused: buckets are per peer")
	}
	if d, h := g.send("198.51.100.7:4000", "/healthz"); d.Denied() || h.Get("ratelimit") != "" {
		t.Errorf(`a route with "rate_limit": "none": %s, headers %v`, d.Reason.Code(), h)
	}
	g.now = g.now.Add(200 * time.Millisecond)
	if d, _ := g.send("198.51.100.7:4000", "/orders"); d.Denied() {
		t.Error("refused one interval later")
	}
	if n := g.host.Counter("apiguard.ratelimit.per-peer.limited"); n != 1 {
		t.Errorf("limited counter %d, want 1", n)
	}
	if n := g.host.Counter("apiguard.ratelimit.per-peer.allowed"); n != 7 {
		t.Errorf("allowed counter %d, want 7", n)
	}
}

// TestSpoofedForwardedForGetsNoFreshBucket: with zero trusted hops the
// header is ignored; with one, only the entry the trusted proxy wrote
// counts, never the client-chosen ones left of it.
func TestSpoofedForwardedForGetsNoFreshBucket(t *testing.T) {
	for _, tc := range []struct {
		name, hops string
		xff        []string // one per request, all from one peer
		wantAll    bool     // whether all six requests pass
	}{
		{name: "zero hops: a new spoofed entry each time", hops: "0",
			xff: []string{"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5", "1.1.1.6"}},
		{name: "one hop: spoofed entries left of the proxy's", hops: "1",
			xff: []string{"1.1.1.1, 203.0.113.5", "1.1.1.2, 203.0.113.5", "1.1.1.3,203.0.113.5", "x, 203.0.113.5", "203.0.113.5", "9.9.9.9, 203.0.113.5"}},
		{name: "one hop: the proxy's clients differ", hops: "1", wantAll: true,
			xff: []string{"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5", "1.1.1.6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := load(t, `{"rate_limit": {"trusted_hops": `+tc.hops+`, "rules": [{"name": "per-client", "key": ["x_forwarded_for"], "rate": 5, "per": "second", "burst": 4}]},
				"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": "none"}]}`)
			passed := 0
			for _, xff := range tc.xff {
				if d, _ := g.send("10.0.0.2:4000", "/orders", "x-forwarded-for", xff); !d.Denied() {
					passed++
				}
			}
			if (passed == len(tc.xff)) != tc.wantAll || !tc.wantAll && passed != 5 {
				t.Errorf("%d of %d passed", passed, len(tc.xff))
			}
		})
	}
}

// TestAPIKeysAreHashedAndFallBackToThePeer: requests are limited per API
// key, the key never lands in shared data or logs, and a request without
// one is limited by its peer address.
func TestAPIKeysAreHashedAndFallBackToThePeer(t *testing.T) {
	g := load(t, `{"rate_limit": {"rules": [{"name": "per-key", "key": ["header:x-api-key"], "rate": 1, "per": "minute", "burst": 1}]},
		"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": "none"}]}`)
	const secret = "sk_live_0123456789abcdef"
	for i, tc := range []struct {
		peer, key string
		denied    bool
	}{
		{"192.0.2.1:1", secret, false}, {"192.0.2.2:1", secret, false}, {"192.0.2.3:1", secret, true},
		{"192.0.2.1:1", "another", false},
		{"192.0.2.9:1", "", false}, {"192.0.2.9:2", "", false}, {"192.0.2.9:3", "", true},
	} {
		var hdrs []string
		if tc.key != "" {
			hdrs = []string{"x-api-key", tc.key}
		}
		if d, _ := g.send(tc.peer, "/orders", hdrs...); d.Denied() != tc.denied {
			t.Errorf("request %d (%s, with a key %v): %s, want denied %v", i+1, tc.peer, tc.key != "", d.Reason.Code(), tc.denied)
		}
	}
	for _, l := range g.host.Logs() {
		if strings.Contains(l, secret) {
			t.Errorf("logged the API key: %q", l)
		}
	}
	if g.host.SharedContains(secret) {
		t.Error("the API key is in shared data")
	}
}

// TestARefusedRequestConsumesNothing: a request one rule refuses spends
// nothing of the others'.
func TestARefusedRequestConsumesNothing(t *testing.T) {
	g := load(t, `{"rate_limit": {"rules": [
		{"name": "per-peer", "key": ["peer"], "rate": 3, "per": "minute", "burst": 2},
		{"name": "per-key", "key": ["header:x-api-key"], "rate": 1, "per": "minute", "burst": 0}]},
		"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": "none"}]}`)
	if d, _ := g.send("192.0.2.1:1", "/orders", "x-api-key", "a"); d.Denied() {
		t.Fatal("first request refused")
	}
	for i := 0; i < 5; i++ {
		if d, _ := g.send("192.0.2.1:1", "/orders", "x-api-key", "a"); d.Reason != verdict.RateLimited {
			t.Fatalf("a refused key's request: %s", d.Reason.Code())
		}
	}
	// The peer spent one of its three: two more keys pass, the next not.
	for i, want := range []bool{false, false, true} {
		if d, _ := g.send("192.0.2.1:1", "/orders", "x-api-key", string(rune('b'+i))); d.Denied() != want {
			t.Errorf("key %c: denied %v, want %v", 'b'+i, d.Denied(), want)
		}
	}
}

// TestShadowRulesCountButNeverRefuse.
func TestShadowRulesCountButNeverRefuse(t *testing.T) {
	g := load(t, `{"rate_limit": {"rules": [{"name": "trial", "key": ["peer"], "rate": 1, "per": "hour", "shadow": true}]},
		"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": "none"}]}`)
	var last headers
	for i := 0; i < 3; i++ {
		d, h := g.send("192.0.2.1:1", "/orders")
		if d.Denied() {
			t.Fatalf("a shadow rule refused request %d", i+1)
		}
		last = h
	}
	if n := g.host.Counter("apiguard.ratelimit.trial.shadow_limited"); n != 2 {
		t.Errorf("shadow_limited %d, want 2", n)
	}
	if last.Get("x-apiguard-ratelimit-shadow") != "trial" || last.Get("ratelimit") != "" {
		t.Errorf("headers %v: want the shadow header and no RateLimit", last)
	}
}

// TestOnError: a host whose shared data fails denies with 500 by default,
// admits with on_error "allow".
func TestOnError(t *testing.T) {
	for _, tc := range []struct {
		onError string
		want    verdict.Reason
	}{{`"deny"`, verdict.Internal}, {`"allow"`, verdict.None}} {
		g := load(t, `{"rate_limit": {"rules": [{"name": "r", "key": ["peer"], "rate": 1, "per": "hour", "on_error": `+tc.onError+`}]},
			"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": "none"}]}`)
		g.host.FailShared = true
		if d, _ := g.send("192.0.2.1:1", "/orders"); d.Reason != tc.want {
			t.Errorf("on_error %s: %s, want %s", tc.onError, d.Reason.Code(), tc.want.Code())
		}
		if n := g.host.Counter("apiguard.ratelimit.r.errors"); n != 1 {
			t.Errorf("on_error %s: errors counter %d", tc.onError, n)
		}
	}
}

// TestAnIdentityRefusalGivesBackThePeersUnit: a request the per-user rule
// refuses after authentication has been counted by the per-peer rule
// before it; that unit is given back, so the peer's other users keep it.
func TestAnIdentityRefusalGivesBackThePeersUnit(t *testing.T) {
	k := jwttest.HMAC("k1", "HS256", 32)
	g := load(t, `{"providers": {"idp": {"issuer": "https://idp/", "audiences": ["api"], "jwks": {"inline": `+string(jwttest.JWKS(k))+`}}},
		"rate_limit": {"rules": [{"name": "per-peer", "key": ["peer"], "rate": 3, "per": "minute", "burst": 2}]},
		"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": {"providers": ["idp"]},
			"rate_limit": {"rules": [{"name": "per-user", "key": ["claim:/sub"], "rate": 1, "per": "minute"}]}}]}`)
	token := func(sub string) string {
		return "Bearer " + k.Token(jwttest.Claims("https://idp/", "api", epoch.Add(time.Hour).Unix(), "sub", `"`+sub+`"`))
	}
	const peer = "192.0.2.1:1"
	if d, _ := g.send(peer, "/orders", "authorization", token("alice")); d.Denied() {
		t.Fatalf("alice's first request: %s", d.Reason.Code())
	}
	for i := 0; i < 5; i++ {
		if d, _ := g.send(peer, "/orders", "authorization", token("alice")); d.Reason != verdict.RateLimited {
			t.Fatalf("alice's request %d: %s, want rate_limited", i+2, d.Reason.Code())
		}
	}
	// The peer spent one of its three on alice: bob and carol pass, dave not.
	for _, tc := range []struct {
		sub    string
		denied bool
	}{{"bob", false}, {"carol", false}, {"dave", true}} {
		if d, _ := g.send(peer, "/orders", "authorization", token(tc.sub)); d.Denied() != tc.denied {
			t.Errorf("%s: %s, want denied %v", tc.sub, d.Reason.Code(), tc.denied)
		}
	}
}

// TestServicesGetTheirOwnBudgets: a rule keyed by peer_identity counts each
// calling service's SPIFFE ID apart, whatever its address, and a caller
// without one (here, plaintext on an or_token route) falls back to its
// address.
func TestServicesGetTheirOwnBudgets(t *testing.T) {
	k := jwttest.HMAC("k", "HS256", 32)
	g := load(t, `{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": `+string(jwttest.JWKS(k))+`}}},
		"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": {"providers": ["idp"]},
		  "peer": {"trust_domains": ["cluster.local"], "or_token": true},
		  "rate_limit": {"rules": [{"name": "per-service", "key": ["peer_identity"], "rate": 1, "per": "minute", "burst": 1}]}}]}`)
	user := "Bearer " + k.Token(jwttest.Claims("i", "a", epoch.Add(time.Hour).Unix()))
	for i, tc := range []struct {
		service, peer string
		denied        bool
	}{
		{"spiffe://cluster.local/ns/orders/sa/billing", "10.0.0.1:1", false},
		{"spiffe://cluster.local/ns/orders/sa/billing", "10.0.0.2:1", false},
		{"spiffe://cluster.local/ns/orders/sa/billing", "10.0.0.3:1", true},
		{"spiffe://cluster.local/ns/orders/sa/batch", "10.0.0.3:1", false},
		{"", "10.0.0.3:1", false}, {"", "10.0.0.3:2", false}, {"", "10.0.0.3:3", true},
	} {
		g.host.Properties["connection.mtls"] = []byte{0}
		delete(g.host.Properties, "connection.uri_san_peer_certificate")
		if tc.service != "" {
			g.host.Properties["connection.mtls"] = []byte{1}
			g.host.Properties["connection.uri_san_peer_certificate"] = []byte(tc.service)
		}
		if d, _ := g.send(tc.peer, "/orders", "authorization", user); d.Denied() != tc.denied {
			t.Errorf("request %d (%q from %s): %s, want denied %v", i+1, tc.service, tc.peer, d.Reason.Code(), tc.denied)
		}
	}
}
