package e2e

import (
	"cmp"
	"crypto/elliptic"
	"fmt"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// TestABodyDoesNotCarryAWaitingRequestPastAuthentication: with Envoy's
// allow_on_headers_stop_iteration (1.35+), a request paused in its headers
// while it waits for the IdP's keys still gets its body callbacks, and a
// Continue there would send it upstream unauthenticated. apiguard holds the
// body until the request is decided: it reaches the upstream whole once the
// token verifies, and never when the keys do not come. Without the option
// (Envoy's default) the body reaches apiguard once the request resumes.
// Either way a body the route validates is checked before it goes upstream.
func TestABodyDoesNotCarryAWaitingRequestPastAuthentication(t *testing.T) {
	const orderSchema = `{"body": {"schema": {"type": "object", "required": ["item", "qty"], "properties": {"qty": {"type": "integer", "maximum": 5}}}}}`
	for _, tc := range []struct {
		name     string
		idp      func(*jwksServer)
		validate string
		body     string
		status   int
		reason   string
	}{
		{name: "keys arrive", idp: func(*jwksServer) {}, status: 200},
		{name: "IdP fails", idp: func(s *jwksServer) { s.serve(500, []byte("down")) }, status: 401, reason: "keys_unavailable"},
		// The body arrived whole while the request waited: it is validated
		// before the resumed request may carry it upstream.
		{name: "keys arrive, the body is valid", idp: func(*jwksServer) {}, validate: orderSchema, status: 200},
		{name: "keys arrive, the body breaks its schema", idp: func(*jwksServer) {}, validate: orderSchema,
			body: `{"item": "book", "qty": 9}`, status: 400, reason: "request_invalid"},
	} {
		for _, allow := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, allow_on_headers_stop_iteration %v", tc.name, allow), func(t *testing.T) {
				k := jwttest.EC("k1", elliptic.P256())
				srv := newJWKSServer(t, k)
				srv.hold()
				clock := host.NewFakeClock(jwtNow)
				g := &idpGateway{clock: clock, apiGateway: startGateway(t, remote{waitMS: 5000, timeoutMS: 4000, validate: tc.validate}.policy(), 1,
					func(c *host.Config) {
						c.Clock = clock
						c.Clusters = map[string]string{"idp_jwks": srv.URL}
						c.AllowOnHeadersStopIteration = allow
					})}
				t.Cleanup(g.settle)
				g.env.Advance(200 * time.Millisecond) // the first tick starts the fetch; the IdP hangs
				for srv.hits.Load() == 0 {
					time.Sleep(time.Millisecond)
				}
				req := request("POST", "/orders/1", append(tokenFor(k), "content-type", "application/json")...)
				req.Body, req.ChunkSize = []byte(cmp.Or(tc.body, `{"item": "book", "qty": 2}`)), 8
				done := make(chan []*host.Result, 1)
				go func() { res, _ := g.live(t, onWorker{0, req}); done <- res }()
				var res *host.Result
				for res == nil && g.vms[0].PausedStreams() == 0 {
					select {
					case r := <-done:
						res = r[0] // answered before the IdP did: it did not wait
					case <-time.After(time.Millisecond):
					}
				}
				tc.idp(srv)
				srv.release()
				if res == nil {
					res = (<-done)[0]
				}
				if tc.status != 200 {
					expectProblem(t, res, tc.status, tc.reason)
					if res.Upstream != nil {
						t.Error("the request reached the upstream without a verified token")
					}
					return
				}
				if res.Status != 200 || res.Upstream == nil || string(res.Upstream.Body) != string(req.Body) {
					t.Fatalf("got %d, upstream %+v; want 200 with the whole body upstream", res.Status, res.Upstream)
				}
			})
		}
	}
}
