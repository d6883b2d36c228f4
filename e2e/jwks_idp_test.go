package e2e

import (
	"cmp"
	"crypto/elliptic"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// TestARequestWaitsOnlyForAFetchThatCanHelp: while the IdP is down at start,
// a request waiting for keys is answered as soon as the fetch it waits for
// has failed, not after its whole wait_ms; while the retry is a backoff away
// there is nothing to wait for. Each way the IdP can fail, in time to answer,
// status and fetches.
func TestARequestWaitsOnlyForAFetchThatCanHelp(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	const waitMS, timeoutMS = 5000, 1000
	tests := []struct {
		name    string
		idp     func(*jwksServer)
		fetches int32
		// outcome is the metric the fetch counts in: an empty set is a
		// good answer that withdraws every key.
		outcome string
	}{
		{name: "5xx", idp: func(s *jwksServer) { s.serve(500, []byte("oops")) }, fetches: 1},
		{name: "garbage", idp: func(s *jwksServer) { s.serve(200, []byte("<html>login</html>")) }, fetches: 1},
		{name: "empty key set", idp: func(s *jwksServer) { s.serve(200, []byte(`{"keys":[]}`)) }, fetches: 1, outcome: "fetched"},
		{name: "only unusable keys", idp: func(s *jwksServer) { s.serve(200, jwttest.JWKS(jwttest.RSA("weak", "RS256", 1024))) }, fetches: 1},
		{name: "10 MB body", idp: func(s *jwksServer) {
			s.serve(200, []byte(`{"keys":[],"pad":"`+strings.Repeat("x", 10<<20)+`"}`))
		}, fetches: 1},
		{name: "hang past timeout_ms", idp: func(s *jwksServer) { s.hold() }, fetches: 1},
		{name: "unreachable", idp: func(s *jwksServer) { s.Close() }, fetches: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, k)
			tc.idp(srv)
			g := startRemote(t, srv, 1, remote{waitMS: waitMS, timeoutMS: timeoutMS})
			// Before the first tick: the first fetch is due, so the request
			// starts it and waits for it.
			res, took := g.live(t, onWorker{0, request("GET", "/orders/1", tokenFor(k)...)})
			expectProblem(t, res[0], 401, "keys_unavailable")
			if took[0] >= waitMS*time.Millisecond/2 {
				t.Errorf("answered after %v; the fetch it waited for failed within timeout_ms (%d ms)", took[0], timeoutMS)
			}
			g.settle()
			if n := srv.hits.Load(); n != tc.fetches {
				t.Errorf("%d fetches reached the IdP, want %d", n, tc.fetches)
			}
			metric := "apiguard.jwks.idp." + cmp.Or(tc.outcome, "failed")
			if n, _ := g.env.Metric(metric); n != 1 {
				t.Errorf("%s = %d, want 1", metric, n)
			}
			// The retry is a backoff away: the next request is answered at
			// once, without a fetch.
			before := g.clock.Now()
			expectProblem(t, g.send(request("GET", "/orders/2", tokenFor(k)...)), 401, "keys_unavailable")
			if g.clock.Now() != before || srv.hits.Load() != tc.fetches {
				t.Error("a request during the backoff waited or fetched")
			}
			t.Logf("answered after %v of fake time", took[0])
		})
	}
}

// TestARequestWaitsForAFetchInFlight: the IdP is slow at start; a request
// that arrives while the first fetch is in flight waits for it and passes.
func TestARequestWaitsForAFetchInFlight(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	srv := newJWKSServer(t, k)
	srv.hold()
	g := startRemote(t, srv, 1, remote{waitMS: 5000, timeoutMS: 4000})
	g.env.Advance(200 * time.Millisecond) // the first tick starts the fetch
	for srv.hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan []*host.Result, 1)
	go func() { res, _ := g.live(t, onWorker{0, request("POST", "/orders/1", tokenFor(k)...)}); done <- res }()
	for g.vms[0].PausedStreams() == 0 {
		time.Sleep(time.Millisecond)
	}
	srv.release()
	if res := <-done; res[0].Status != 200 {
		t.Fatalf("after the slow fetch: %d %s", res[0].Status, res[0].Body)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
}

