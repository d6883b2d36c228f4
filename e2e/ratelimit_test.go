package e2e

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// rateLimitedAPI limits each peer to 5 requests a second with a burst of 4
// before authentication, and each user (the token's sub) to 10 a minute
// with a burst of 2 after it; premium users get 30 a minute with a burst
// of 5. Both rules have the most slots a rule may have, so that the tests'
// clients, each expected to have a budget of its own, never share a slot
// (the slots are seeded at random, and a collision makes a limit stricter,
// by design).
func rateLimitedAPI() string {
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
  "rate_limit": {"headers": "draft_and_x", "rules": [
    {"name": "per-peer", "key": ["peer"], "rate": 5, "per": "second", "burst": 4, "slots": 4194304}
  ]},
  "routes": [
    {"name": "orders", "match": {"path": "/orders/**"}, "auth": {"providers": ["idp"]},
     "rate_limit": {"rules": [{"name": "per-user", "key": ["claim:/sub"], "rate": 10, "per": "minute", "burst": 2, "slots": 4194304,
       "tiers": [{"claim": "/roles", "has": "premium", "rate": 30, "burst": 5}]}]}},
    {"name": "catalogue", "match": {"path": "/catalogue/**"}, "auth": "none"}
  ]
}`, idpIssuer, jwttest.JWKS(idpKeys()["HS256"]))
}

func startRateLimitedAPI(t testing.TB, workers int) *apiGateway {
	return startGateway(t, rateLimitedAPI(), workers, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
}

// hammer sends n requests from each of the gateway's workers at once, on
// goroutines, and returns how many were admitted.
func (g *apiGateway) hammer(n int, req host.Request) int {
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for w := range g.vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				res := g.vms[w].RoundTrip(req, upstream)
				switch {
				case res.Err != nil:
					g.t.Errorf("worker %d: %v", w, res.Err)
				case res.Status == 200:
					admitted.Add(1)
				case res.Status != 429:
					g.t.Errorf("worker %d: status %d", w, res.Status)
				}
			}
		}()
	}
	wg.Wait()
	return int(admitted.Load())
}

func TestFourWorkersAdmitExactlyTheLimitOnOneKey(t *testing.T) {
	g := startRateLimitedAPI(t, 4)
	req := host.Request{Method: "GET", Path: "/catalogue/1", Source: "198.51.100.7:4000"}
	// At one instant: the burst and one more, whichever worker serves them.
	if n := g.hammer(25, req); n != 5 {
		t.Fatalf("admitted %d at one instant, want burst+1 = 5", n)
	}
	// Through the rest of the second: one per interval, 9 in all.
	for i := 0; i < 4; i++ {
		g.env.Advance(200 * time.Millisecond)
		if n := g.hammer(10, req); n != 1 {
			t.Errorf("interval %d: admitted %d, want 1", i+1, n)
		}
	}
	retries, _ := g.env.Metric("apiguard.ratelimit.per-peer.cas_retries")
	limited, _ := g.env.Metric("apiguard.ratelimit.per-peer.limited")
	t.Logf("CAS retries %d, limited %d", retries, limited)
}

func TestEachKeyGetsItsOwnBudget(t *testing.T) {
	g := startRateLimitedAPI(t, 4)
	a := host.Request{Method: "GET", Path: "/catalogue/1", Source: "198.51.100.7:4000"}
	b := host.Request{Method: "GET", Path: "/catalogue/1", Source: "198.51.100.8:4000"}
	if n := g.hammer(10, a); n != 5 {
		t.Errorf("peer a: %d admitted, want 5", n)
	}
	if n := g.hammer(10, b); n != 5 {
		t.Errorf("peer b after a's flood: %d admitted, want 5", n)
	}
}

func TestASpoofedForwardedForGetsNoFreshBucket(t *testing.T) {
	g := startRateLimitedAPI(t, 1)
	admitted := 0
	for i := 0; i < 10; i++ {
		res := g.send(host.Request{Method: "GET", Path: "/catalogue/1", Source: "198.51.100.7:4000",
			Headers: host.Headers{{"x-forwarded-for", "10.9.8." + strconv.Itoa(i)}}})
		if res.Status == 200 {
			admitted++
		}
	}
	if admitted != 5 {
		t.Errorf("%d admitted with a new x-forwarded-for each time, want 5", admitted)
	}
}

func TestLimitedClientsSeeWhenToComeBack(t *testing.T) {
	g := startRateLimitedAPI(t, 1)
	req := host.Request{Method: "GET", Path: "/catalogue/1", Source: "198.51.100.7:4000"}
	res := g.send(req)
	for name, want := range map[string]string{
		"ratelimit-policy": `"per-peer";q=5;w=1`, "ratelimit": `"per-peer";r=4;t=1`,
		"x-ratelimit-limit": "5", "x-ratelimit-remaining": "4", "x-ratelimit-reset": "1",
	} {
		if got, _ := res.Headers.Get(name); got != want {
			t.Errorf("allowed response: %s %q, want %q", name, got, want)
		}
	}
	for i := 0; i < 4; i++ {
		g.send(req)
	}
	res = g.send(req)
	expectProblem(t, res, 429, "rate_limited")
	for name, want := range map[string]string{"retry-after": "1", "ratelimit": `"per-peer";r=0;t=1`, "x-ratelimit-remaining": "0"} {
		if got, _ := res.Headers.Get(name); got != want {
			t.Errorf("429: %s %q, want %q", name, got, want)
		}
	}
}

func TestOneUsersTokensNeverSpendAnothersBudget(t *testing.T) {
	g := startRateLimitedAPI(t, 2)
	k := idpKeys()["HS256"]
	token := func(sub, roles string) string {
		return k.Token(jwttest.Claims(idpIssuer, "orders-api", jwtNow.Add(time.Hour).Unix(), "sub", strconv.Quote(sub), "roles", roles))
	}
	alice, bob, carol := token("alice", `[]`), token("bob", `[]`), token("carol", `["premium"]`)
	// Each user from their own peer, so that only the per-user rule binds.
	send := func(worker int, tok, peer string) int {
		return g.sendOn(worker, host.Request{Method: "GET", Path: "/orders/1", Source: peer, Headers: host.Headers{{"authorization", "Bearer " + tok}}}).Status
	}
	for i := 0; i < 3; i++ {
		if s := send(i%2, alice, "192.0.2.1:1"); s != 200 {
			t.Fatalf("alice's request %d: %d", i+1, s)
		}
		g.env.Advance(time.Second)
	}
	if s := send(0, alice, "192.0.2.1:1"); s != 429 {
		t.Errorf("alice's fourth request: %d, want 429", s)
	}
	for i := 0; i < 3; i++ {
		if s := send(1, bob, "192.0.2.2:1"); s != 200 {
			t.Errorf("bob's request %d after alice's were limited: %d", i+1, s)
		}
	}
	premium := 0
	for i := 0; i < 10; i++ {
		if send(i%2, carol, "192.0.2."+strconv.Itoa(10+i)+":1") == 200 {
			premium++
		}
	}
	if premium != 6 {
		t.Errorf("a premium user got %d at once, want her tier's burst+1 = 6", premium)
	}
}

// TestRateLimitingSurvivesGarbageCollection: choosing the limiter's secret
// arms no Go timer, so garbage collections never call poll_oneoff, which
// Envoy 1.33 to 1.38 answer with a fatal ENOSYS. (crypto/rand did: its
// first use arms a one-minute timer that starts the netpoller.)
func TestRateLimitingSurvivesGarbageCollection(t *testing.T) {
	g := startRateLimitedAPI(t, 1)
	for i := 0; i < 5000; i++ {
		g.send(host.Request{Method: "GET", Path: "/catalogue/1", Source: "198.51.100." + strconv.Itoa(i%250) + ":4000"})
	}
	if n := g.vms[0].PollOneoffCalls(); n != 0 {
		t.Errorf("%d poll_oneoff calls", n)
	}
}
