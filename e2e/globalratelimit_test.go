package e2e

import (
	"fmt"
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
func globalLimitedAPI(failureMode, fallback string) string {
	if fallback != "" {
		fallback = `, "fallback": ` + fallback
	}
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
  "routes": [
    {"name": "orders", "match": {"path": "/orders/**"}, "auth": {"providers": ["idp"]},
     "rate_limit": {"global": [{"name": "per-user", "cluster": "ratelimit", "domain": "apiguard", "timeout_ms": 300,
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