// TestOneFetchPerEventWithFourWorkers: the IdP sees one fetch for an early
// refresh, and one per backoff step while it fails, whatever the number of
// workers.
func TestOneFetchPerEventWithFourWorkers(t *testing.T) {
	k1, k2 := jwttest.EC("k1", elliptic.P256()), jwttest.EC("k2", elliptic.P256())
	t.Run("early refresh", func(t *testing.T) {
		srv := newJWKSServer(t, k1)
		g := startRemote(t, srv, 4, remote{waitMS: 5000})
		g.firstTick()
		if n := srv.hits.Load(); n != 1 {
			t.Fatalf("%d fetches at start, want 1", n)
		}
		// The IdP rotates in k2; eight requests signed with it, two per
		// worker, all find k2 unknown at the same time.
		srv.serve(200, jwttest.JWKS(k1, k2))
		var reqs []onWorker
		for i := 0; i < 8; i++ {
			reqs = append(reqs, onWorker{i % 4, request("GET", "/orders/1", tokenFor(k2)...)})
		}
		results, _ := g.live(t, reqs...)
		for i, res := range results {
			if res.Status != 200 {
				t.Errorf("request %d on worker %d: %d %s", i, reqs[i].worker, res.Status, res.Body)
			}
		}
		if n := srv.hits.Load(); n != 2 {
			t.Errorf("%d fetches after 8 unknown kids on 4 workers, want 2 (start and one early refresh)", n)
		}
	})
	t.Run("a failed fetch answers the waiting requests of every worker", func(t *testing.T) {
		srv := newJWKSServer(t, k1)
		srv.hold()
		g := startRemote(t, srv, 4, remote{waitMS: 5000, timeoutMS: 4000})
		g.env.Advance(200 * time.Millisecond) // one worker starts the first fetch; the IdP hangs
		for srv.hits.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		done := make(chan []time.Duration, 1)
		go func() {
			var reqs []onWorker
			for w := 0; w < 4; w++ {
				reqs = append(reqs, onWorker{w, request("GET", "/orders/1", tokenFor(k1)...)})
			}
			results, took := g.live(t, reqs...)
			for _, res := range results {
				expectProblem(t, res, 401, "keys_unavailable")
			}
			done <- took
		}()
		for paused := 0; paused < 4; {
			paused = 0
			for _, vm := range g.vms {
				paused += vm.PausedStreams()
			}
			time.Sleep(time.Millisecond)
		}
		srv.serve(500, nil)
		srv.release()
		took := <-done
		// The fetching worker answers its request with the failure; the
		// others learn it on their next tick, every 20 ms while requests
		// wait (not the idle 200 ms).
		fetcher := slices.Min(took)
		for w, d := range took {
			if d-fetcher >= 100*time.Millisecond {
				t.Errorf("worker %d answered %v after the fetching worker", w, d-fetcher)
			}
		}
		if n := srv.hits.Load(); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}
	})
	t.Run("backoff retries", func(t *testing.T) {
		// The same 20 s of a failing IdP, seen by one worker and by four.
		fetches := func(workers int) int32 {
			srv := newJWKSServer(t, k1)
			srv.serve(500, nil)
			g := startRemote(t, srv, workers, remote{waitMS: 5000})
			g.pass(20 * time.Second)
			return srv.hits.Load()
		}
		one, four := fetches(1), fetches(4)
		t.Logf("fetches in 20 s of failures: %d with one worker, %d with four", one, four)
		if one < 4 || four != one {
			t.Errorf("fetches in 20 s of failures: %d with one worker, %d with four; want the same, at least 4 (1 s, 2 s, 4 s, 8 s backoff)", one, four)
		}
	})
}

