package main

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/filters/jwks"
	"github.com/apiguard/apiguard/filters/jwt"
)

// maxJWKSBytes bounds a fetched JWKS: a huge body fails the fetch unread.
const maxJWKSBytes = 256 << 10

// Tick periods. Every tick a worker adopts key sets other workers published,
// starts a due fetch and answers waiting streams whose fetch is over. While
// streams wait it ticks faster, to learn soon that a fetch on another worker
// ended. A stream that needs a fetch started asks for a tick at once: only a
// root-context callback may dispatch it (see startFetch).
const (
	tickPeriod      = 200 * time.Millisecond
	waitTickPeriod  = 20 * time.Millisecond
	startTickPeriod = time.Millisecond
)

// absentCAS creates a shared-data key only if it is still absent: the host
// treats a non-zero CAS on an absent key as "create", and a present key's CAS
// (a process-wide counter) is practically never this value.
const absentCAS = math.MaxUint32

// casRetries bounds the compare-and-swap loops on a provider's shared state;
// losing that many races in a row means other workers are making progress.
const casRetries = 4

// remoteKeys is one provider's remote JWKS as one worker sees it. When to
// fetch and who waits is decided by filters/jwks on the State every worker
// shares; this is the I/O around it.
type remoteKeys struct {
	provider int
	name     string
	cfg      *jwks.Remote
	policy   jwks.Policy
	// version is when the installed key set was fetched (by any worker).
	version time.Time
	waiters jwks.Waiters[*httpContext]
	// Shared-data keys, named by the JWKS location so that every plugin
	// using the same JWKS shares one fetch.
	stateKey, docKey string
	fetched, failed  proxywasm.MetricCounter
}

func newRemoteKeys(provider int, name string, cfg *jwks.Remote) *remoteKeys {
	base := "apiguard.jwks|" + cfg.Cluster + "|" + cfg.Authority + cfg.Path
	return &remoteKeys{
		provider: provider, name: name, cfg: cfg, policy: cfg.Policy(),
		stateKey: base + "|state", docKey: base + "|doc",
		fetched: proxywasm.DefineCounterMetric("apiguard.jwks." + name + ".fetched"),
		failed:  proxywasm.DefineCounterMetric("apiguard.jwks." + name + ".failed"),
	}
}

// startRemoteKeys sets up fetching for every remote provider. The first
// fetch starts on the first tick (or when a request needs keys), not here:
// Envoy also runs proxy_on_configure in a throwaway canary VM, which must not
// fetch.
func (p *pluginContext) startRemoteKeys(names []string) {
	p.worker = rand.Uint64() | 1 // never 0, which means "nobody" in the lease
	p.remotes = make([]*remoteKeys, len(names))
	for i := range names {
		if _, remote := p.pipeline.KeySource(i); remote != nil {
			p.remotes[i] = newRemoteKeys(i, names[i], remote)
			p.setTickPeriod(tickPeriod)
		}
	}
}

func (p *pluginContext) setTickPeriod(d time.Duration) {
	if p.tick == d {
		return
	}
	if err := proxywasm.SetTickPeriodMilliSeconds(uint32(d / time.Millisecond)); err != nil {
		proxywasm.LogCriticalf("apiguard: cannot schedule JWKS refreshes: %v", err)
		return
	}
	p.tick = d
}

// load reads a provider's shared state and the CAS to replace it with.
func (r *remoteKeys) load() (jwks.State, uint32) {
	v, cas, err := proxywasm.GetSharedData(r.stateKey)
	if err != nil {
		return jwks.State{}, absentCAS
	}
	return jwks.DecodeState(v), cas
}

// OnTick adopts key sets other workers published, starts due fetches and
// answers streams whose fetch is over or whose wait ran out.
func (p *pluginContext) OnTick() {
	defer logPanic("tick")
	now := time.Now()
	waiting := false
	for _, r := range p.remotes {
		if r == nil {
			continue
		}
		st, cas := r.load()
		p.adopt(r, st, now)
		if st.Due(now) {
			st = p.startFetch(r, st, cas, now)
		}
		if p.state.Keys[r.provider] != nil && r.policy.Stale(r.version, now) {
			proxywasm.LogWarnf("apiguard: provider %s: keys fetched at %s are older than max_stale_s; "+
				"failing closed until a fetch succeeds", r.name, r.version.UTC().Format(time.RFC3339))
			p.state.Keys[r.provider] = nil
			p.state.Cache.Clear()
		}
		p.answer(r, r.waiters.Take(now, st.Finished(now)))
		waiting = waiting || r.waiters.Len() > 0
	}
	if waiting {
		p.setTickPeriod(waitTickPeriod)
	} else {
		p.setTickPeriod(tickPeriod)
	}
}

