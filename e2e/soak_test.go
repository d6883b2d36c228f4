package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
	"github.com/apiguard/apiguard/internal/testkit/ordertest"
)

// soakStreams is how many streams TestSoak runs: a smoke run in `make test`,
// APIGUARD_SOAK_STREAMS=1000000 in `make soak`.
func soakStreams(t *testing.T) int {
	if v := os.Getenv("APIGUARD_SOAK_STREAMS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("APIGUARD_SOAK_STREAMS=%q", v)
		}
		return n
	}
	return 120000
}

// TestSoak runs many streams under Envoy 1.33's WASI, where poll_oneoff fails
// with ENOSYS and the Go runtime throws if it ever sleeps (golang/go#78513:
// Go plugins dying in Envoy hours after start). The mix of allowed and denied
// requests, signature verifications included, allocates enough to run many GC
// cycles. The plugin must not trap,
// must never call poll_oneoff, and its linear memory must stay flat after
// warm-up.
func TestSoak(t *testing.T) {
	n := soakStreams(t)
	g := startGateway(t, soakPolicy(t), 1, withProfile(host.Envoy133), func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	vm := g.vms[0]
	cached := bearer(idpKeys()["RS256"].Token(idpClaims()))
	expired := bearer(idpKeys()["ES256"].Token(jwttest.Claims(idpIssuer, "orders-api", jwtNow.Add(-time.Hour).Unix())))
	es := idpKeys()["ES256"]
	validBody, invalidBody := ordertest.Body(256), []byte(`{"customer": "buyer@example.com", "items": [{"sku": "lower-case", "qty": 0}]}`)
	body := func(method, path string, b []byte) host.Request {
		r := request(method, path, "content-type", "application/json")
		r.Body = b
		return r
	}
	// Each stream is one of these, in turn, and must get its status: bodies
	// validated and refused, cached and refused tokens, public and unknown
	// routes, and path tricks; every 100th carries a fresh token, so a full
	// signature verification (and its garbage) runs too.
	kinds := []struct {
		req    func(i int) host.Request
		status int
	}{
		{func(i int) host.Request { return body("PUT", fmt.Sprintf("/api/v1/orders/%d", i), validBody) }, 200},
		{func(i int) host.Request { return body("PUT", fmt.Sprintf("/api/v1/orders/%d", i), invalidBody) }, 400},
		{func(i int) host.Request { return request("GET", fmt.Sprintf("/orders/%d", i), cached...) }, 200},
		{func(i int) host.Request { return request("GET", fmt.Sprintf("/orders/%d", i), expired...) }, 401},
		{func(i int) host.Request { return request("GET", fmt.Sprintf("/catalogue/%d?page=2", i)) }, 200},
		{func(i int) host.Request { return request("GET", fmt.Sprintf("/healthz;v=%d", i)) }, 200},
		{func(i int) host.Request { return request("GET", fmt.Sprintf("/public/../admin/%d", i)) }, 404},
		{func(i int) host.Request { return request("GET", fmt.Sprintf("/a%%2fb/%d", i)) }, 400},
	}
	// The heap reaches its steady state within about 50,000 streams; the second
	// half of the run must then not grow it.
	warmup := max(50000, n/2)
	var memAfterWarmup uint32
	for i := 0; i < n; i++ {
		if i == warmup {
			memAfterWarmup = vm.MemorySize()
		}
		kind := kinds[i%len(kinds)]
		req, status := kind.req(i), kind.status
		if i%100 == 99 {
			req, status = request("GET", "/orders/1", bearer(es.Token(idpClaims("jti", strconv.Quote(strconv.Itoa(i)))))...), 200
		}
		res := vm.RoundTrip(req, upstream)
		if res.Err != nil {
			g.env.WriteLogs(os.Stderr)
			t.Fatalf("stream %d trapped after %d poll_oneoff calls: %v", i, vm.PollOneoffCalls(), res.Err)
		}
		if res.Status != status {
			t.Fatalf("stream %d: %s %s answered %d, want %d", i, req.Method, req.Path, res.Status, status)
		}
		if i%10000 == 0 {
			g.env.ResetLogs()
		}
	}
	mem := vm.MemorySize()
	t.Logf("%d streams: poll_oneoff calls %d, linear memory %d KiB after warm-up, %d KiB at the end",
		n, vm.PollOneoffCalls(), memAfterWarmup>>10, mem>>10)
	if calls := vm.PollOneoffCalls(); calls != 0 {
		t.Errorf("poll_oneoff called %d times: the Go runtime slept, which kills the VM in Envoy 1.33-1.38", calls)
	}
	// One MiB of slack, one step of the Go heap's growth: a leak of even two
	// bytes a stream over the second half of a 1,000,000-stream soak exceeds it.
	if n > warmup && mem > memAfterWarmup+1<<20 {
		t.Errorf("linear memory grew from %d to %d bytes after warm-up", memAfterWarmup, mem)
	}
}

// soakPolicy is ordersPolicy with validatedOrders' route added (renamed), so
// a soak also validates bodies.
func soakPolicy(t *testing.T) string {
	decode := func(s string) map[string]any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	orders, validated := decode(ordersPolicy()), decode(validatedOrders)
	route := validated["routes"].([]any)[0].(map[string]any)
	route["name"] = "order-bodies"
	orders["routes"] = append(orders["routes"].([]any), route)
	b, err := json.Marshal(orders)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
