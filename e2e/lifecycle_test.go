package e2e

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// TestAConfigurationPushDuringTraffic: the operator adds a route while two
// workers serve a steady stream of requests. Every request is answered by
// either the old or the new policy, never failed; once the push is in, the
// new route is served and the old configuration's root contexts are gone.
func TestAConfigurationPushDuringTraffic(t *testing.T) {
	g := startGateway(t, ordersPolicy(), 2, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	tok := idpKeys()["ES256"].Token(idpClaims())
	pushed := strings.Replace(ordersPolicy(), `{"name": "health", "match": {"path": "/healthz"}, "auth": "none"}`,
		`{"name": "health", "match": {"path": "/healthz"}, "auth": "none"},
    {"name": "status", "match": {"path": "/status"}, "auth": "none"}`, 1)
	if pushed == ordersPolicy() {
		t.Fatal("the policy no longer has the health route this story extends")
	}

	var stop atomic.Bool
	var served, denied atomic.Int64
	var wg sync.WaitGroup
	// progress gets one value per answered pair, so the story waits on
	// traffic, not on time.
	progress := make(chan struct{}, 64)
	workersDone := make(chan struct{})
	awaitPairs := func(n int) {
		for range n {
			select {
			case <-progress:
			case <-workersDone: // a worker failed
				return
			}
		}
	}
	for w := range g.vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ok := g.vms[w].RoundTrip(request("GET", "/orders/7", bearer(tok)...), upstream)
				no := g.vms[w].RoundTrip(request("GET", "/orders/7"), upstream)
				if ok.Err != nil || ok.Status != 200 || no.Err != nil || no.Status != 401 {
					t.Errorf("worker %d during the push: %d %v and %d %v, want 200 and 401", w, ok.Status, ok.Err, no.Status, no.Err)
					stop.Store(true)
					return
				}
				served.Add(1)
				denied.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(workersDone)
	}()
	awaitPairs(20)
	if err := g.env.UpdateConfiguration([]byte(pushed)); err != nil {
		t.Fatalf("push refused: %v", err)
	}
	for len(progress) > 0 {
		<-progress
	}
	awaitPairs(20)
	stop.Store(true)
	<-workersDone

	for w := range g.vms {
		if res := g.sendOn(w, request("GET", "/status")); res.Status != 200 {
			t.Errorf("worker %d: the pushed route answers %d", w, res.Status)
		}
		if n := g.vms[w].RootContexts(); n != 1 {
			t.Errorf("worker %d keeps %d root contexts after its streams drained, want 1", w, n)
		}
	}
	t.Logf("%d allowed and %d denied requests across the push", served.Load(), denied.Load())
}