// adopt installs the key set another worker published, if newer than ours
// and not too old to use.
func (p *pluginContext) adopt(r *remoteKeys, st jwks.State, now time.Time) {
	if !st.Published.After(r.version) || r.policy.Stale(st.Published, now) {
		return
	}
	raw, _, err := proxywasm.GetSharedData(r.docKey)
	if err != nil {
		return
	}
	doc, ok := jwks.DecodeDocument(raw)
	if !ok || !doc.FetchedAt.After(r.version) {
		return
	}
	// The fetching worker logged the skipped entries; one line each is enough.
	set, _, err := jwks.ParseFetched(doc.JWKS)
	if err != nil {
		return
	}
	p.install(r, set, doc.FetchedAt)
}

// startFetch takes the fetch (by compare-and-swap on the shared state) and
// dispatches it. It returns the state as it now is. It runs only in root
// callbacks: the SDK makes the context that is active when the call is
// dispatched the owner of its answer, and drops the answer if that context
// is gone, so a fetch dispatched by a stream whose client gave up would
// never be answered.
func (p *pluginContext) startFetch(r *remoteKeys, st jwks.State, cas uint32, now time.Time) jwks.State {
	next := st.Begin(p.worker, now, r.policy)
	if err := proxywasm.SetSharedData(r.stateKey, next.Encode(), cas); err != nil {
		// Another worker changed the state first: it fetches, or just did.
		cur, _ := r.load()
		return cur
	}
	n := next.Started
	headers := [][2]string{{":method", "GET"}, {":path", r.cfg.Path}, {":authority", r.cfg.Authority}, {"accept", "application/json"}}
	_, err := proxywasm.DispatchHttpCall(r.cfg.Cluster, headers, nil, nil, uint32(r.cfg.Timeout/time.Millisecond),
		func(_, bodySize, _ int) {
			defer logPanic("a JWKS response")
			p.received(r, n, bodySize)
		})
	if err != nil {
		proxywasm.LogWarnf("apiguard: JWKS fetch for provider %s: cannot call cluster %s: %v", r.name, r.cfg.Cluster, err)
		r.failed.Increment(1)
		return p.ended(r, n, false, nil, now)
	}
	return next
}

// received handles the answer to fetch n, on the root context.
func (p *pluginContext) received(r *remoteKeys, n uint64, bodySize int) {
	now := time.Now()
	set, body, problem := r.read(bodySize)
	if problem != "" {
		proxywasm.LogWarnf("apiguard: JWKS fetch for provider %s failed (%s); keeping the last good keys", r.name, problem)
		r.failed.Increment(1)
		p.ended(r, n, false, nil, now)
	} else {
		r.fetched.Increment(1)
		p.ended(r, n, set.Len() > 0, body, now)
		p.install(r, set, now)
	}
	p.answer(r, r.waiters.Take(now, n))
}

// read reads the JWKS response; problem says why it is unusable.
func (r *remoteKeys) read(bodySize int) (set *jwt.KeySet, body []byte, problem string) {
	status := ""
	if headers, err := proxywasm.GetHttpCallResponseHeaders(); err == nil {
		for _, kv := range headers {
			if kv[0] == ":status" {
				status = kv[1]
			}
		}
	}
	switch {
	case status == "":
		return nil, nil, "unreachable"
	case status != "200":
		return nil, nil, "status " + status
	case bodySize > maxJWKSBytes:
		return nil, nil, "body over 256 KiB"
	}
	body, err := proxywasm.GetHttpCallResponseBody(0, bodySize)
	if err != nil {
		return nil, nil, "cannot read the body"
	}
	set, skipped, err := jwks.ParseFetched(body)
	for _, s := range skipped {
		if s.Kid != "" {
			proxywasm.LogWarnf("apiguard: provider %s: JWKS entry skipped: %v (kid %q)", r.name, s, s.Kid)
		} else {
			proxywasm.LogWarnf("apiguard: provider %s: JWKS entry skipped: %v", r.name, s)
		}
	}
	if err != nil {
		return nil, nil, "invalid JWKS: " + err.Error()
	}
	return set, body, ""
}

