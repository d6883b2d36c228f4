package e2e

import (
	"cmp"
	"crypto/elliptic"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// jwksServer is an IdP's JWKS endpoint on loopback whose answer a test
// changes: a key set, a status, or garbage; or it holds every request until
// released.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	status int
	body   []byte
	gate   chan struct{} // non-nil: requests wait until it is closed
	hits   atomic.Int32
}

func newJWKSServer(t *testing.T, keys ...*jwttest.Key) *jwksServer {
	s := &jwksServer{status: 200, body: jwttest.JWKS(keys...)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		gate := s.gate
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
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
	t.Cleanup(s.release) // runs first: Close waits for held requests
	return s
}

func (s *jwksServer) serve(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

// hold makes requests wait until release: an IdP that hangs.
func (s *jwksServer) hold() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *jwksServer) release() {
	s.mu.Lock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
	s.mu.Unlock()
}

// remote is a remote provider's settings in a test policy.
type remote struct {
	waitMS, timeoutMS, refreshS, maxStaleS int
	// validate, when set, is the orders route's validation.
	validate string
}

func (r remote) policy() string {
	r.timeoutMS, r.refreshS, r.maxStaleS = cmp.Or(r.timeoutMS, 1000), cmp.Or(r.refreshS, 60), cmp.Or(r.maxStaleS, 86400)
	validate := ""
	if r.validate != "" {
		validate = `, "validate": ` + r.validate
	}
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"],
    "jwks": {"remote": {"cluster": "idp_jwks", "authority": "idp.example.com", "path": "/.well-known/jwks.json",
      "refresh_s": %d, "wait_ms": %d, "timeout_ms": %d, "max_stale_s": %d}},
    "claim_to_headers": {"sub": "x-auth-sub"}}},
  "routes": [{"name": "orders", "match": {"path": "/orders/**"}, "auth": {"providers": ["idp"]}%s}]
}`, idpIssuer, r.refreshS, r.waitMS, r.timeoutMS, r.maxStaleS, validate)
}

// idpGateway is apiguard with a remote provider, on a fake clock.
type idpGateway struct {
	*apiGateway
	clock *host.FakeClock
}

func startRemote(t *testing.T, srv *jwksServer, workers int, r remote) *idpGateway {
	clock := host.NewFakeClock(jwtNow)
	g := &idpGateway{clock: clock, apiGateway: startGateway(t, r.policy(), workers, func(c *host.Config) {
		c.Clock = clock
		c.Clusters = map[string]string{"idp_jwks": srv.URL}
	})}
	t.Cleanup(g.settle)
	return g
}

// settle lets every dispatched JWKS fetch complete.
func (g *idpGateway) settle() {
	for _, vm := range g.vms {
		vm.WaitHTTPCalls()
	}
}

// pass lets d of fake time pass in steps of at most 100 ms, letting every
// fetch started in a step complete before the next: the host puts http-call
// deadlines on its clock, so one jump past a fetch's deadline would time it
// out before the loopback IdP could answer.
func (g *idpGateway) pass(d time.Duration) {
	for ; d > 0; d -= 100 * time.Millisecond {
		g.env.Advance(min(d, 100*time.Millisecond))
		g.settle()
	}
}

// firstTick runs the workers' first tick, which starts the first fetch, lets
// it complete, and runs the tick on which the other workers adopt its keys.
func (g *idpGateway) firstTick() {
	g.pass(200 * time.Millisecond)
	g.env.Advance(200 * time.Millisecond)
}

// onWorker is a request for one worker.
type onWorker struct {
	worker int
	req    host.Request
}

// live runs requests concurrently while the fake clock moves on at about the
// pace of the real one (ticks fire, fetches time out), until all are
// answered. It returns each result and how much fake time it took.
func (g *idpGateway) live(t *testing.T, reqs ...onWorker) ([]*host.Result, []time.Duration) {
	t.Helper()
	type answer struct {
		i   int
		res *host.Result
		at  time.Time
	}
	start := g.clock.Now()
	done := make(chan answer, len(reqs))
	for i, r := range reqs {
		go func() {
			res := g.vms[r.worker].RoundTrip(r.req, upstream)
			done <- answer{i, res, g.clock.Now()}
		}()
	}
	results, took := make([]*host.Result, len(reqs)), make([]time.Duration, len(reqs))
	for left := len(reqs); left > 0; {
		select {
		case a := <-done:
			if a.res.Err != nil {
				g.env.WriteLogs(os.Stderr)
				t.Fatalf("request %d: plugin failed: %v", a.i, a.res.Err)
			}
			results[a.i], took[a.i] = a.res, a.at.Sub(start)
			left--
		case <-time.After(time.Millisecond):
			if g.clock.Now().Sub(start) > 30*time.Second {
				t.Fatal("requests still unanswered after 30 s")
			}
			g.env.Advance(time.Millisecond)
		}
	}
	return results, took
}

// ask sends one request on worker 0 with the clock running.
func (g *idpGateway) ask(t *testing.T, req host.Request) *host.Result {
	t.Helper()
	res, _ := g.live(t, onWorker{0, req})
	return res[0]
}

func tokenFor(k *jwttest.Key) []string { return bearer(k.Token(idpClaims())) }

func TestKeyRotationThroughARemoteJWKS(t *testing.T) {
	k1, k2 := jwttest.EC("2026-01", elliptic.P256()), jwttest.EC("2026-07", elliptic.P256())
	srv := newJWKSServer(t, k1)
	g := startRemote(t, srv, 1, remote{waitMS: 5000})
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
	if res := g.ask(t, request("GET", "/orders/2", tokenFor(k2)...)); res.Status != 200 {
		t.Fatalf("token of the rotated-in key: %d %s", res.Status, res.Body)
	}
	if res := g.send(request("GET", "/orders/3", tokenFor(k1)...)); res.Status != 200 {
		t.Fatalf("the old kid keeps working until removed: %d", res.Status)
	}

	// The old key is removed; the scheduled refresh picks that up.
	srv.serve(200, jwttest.JWKS(k2))
	g.pass(61 * time.Second)
	expectProblem(t, g.ask(t, request("GET", "/orders/4", tokenFor(k1)...)), 401, "token_unknown_key")
	if res := g.send(request("GET", "/orders/5", tokenFor(k2)...)); res.Status != 200 {
		t.Fatalf("new key after the refresh: %d", res.Status)
	}

	// Forged kids cannot make the gateway hammer the IdP: one early refresh per cooldown.
	before := srv.hits.Load()
	for i := 0; i < 5; i++ {
		forged := jwttest.EC(fmt.Sprintf("forged-%d", i), elliptic.P256())
		expectProblem(t, g.ask(t, request("GET", "/orders/6", tokenFor(forged)...)), 401, "token_unknown_key")
	}
	g.settle()
	if fetches := srv.hits.Load() - before; fetches > 1 {
		t.Errorf("%d JWKS fetches for 5 unknown kids within the cooldown, want at most 1", fetches)
	}
}

// TestCheapChecksComeBeforeAnyFetch: a token that fails the checks needing no
// key is refused at once, and never makes the gateway fetch keys or wait.
func TestCheapChecksComeBeforeAnyFetch(t *testing.T) {
	k := jwttest.EC("unknown-kid", elliptic.P256())
	srv := newJWKSServer(t, jwttest.EC("k1", elliptic.P256()))
	g := startRemote(t, srv, 1, remote{waitMS: 5000}) // no tick yet: no keys, no fetch
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

func TestTwoWorkersFetchTheJWKSOnce(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	srv := newJWKSServer(t, k)
	g := startRemote(t, srv, 2, remote{waitMS: 5000})
	g.firstTick() // both workers tick: one fetches, the other adopts what it published
	for w := range g.vms {
		if res := g.sendOn(w, request("GET", "/orders/1", tokenFor(k)...)); res.Status != 200 {
			t.Fatalf("worker %d: %d %s", w, res.Status, res.Body)
		}
	}
	if hits := srv.hits.Load(); hits != 1 {
		t.Errorf("%d JWKS fetches for two workers, want 1", hits)
	}
	// The scheduled refresh is fetched once too.
	g.pass(61*time.Second + 200*time.Millisecond)
	if hits := srv.hits.Load(); hits != 2 {
		t.Errorf("%d JWKS fetches after one refresh interval, want 2", hits)
	}
}