// TestAWaitingClientThatGoesAwayDoesNotStopRefreshes: a client gives up
// while its request waits for the first fetch. The fetch was dispatched from
// the root context, so its answer still arrives: the worker installs the keys
// and keeps refreshing.
func TestAWaitingClientThatGoesAwayDoesNotStopRefreshes(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	srv := newJWKSServer(t, k)
	srv.hold()
	g := startRemote(t, srv, 1, remote{waitMS: 5000, timeoutMS: 4000})
	vm := g.vms[0]
	s, err := vm.NewStream(host.StreamInfo{})
	if err != nil {
		t.Fatal(err)
	}
	h := host.Headers{{":method", "GET"}, {":path", "/orders/1"}, {":authority", "api.example.com"}, {":scheme", "https"}}
	auth := tokenFor(k)
	h.Add(auth[0], auth[1])
	if act, err := s.RequestHeaders(h, true); act != host.Pause || err != nil {
		t.Fatalf("request headers: %v %v, want the request to wait for keys", act, err)
	}
	g.env.Advance(time.Millisecond) // the tick the request asked for starts the fetch
	for srv.hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	srv.release()
	g.settle()
	if res := g.send(request("GET", "/orders/2", tokenFor(k)...)); res.Status != 200 {
		t.Fatalf("after the reset stream's fetch: %d %s", res.Status, res.Body)
	}
	g.pass(61 * time.Second)
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches after one refresh interval, want 2: the worker stopped refreshing", n)
	}
}

// keycloakJWKS is what Keycloak publishes at
// /realms/{realm}/protocol/openid-connect/certs by default: an RS256 signing
// key and an RSA-OAEP encryption key, each with its certificate (x5c) and
// thumbprints (x5t, x5t#S256). The certificate here is a placeholder; apiguard
// never reads x5c or x5t.
func keycloakJWKS(sig, enc *jwttest.Key) []byte {
	s, e := sig.JWK(), enc.JWK()
	e["use"], e["alg"] = "enc", "RSA-OAEP"
	for _, m := range []map[string]any{e, s} {
		m["x5c"] = []string{"MIICmzCCAYMCBgGOx" + strings.Repeat("Q", 32)}
		m["x5t"], m["x5t#S256"] = "kqm3X8oJ6n0Wm2t1yq3T4bq2Fhc", "5yqjK5Xz2y8f0n9Yb1m3v7T6c4w2Q0s8a6e4g2i0k9M"
	}
	b, err := json.Marshal(map[string]any{"keys": []any{e, s}})
	if err != nil {
		panic(err)
	}
	return b
}

// TestAKeycloakRealm: a default Keycloak realm's JWKS loads on the first
// fetch (its encryption key skipped with a log line naming it), and after a
// key rotation the removed signing key stops verifying.
func TestAKeycloakRealm(t *testing.T) {
	sig1, sig2 := jwttest.RSA("sig-2026-01", "RS256", 2048), jwttest.RSA("sig-2026-07", "RS256", 2048)
	enc := jwttest.RSA("enc-2026-01", "RS256", 2048)
	srv := newJWKSServer(t)
	srv.serve(200, keycloakJWKS(sig1, enc))
	g := startRemote(t, srv, 1, remote{waitMS: 5000})
	g.firstTick()
	if res := g.send(request("GET", "/orders/1", tokenFor(sig1)...)); res.Status != 200 {
		t.Fatalf("token of the realm's signing key: %d %s", res.Status, res.Body)
	}
	if !logged(g.env, `JWKS entry skipped: keys[0].use: "enc": only signature keys are accepted (kid "enc-2026-01")`) {
		t.Error("no log line names the skipped encryption key")
	}
	expectProblem(t, g.ask(t, request("GET", "/orders/2", tokenFor(enc)...)), 401, "token_unknown_key")

	// The realm rotates: a new signing key, and the old one is removed.
	srv.serve(200, keycloakJWKS(sig2, enc))
	g.pass(61 * time.Second)
	if res := g.send(request("GET", "/orders/3", tokenFor(sig2)...)); res.Status != 200 {
		t.Fatalf("token of the new signing key: %d %s", res.Status, res.Body)
	}
	expectProblem(t, g.ask(t, request("GET", "/orders/4", tokenFor(sig1)...)), 401, "token_unknown_key")
}