// ended records in the shared state that fetch n ended at now, publishing
// body (a valid JWKS) first, if it is still this worker's fetch. keys says
// whether it left usable keys. It returns the state as it now is.
func (p *pluginContext) ended(r *remoteKeys, n uint64, keys bool, body []byte, now time.Time) jwks.State {
	for range casRetries {
		st, cas := r.load()
		if !st.Holds(p.worker, n) {
			proxywasm.LogInfof("apiguard: JWKS fetch for provider %s answered after its lease; another fetch replaced it", r.name)
			return st
		}
		next := st.End(now, keys, r.policy)
		if body != nil {
			if err := proxywasm.SetSharedData(r.docKey, jwks.Document{FetchedAt: now, JWKS: body}.Encode(), 0); err != nil {
				proxywasm.LogWarnf("apiguard: provider %s: cannot publish the key set to other workers: %v", r.name, err)
			} else {
				next.Published = now
			}
		}
		if proxywasm.SetSharedData(r.stateKey, next.Encode(), cas) == nil {
			return next
		}
	}
	st, _ := r.load()
	return st
}

// install makes a key set current; an empty one (the IdP withdrew every
// key) leaves the provider without keys. Cached tokens are forgotten: one
// verified with a key that was removed must not outlive the key.
func (p *pluginContext) install(r *remoteKeys, set *jwt.KeySet, fetchedAt time.Time) {
	r.version = fetchedAt
	p.state.Cache.Clear()
	if set.Len() == 0 {
		p.state.Keys[r.provider] = nil
		proxywasm.LogWarnf("apiguard: provider %s: the JWKS has no keys; every key is revoked", r.name)
		return
	}
	p.state.Keys[r.provider] = set
	proxywasm.LogInfof("apiguard: provider %s has %d key(s)", r.name, set.Len())
}

// answer lets streams that waited for keys go on: each is authenticated
// again with the keys there are now, and continued or denied.
func (p *pluginContext) answer(r *remoteKeys, streams []*httpContext) {
	if len(streams) == 0 {
		return
	}
	for _, h := range streams {
		if err := proxywasm.SetEffectiveContext(h.id); err == nil {
			h.waiting = false
			h.resume()
		}
	}
	// Later host calls in this callback are the root's own again.
	_ = proxywasm.SetEffectiveContext(p.rootID)
}

// waitForKeys pauses a stream whose token could not be checked because its
// provider has no keys, or none with the token's kid, if a fetch that may
// bring them is in flight or due now (an unknown kid may claim one early
// refresh per cooldown, for all workers). It reports whether the stream now
// waits.
func (p *pluginContext) waitForKeys(h *httpContext, provider int, unknownKey bool) bool {
	r := p.remotes[provider]
	if r == nil || r.cfg.Wait == 0 {
		return false
	}
	now := time.Now()
	for range casRetries {
		st, cas := r.load()
		next, plan := st.Plan(now, unknownKey, r.version, r.policy)
		if plan.Claimed && proxywasm.SetSharedData(r.stateKey, next.Encode(), cas) != nil {
			continue // another worker changed the state: decide again on the new one
		}
		if !plan.Wait {
			return false
		}
		if plan.Tick {
			p.setTickPeriod(startTickPeriod)
		} else if p.tick > waitTickPeriod {
			p.setTickPeriod(waitTickPeriod)
		}
		h.waiting = true
		r.waiters.Add(h, plan.Attempt, now.Add(r.cfg.Wait))
		return true
	}
	return false
}

// forget drops a stream that ended while it waited.
func (p *pluginContext) forget(h *httpContext) {
	for _, r := range p.remotes {
		if r != nil && r.waiters.Remove(h) {
			return
		}
	}
}

// logPanic keeps a bug in root-context work from trapping the VM, which would
// fail every later stream on this worker: the work is abandoned and logged.
func logPanic(what string) {
	if r := recover(); r != nil {
		proxywasm.LogCriticalf("apiguard: internal error handling %s: %v", what, r)
	}
}
