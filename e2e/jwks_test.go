package e2e

import (
	"crypto/elliptic"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/filters/jwt/jwttest"
)

// jwksServer is an IdP's JWKS endpoint on loopback whose answer a test
// changes: a key set, a status, or garbage.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   []byte
	hits   atomic.Int32
}

func newJWKSServer(t *testing.T, keys ...*jwttest.Key) *jwksServer {
	s := &jwksServer{status: 200, body: jwttest.JWKS(keys...)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path != "/.well-known/jwks.json" || r.Host != "idp.example.com" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(s.status)
		_, _ = w.Write(s.body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

func remotePolicy(waitMS int) string {
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"],
    "jwks": {"remote": {"cluster": "idp_jwks", "authority": "idp.example.com", "path": "/.well-known/jwks.json", "refresh_s": 60, "wait_ms": %d}},
    "claim_to_headers": {"sub": "x-auth-sub"}}},
  "routes": [{"name": "orders", "match": {"path": "/orders/**"}, "auth": {"providers": ["idp"]}}]
}`, idpIssuer, waitMS)
}

func startRemote(t *testing.T, srv *jwksServer, workers, waitMS int) *apiGateway {
	g := startGateway(t, remotePolicy(waitMS), workers, func(c *host.Config) {
		c.Clock = host.NewFakeClock(jwtNow)
		c.Clusters = map[string]string{"idp_jwks": srv.URL}
	})
	t.Cleanup(func() {
		for _, vm := range g.vms {
			vm.WaitHTTPCalls()
		}
	})
	return g
}

// settle lets every dispatched JWKS fetch complete.
func (g *apiGateway) settle() {
	for _, vm := range g.vms {
		vm.WaitHTTPCalls()
	}
}

// waitPaused returns once a request on worker 0 waits for keys.
func (g *apiGateway) waitPaused(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.vms[0].PausedStreams() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the request never paused")
		}
		time.Sleep(time.Millisecond)
	}
}

// firstTick runs the workers' first tick, which starts the first fetch, and
// lets it complete.
func (g *apiGateway) firstTick() {
	g.env.Advance(200 * time.Millisecond)
	g.settle()
}

func tokenFor(k *jwttest.Key) []string { return bearer(k.Token(idpClaims())) }

func TestKeyRotationThroughARemoteJWKS(t *testing.T) {
	k1, k2 := jwttest.EC("2026-01", elliptic.P256()), jwttest.EC("2026-07", elliptic.P256())
	srv := newJWKSServer(t, k1)
	g := startRemote(t, srv, 1, 5000)
	if srv.hits.Load() != 0 {
		t.Fatal("fetched during plugin start: Envoy's canary VM would fetch too")
	}
	g.firstTick()
	if res := g.send(request("GET", "/orders/1", tokenFor(k1)...)); res.Status != 200 {
		t.Fatalf("token of the published key: %d %s", res.Status, res.Body)
	}

	// The IdP publishes a new key and starts signing with it: the unknown kid
	// triggers one early refresh, and the request waits for it.
	srv.serve(200, jwttest.JWKS(k1, k2))
	if res := g.send(request("GET", "/orders/2", tokenFor(k2)...)); res.Status != 200 {
		t.Fatalf("token of the rotated-in key: %d %s", res.Status, res.Body)
	}
	if res := g.send(request("GET", "/orders/3", tokenFor(k1)...)); res.Status != 200 {
		t.Fatalf("the old kid keeps working until removed: %d", res.Status)
	}

	// The old key is removed; the scheduled refresh picks that up.
	srv.serve(200, jwttest.JWKS(k2))
	g.env.Advance(61 * time.Second)
	g.settle()
	expectProblem(t, g.send(request("GET", "/orders/4", tokenFor(k1)...)), 401, "token_unknown_key")
	if res := g.send(request("GET", "/orders/5", tokenFor(k2)...)); res.Status != 200 {
		t.Fatalf("new key after the refresh: %d", res.Status)
	}

	// Forged kids cannot make the gateway hammer the IdP: one early refresh per cooldown.
	before := srv.hits.Load()
	for i := 0; i < 5; i++ {
		forged := jwttest.EC(fmt.Sprintf("forged-%d", i), elliptic.P256())
		expectProblem(t, g.send(request("GET", "/orders/6", tokenFor(forged)...)), 401, "token_unknown_key")
	}
	g.settle()
	if fetches := srv.hits.Load() - before; fetches > 1 {
		t.Errorf("%d JWKS fetches for 5 unknown kids within the cooldown, want at most 1", fetches)
	}
}

func TestJWKSDownAtStartThenUp(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	srv := newJWKSServer(t, k)
	srv.serve(503, []byte("upstream unavailable"))
	g := startRemote(t, srv, 1, 5000)
	g.firstTick()

	// A request before any keys exist waits for them...
	done := make(chan *host.Result, 1)
	order := request("POST", "/orders/1", tokenFor(k)...)
	order.Body = []byte(`{"item":"book","quantity":1}`)
	go func() { done <- g.vms[0].RoundTrip(order, upstream) }()
	g.waitPaused(t)
	select {
	case res := <-done:
		t.Fatalf("answered before any keys existed: %d %s", res.Status, res.Body)
	default:
	}
	// ...the IdP comes back, the retry (after a 1 s backoff) succeeds, and it passes.
	srv.serve(200, jwttest.JWKS(k))
	g.env.Advance(1200 * time.Millisecond)
	select {
	case res := <-done:
		if res.Status != 200 {
			t.Fatalf("after the JWKS came up: %d %s", res.Status, res.Body)
		}
		if string(res.Upstream.Body) != string(order.Body) {
			t.Errorf("the upstream received body %q, want the order", res.Upstream.Body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting request was never resumed")
	}
	if n, _ := g.env.Metric("apiguard.jwks.idp.failed"); n < 1 {
		t.Errorf("apiguard.jwks.idp.failed = %d", n)
	}
}

func TestJWKSFailuresFailClosed(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	tests := []struct {
		name   string
		status int
		body   []byte
	}{
		{name: "5xx", status: 500, body: []byte("oops")},
		{name: "garbage", status: 200, body: []byte("<html>login</html>")},
		{name: "empty key set", status: 200, body: []byte(`{"keys":[]}`)},
		{name: "weak key", status: 200, body: jwttest.JWKS(jwttest.RSA("weak", "RS256", 1024))},
		{name: "huge body", status: 200, body: []byte(`{"keys":[],"pad":"` + string(make([]byte, 300<<10)) + `"}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, k)
			srv.serve(tc.status, tc.body)
			g := startRemote(t, srv, 1, 1000)
			g.firstTick()
			done := make(chan *host.Result, 1)
			go func() { done <- g.vms[0].RoundTrip(request("GET", "/orders/1", tokenFor(k)...), upstream) }()
			g.waitPaused(t)
			g.env.Advance(1100 * time.Millisecond) // past wait_ms: the stream is answered
			res := <-done
			expectProblem(t, res, 401, "keys_unavailable")
		})
	}
}