// TestAnEmptyJWKSRevokesEveryKey: an IdP that publishes an empty set has
// withdrawn its keys; tokens signed with them stop working at the next fetch.
func TestAnEmptyJWKSRevokesEveryKey(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	srv := newJWKSServer(t, k)
	g := startRemote(t, srv, 1, remote{waitMS: 5000})
	g.firstTick()
	if res := g.send(request("GET", "/orders/1", tokenFor(k)...)); res.Status != 200 {
		t.Fatalf("before: %d %s", res.Status, res.Body)
	}
	srv.serve(200, []byte(`{"keys":[]}`))
	g.pass(61 * time.Second)
	expectProblem(t, g.ask(t, request("GET", "/orders/2", tokenFor(k)...)), 401, "keys_unavailable")
}

// TestTheLastGoodKeysSurviveFailedRefreshesForMaxStale: while every refresh
// fails the last good keys are used for max_stale_s, then the provider fails
// closed until a fetch succeeds again.
func TestTheLastGoodKeysSurviveFailedRefreshesForMaxStale(t *testing.T) {
	k := jwttest.EC("k1", elliptic.P256())
	srv := newJWKSServer(t, k)
	g := startRemote(t, srv, 1, remote{waitMS: 5000, refreshS: 60, maxStaleS: 120})
	g.firstTick()
	srv.serve(503, nil)
	g.pass(110 * time.Second)
	if res := g.send(request("GET", "/orders/1", tokenFor(k)...)); res.Status != 200 {
		t.Fatalf("keys 110 s old (max_stale_s 120): %d %s", res.Status, res.Body)
	}
	if n, _ := g.env.Metric("apiguard.jwks.idp.failed"); n < 1 {
		t.Errorf("apiguard.jwks.idp.failed = %d after the IdP failed", n)
	}
	g.pass(11 * time.Second)
	expectProblem(t, g.send(request("GET", "/orders/2", tokenFor(k)...)), 401, "keys_unavailable")
	if !logged(g.env, "older than max_stale_s") {
		t.Error("no log line says the keys expired")
	}
	srv.serve(200, jwttest.JWKS(k))
	g.pass(61 * time.Second) // past the longest backoff (one refresh interval)
	if res := g.send(request("GET", "/orders/3", tokenFor(k)...)); res.Status != 200 {
		t.Fatalf("after the IdP recovered: %d %s", res.Status, res.Body)
	}
}

// TestAFailedEarlyRefreshAnswersAtOnce: a token with an unknown kid waits for
// the early refresh it triggered; when that fetch fails the request is
// refused right away, and the last good keys stay.
func TestAFailedEarlyRefreshAnswersAtOnce(t *testing.T) {
	k1, k2 := jwttest.EC("k1", elliptic.P256()), jwttest.EC("k2", elliptic.P256())
	srv := newJWKSServer(t, k1)
	g := startRemote(t, srv, 1, remote{waitMS: 5000})
	g.firstTick()
	srv.serve(500, nil)
	res, took := g.live(t, onWorker{0, request("GET", "/orders/1", tokenFor(k2)...)})
	expectProblem(t, res[0], 401, "token_unknown_key")
	if took[0] >= time.Second {
		t.Errorf("answered %v after the request; the early refresh failed at once", took[0])
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2 (start and the early refresh)", n)
	}
	if res := g.send(request("GET", "/orders/2", tokenFor(k1)...)); res.Status != 200 {
		t.Errorf("the last good key after the failed early refresh: %d", res.Status)
	}
}
