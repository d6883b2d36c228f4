package ratelimit_test

import (
	"math/rand"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/pipeline"
	"github.com/apiguard/apiguard/filters/ratelimit"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

// scheduler runs simulated workers on goroutines one host call at a time,
// choosing at random (from a seed) which waiting worker goes next: every
// interleaving of their reads and compare-and-swaps is possible, and a
// failing seed replays.
type scheduler struct {
	rng   *rand.Rand
	ready chan waiting
	done  chan struct{}
}

type waiting struct {
	worker int
	resume chan struct{}
}

func newScheduler(rng *rand.Rand) *scheduler {
	return &scheduler{rng: rng, ready: make(chan waiting), done: make(chan struct{})}
}

func (s *scheduler) step(worker int) {
	c := make(chan struct{})
	s.ready <- waiting{worker, c}
	<-c
}

// run starts n workers and schedules them until all returned.
func (s *scheduler) run(n int, worker func(i int)) {
	for i := 0; i < n; i++ {
		go func() {
			defer func() { s.done <- struct{}{} }()
			worker(i)
		}()
	}
	var pending []waiting
	for live := n; live > 0; {
		for len(pending) < live {
			select {
			case w := <-s.ready:
				pending = append(pending, w)
			case <-s.done:
				live--
			}
		}
		if len(pending) == 0 {
			continue
		}
		// In worker order, so that the choice depends on the seed only.
		slices.SortFunc(pending, func(a, b waiting) int { return a.worker - b.worker })
		i := s.rng.Intn(len(pending))
		close(pending[i].resume)
		pending = slices.Delete(pending, i, i+1)
	}
}

// steppedHost is one worker's view of the shared host: it yields to the
// scheduler before each shared-data call, and has its own peer.
type steppedHost struct {
	*hosttest.Host
	sched  *scheduler
	worker int
	peer   string
}

func (h *steppedHost) Property(path ...string) ([]byte, error) {
	if len(path) == 2 && path[0] == "source" && path[1] == "address" {
		return []byte(h.peer), nil
	}
	return h.Host.Property(path...)
}

func (h *steppedHost) SharedData(key string) ([]byte, uint32, error) {
	h.sched.step(h.worker)
	return h.Host.SharedData(key)
}

func (h *steppedHost) SetSharedData(key string, value []byte, cas uint32) error {
	h.sched.step(h.worker)
	return h.Host.SetSharedData(key, value, cas)
}

// TestWorkersAgreeWithASequentialModel: N workers on one shared host, in
// random interleavings, admit exactly what one sequential GCRA per key
// admits, round after round of a moving clock.
func TestWorkersAgreeWithASequentialModel(t *testing.T) {
	const rounds, keys = 12, 4
	retries := uint64(0)
	for seed := int64(1); seed <= 25; seed++ {
		rng := rand.New(rand.NewSource(seed))
		workers := 2 + rng.Intn(4)
		rate, burst := int64(1+rng.Intn(10)), int64(rng.Intn(6))
		p, errs := pipeline.Load([]byte(`{"rate_limit": {"rules": [{"name": "r", "key": ["peer"], "slots": 4194304, "rate": ` +
			strconv.FormatInt(rate, 10) + `, "per": "second", "burst": ` + strconv.FormatInt(burst, 10) + `}]},
			"routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none"}]}`))
		if errs != nil {
			t.Fatal(errs)
		}
		g, _ := ratelimit.NewGCRA(rate, time.Second, burst)
		model := make([]bucketModel, keys)
		shared := &hosttest.Host{}
		now := epoch
		for round := 0; round < rounds; round++ {
			now = now.Add(time.Duration(rng.Int63n(int64(2 * time.Second))))
			// Each worker sends a few requests for random keys.
			plan := make([][]int, workers)
			demand := make([]int, keys)
			for w := range plan {
				for n := rng.Intn(8); n > 0; n-- {
					k := rng.Intn(keys)
					plan[w] = append(plan[w], k)
					demand[k]++
				}
			}
			admitted := make([]int, keys)
			for _, r := range runRound(p, shared, newScheduler(rng), now, plan, func(k int) (string, string) { return "10.0.0." + strconv.Itoa(k), "" }) {
				admitted[r]++
			}
			for k := range model {
				want := model[k].take(g, now.UnixNano(), demand[k])
				if admitted[k] != want {
					t.Fatalf("seed %d round %d key %d: %d workers admitted %d of %d, the sequential model %d",
						seed, round, k, workers, admitted[k], demand[k], want)
				}
			}
		}
		retries += shared.Counter("apiguard.ratelimit.r.cas_retries")
	}
	if retries == 0 {
		t.Error("no worker ever lost a CAS race: the interleavings test nothing")
	}
	t.Logf("%d CAS retries", retries)
}

// runRound sends each worker's planned requests on its own goroutine, one
// shared-data call at a time in sched's order, at now, and returns those
// admitted. address gives a request's peer address and its x-api-key
// ("" for none).
func runRound[R any](p *pipeline.Pipeline, shared *hosttest.Host, sched *scheduler, now time.Time, plan [][]R, address func(R) (peer, apiKey string)) []R {
	var mu sync.Mutex
	var admitted []R
	sched.run(len(plan), func(w int) {
		h := &steppedHost{Host: shared, sched: sched, worker: w}
		wk := p.NewWorker(h)
		wk.Now = func() time.Time { return now }
		for _, r := range plan[w] {
			peer, apiKey := address(r)
			h.peer = peer + ":4000"
			req := headers{{":method", "GET"}, {":path", "/a"}, {":authority", "a.example"}}
			if apiKey != "" {
				req = append(req, [2]string{"x-api-key", apiKey})
			}
			var s stage.Stream
			if d := p.RequestHeaders(&s, req, wk); !d.Denied() {
				mu.Lock()
				admitted = append(admitted, r)
				mu.Unlock()
			}
		}
	})
	return admitted
}

// bucketModel is the sequential reference: one GCRA state per key.
type bucketModel struct{ tat int64 }

func (b *bucketModel) take(g ratelimit.GCRA, now int64, n int) int {
	admitted := 0
	for ; n > 0; n-- {
		if d := g.Decide(b.tat, now); d.Allowed {
			b.tat = d.TAT
			admitted++
		}
	}
	return admitted
}

// TestWorkersNeverOverAdmitAcrossRules: with two rules per request (per
// peer and per API key) a request commits two slots, which is not atomic;
// in every interleaving, no key of either rule is ever admitted more than
// its own GCRA allows.
func TestWorkersNeverOverAdmitAcrossRules(t *testing.T) {
	const rounds, peers, apiKeys = 10, 3, 3
	for seed := int64(1); seed <= 25; seed++ {
		rng := rand.New(rand.NewSource(seed))
		workers := 2 + rng.Intn(4)
		p, errs := pipeline.Load([]byte(`{"rate_limit": {"rules": [
			{"name": "per-peer", "key": ["peer"], "slots": 4194304, "rate": 4, "per": "second", "burst": 2},
			{"name": "per-key", "key": ["header:x-api-key"], "slots": 4194304, "rate": 3, "per": "second", "burst": 1}]},
			"routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none"}]}`))
		if errs != nil {
			t.Fatal(errs)
		}
		peerLimit, _ := ratelimit.NewGCRA(4, time.Second, 2)
		keyLimit, _ := ratelimit.NewGCRA(3, time.Second, 1)
		peerModel, keyModel := make([]bucketModel, peers), make([]bucketModel, apiKeys)
		shared := &hosttest.Host{}
		now := epoch
		for round := 0; round < rounds; round++ {
			now = now.Add(time.Duration(rng.Int63n(int64(time.Second))))
			plan := make([][][2]int, workers)
			for w := range plan {
				for n := rng.Intn(8); n > 0; n-- {
					plan[w] = append(plan[w], [2]int{rng.Intn(peers), rng.Intn(apiKeys)})
				}
			}
			byPeer, byKey := make([]int, peers), make([]int, apiKeys)
			for _, r := range runRound(p, shared, newScheduler(rng), now, plan, func(pk [2]int) (string, string) {
				return "10.0.0." + strconv.Itoa(pk[0]), strconv.Itoa(pk[1])
			}) {
				byPeer[r[0]]++
				byKey[r[1]]++
			}
			for k, n := range byPeer {
				if got := peerModel[k].take(peerLimit, now.UnixNano(), n); got != n {
					t.Fatalf("seed %d round %d: peer %d admitted %d, its own limit allows %d", seed, round, k, n, got)
				}
			}
			for k, n := range byKey {
				if got := keyModel[k].take(keyLimit, now.UnixNano(), n); got != n {
					t.Fatalf("seed %d round %d: API key %d admitted %d, its own limit allows %d", seed, round, k, n, got)
				}
			}
		}
	}
}
