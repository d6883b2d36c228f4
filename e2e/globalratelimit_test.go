package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// globalLimitService is the rate limit service's configuration: each sub
// gets limit requests a day on the domain apiguard (a day, so that no test
// straddles a window).
func globalLimitService(limit int) string {
	return fmt.Sprintf("domain: apiguard\ndescriptors:\n  - key: sub\n    rate_limit:\n      unit: day\n      requests_per_unit: %d\n", limit)
}

// globalLimitedAPI limits each user of /orders through the service on
// cluster "ratelimit", with a failure mode and an optional local fallback.
// The timeout is generous: make test runs packages in parallel on two
// cores, and a slow answer is a fault only where a test makes it one.
func globalLimitedAPI(failureMode, fallback string) string {
	if fallback != "" {
		fallback = `, "fallback": ` + fallback
	}
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
  "routes": [
    {"name": "orders", "match": {"path": "/orders/**"}, "auth": {"providers": ["idp"]},
     "rate_limit": {"global": [{"name": "per-user", "cluster": "ratelimit", "domain": "apiguard", "timeout_ms": 2000,
       "failure_mode": %q, "descriptors": [{"key": "sub", "from": "claim:/sub"}]%s}]}}
  ]
}`, idpIssuer, jwttest.JWKS(idpKeys()["HS256"]), failureMode, fallback)
}

// startGlobalGateway is one Envoy pod: apiguard in workers VMs, with the
// service's gRPC port as its cluster "ratelimit", on the real clock.
func startGlobalGateway(t testing.TB, st *rlsStack, config string, workers int) *apiGateway {
	return startGateway(t, config, workers, func(c *host.Config) {
		c.Clusters = map[string]string{"ratelimit": st.cluster()}
	})
}

// bearerFor is a valid token for sub, on the real clock.
func bearerFor(sub string) string {
	return "Bearer " + idpKeys()["HS256"].Token(jwttest.Claims(idpIssuer, "orders-api", time.Now().Add(time.Hour).Unix(), "sub", `"`+sub+`"`))
}

// TestTwoGatewaysShareOneGlobalBudget: two gateways (two Envoy pods) of two
// workers each send 100 requests of one user at once; the service admits
// exactly its limit of them over both, refuses the rest 429 with the
// service's numbers, and another user still has a budget.
func TestTwoGatewaysShareOneGlobalBudget(t *testing.T) {
	const limit = 37
	st := startRLS(t, globalLimitService(limit))
	pods := []*apiGateway{
		startGlobalGateway(t, st, globalLimitedAPI("deny", ""), 2),
		startGlobalGateway(t, st, globalLimitedAPI("deny", ""), 2),
	}
	req := request("GET", "/orders/1", "authorization", bearerFor("alice"))
	var mu sync.Mutex
	statuses := map[int]int{}
	var refused *host.Result
	var wg sync.WaitGroup
	for _, pod := range pods {
		for w := range pod.vms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 25 {
					res := pod.vms[w].RoundTrip(req, upstream)
					if res.Err != nil {
						t.Errorf("worker %d: %v", w, res.Err)
						return
					}
					mu.Lock()
					statuses[res.Status]++
					if res.Status == 429 {
						refused = res
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if statuses[200] != limit || statuses[429] != 100-limit {
		t.Fatalf("statuses %v, want %d admitted and %d refused", statuses, limit, 100-limit)
	}
	p := expectProblem(t, refused, 429, "rate_limited")
	if p.Detail != "global rate limit exceeded" {
		t.Errorf("detail %q", p.Detail)
	}
	if ra, _ := refused.Headers.Get("retry-after"); ra == "" || ra == "0" {
		t.Errorf("retry-after %q", ra)
	}
	if got, want := header(refused, "ratelimit-policy"), fmt.Sprintf(`"per-user";q=%d;w=86400`, limit); got != want {
		t.Errorf("ratelimit-policy %q, want %q", got, want)
	}
	res := pods[1].send(request("GET", "/orders/1", "authorization", bearerFor("bob")))
	if res.Status != 200 || header(res, "ratelimit") == "" {
		t.Fatalf("bob: %d, ratelimit %q", res.Status, header(res, "ratelimit"))
	}
}

func header(res *host.Result, name string) string {
	v, _ := res.Headers.Get(name)
	return v
}

// TestGlobalLimitThroughItsServiceFailing: Redis stopped and restarted, the
// service killed and restarted, the service frozen past the timeout and
// thawed. While it cannot answer, failure_mode deny refuses 503 with a
// clear reason, allow lets traffic through, and a fallback limits it
// locally; after each recovery the global limit applies again. No stream
// hangs (RoundTrip fails on a stream that never resumes) and no VM traps.
func TestGlobalLimitThroughItsServiceFailing(t *testing.T) {
	const fallback = `{"name": "per-user-local", "key": ["claim:/sub"], "rate": 1, "per": "minute", "burst": 1}`
	tests := []struct {
		name, mode, fallback string
		// whileDown are the statuses of three requests of one user while
		// the service cannot answer.
		whileDown []int
	}{
		{name: "deny", mode: "deny", whileDown: []int{503, 503, 503}},
		{name: "allow", mode: "allow", whileDown: []int{200, 200, 200}},
		{name: "allow with a local fallback", mode: "allow", fallback: fallback, whileDown: []int{200, 200, 429}},
	}
	faults := []struct {
		name          string
		fail, recover func(*rlsStack)
	}{
		{name: "redis stopped", fail: (*rlsStack).stopRedis, recover: (*rlsStack).startRedis},
		{name: "service killed", fail: (*rlsStack).killService, recover: (*rlsStack).startService},
		{name: "service slower than the timeout", fail: (*rlsStack).freeze, recover: (*rlsStack).thaw},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := startRLS(t, globalLimitService(3))
			g := startGlobalGateway(t, st, globalLimitedAPI(tc.mode, tc.fallback), 2)
			users := 0
			// expect sends want's requests of a new user; a 429 is the
			// global rule's while the service answers, the fallback's
			// while it is down.
			expect := func(phase string, want []int, serviceUp bool) {
				t.Helper()
				users++
				auth := bearerFor(fmt.Sprintf("user-%d", users))
				for i, status := range want {
					res := g.sendOn(i%2, request("GET", "/orders/1", "authorization", auth))
					if res.Status != status {
						t.Fatalf("%s, request %d: status %d, want %d", phase, i+1, res.Status, status)
					}
					if detail := map[bool]string{true: "global rate limit exceeded", false: "rate limit exceeded"}[serviceUp]; status == 429 {
						if p := expectProblem(t, res, 429, "rate_limited"); p.Detail != detail {
							t.Fatalf("%s: detail %q, want %q", phase, p.Detail, detail)
						}
					}
					if status == 503 {
						if p := expectProblem(t, res, 503, "rate_limit_unavailable"); p.Detail != "the global rate limit service did not answer" {
							t.Fatalf("%s: detail %q", phase, p.Detail)
						}
					}
				}
			}
			limited := []int{200, 200, 200, 429}
			expect("healthy", limited, true)
			for _, f := range faults {
				f.fail(st)
				expect(f.name, tc.whileDown, false)
				f.recover(st)
				// The service reconnects its pool to a restarted Redis one
				// connection at a time: recovered is when ten calls in a
				// row are answered (the RateLimit header carries the
				// service's numbers).
				waitFor(t, "recovery from "+f.name, func() bool {
					for i := range 10 {
						users++
						res := g.sendOn(i%2, request("GET", "/orders/1", "authorization", bearerFor(fmt.Sprintf("user-%d", users))))
						if res.Status != 200 || !strings.HasPrefix(header(res, "ratelimit"), `"per-user";`) {
							return false
						}
					}
					return true
				})
				expect("after "+f.name, limited, true)
			}
		})
	}
}

// TestAGlobalRuleOnAClusterEnvoyLacks: Envoy refuses a call to an unknown
// cluster (BAD_ARGUMENT from the dispatch, no callback), which is the
// service not answering: deny refuses 503, allow lets the request through.
func TestAGlobalRuleOnAClusterEnvoyLacks(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		status int
	}{{"deny", 503}, {"allow", 200}} {
		t.Run(tc.mode, func(t *testing.T) {
			g := startGateway(t, globalLimitedAPI(tc.mode, ""), 1)
			res := g.send(request("GET", "/orders/1", "authorization", bearerFor("alice")))
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d", res.Status, tc.status)
			}
			if tc.status == 503 {
				expectProblem(t, res, 503, "rate_limit_unavailable")
			}
			if !logged(g.env, "cannot call cluster ratelimit") {
				t.Error("the refused call is not logged")
			}
		})
	}
}