func TestUnreachableJWKSFailsClosed(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	srv := newJWKSServer(t, k)
	srv.Close() // nothing listens on the cluster's address any more
	g := startRemote(t, srv, 1, 1000)
	g.firstTick()
	done := make(chan *host.Result, 1)
	go func() { done <- g.vms[0].RoundTrip(request("GET", "/orders/1", tokenFor(k)...), upstream) }()
	g.waitPaused(t)
	g.env.Advance(1100 * time.Millisecond)
	expectProblem(t, <-done, 401, "keys_unavailable")
}

// TestCheapChecksComeBeforeAnyFetch: a token that fails the checks needing no
// key is refused at once, and never makes the gateway fetch keys or wait.
func TestCheapChecksComeBeforeAnyFetch(t *testing.T) {
	k := jwttest.EC("unknown-kid", elliptic.P256())
	srv := newJWKSServer(t, jwttest.EC("k1", elliptic.P256()))
	g := startRemote(t, srv, 1, 5000) // no tick yet: no keys, no fetch
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"expired", k.Token(jwttest.Claims(idpIssuer, "orders-api", jwtNow.Add(-time.Hour).Unix())), "token_expired"},
		{"another audience", k.Token(jwttest.Claims(idpIssuer, "other", jwtNow.Add(time.Hour).Unix())), "token_audience"},
		{"alg none", k.Sign("ES256", `{"alg":"none"}`, idpClaims()), "token_algorithm"},
		{"malformed", strings.Replace(k.Token(idpClaims()), ".", "=.", 1), "token_malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectProblem(t, g.send(request("GET", "/orders/1", bearer(tc.token)...)), 401, tc.reason)
		})
	}
	g.settle()
	if hits := srv.hits.Load(); hits != 0 {
		t.Errorf("%d JWKS fetches caused by tokens that failed cheap checks", hits)
	}
}

func TestTheLastGoodKeysSurviveAFailedRefresh(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	srv := newJWKSServer(t, k)
	g := startRemote(t, srv, 1, 1000)
	g.firstTick()
	srv.serve(502, nil)
	g.env.Advance(61 * time.Second)
	g.settle()
	if res := g.send(request("GET", "/orders/1", tokenFor(k)...)); res.Status != 200 {
		t.Fatalf("after a failed refresh: %d %s", res.Status, res.Body)
	}
}

func TestTwoWorkersFetchTheJWKSOnce(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	srv := newJWKSServer(t, k)
	g := startRemote(t, srv, 2, 5000)
	g.firstTick()                         // both workers tick: one takes the lease and fetches
	g.env.Advance(200 * time.Millisecond) // the next tick: the other adopts the published set
	g.settle()
	for w := range g.vms {
		if res := g.sendOn(w, request("GET", "/orders/1", tokenFor(k)...)); res.Status != 200 {
			t.Fatalf("worker %d: %d %s", w, res.Status, res.Body)
		}
	}
	if hits := srv.hits.Load(); hits != 1 {
		t.Errorf("%d JWKS fetches for two workers, want 1", hits)
	}
	// The scheduled refresh is fetched once too.
	g.env.Advance(61 * time.Second)
	g.settle()
	g.env.Advance(200 * time.Millisecond)
	g.settle()
	if hits := srv.hits.Load(); hits != 2 {
		t.Errorf("%d JWKS fetches after one refresh interval, want 2", hits)
	}
}
