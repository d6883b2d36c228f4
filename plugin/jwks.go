package main

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/filters/jwks"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/verdict"
)

// maxJWKSBytes bounds a fetched JWKS: a huge body fails the fetch unread.
const maxJWKSBytes = 256 << 10

// tickPeriod is how often a worker looks for key sets other workers fetched,
// starts due fetches and expires streams that waited too long for keys.
const tickPeriod = 200 * time.Millisecond

// absentCAS creates a shared-data key only if it is still absent: the host
// treats a non-zero CAS on an absent key as "create", and a present key's CAS
// (a process-wide counter) is practically never this value.
const absentCAS = math.MaxUint32

// remoteKeys is one provider's remote JWKS as one worker sees it. One worker
// at a time fetches, holding a lease in shared data; every worker installs the
// key set published there, so the IdP sees one fetch per refresh, not one per
// worker.
type remoteKeys struct {
	provider int
	name     string
	cfg      *remoteJWKS
	schedule *jwks.Schedule
	// version is when the installed key set was fetched (by any worker).
	version time.Time
	waiters []waiter
	// Shared-data keys, named by the JWKS location so that every plugin
	// using the same JWKS shares one fetch.
	leaseKey, docKey, versionKey string
	fetched, failed              proxywasm.MetricCounter
}

// waiter is a stream paused until its provider has keys.
type waiter struct {
	h     *httpContext
	until time.Time
}

func newRemoteKeys(provider int, name string, cfg *remoteJWKS) *remoteKeys {
	base := "apiguard.jwks|" + cfg.cluster + "|" + cfg.authority + cfg.path
	return &remoteKeys{
		provider: provider, name: name, cfg: cfg,
		schedule: jwks.NewSchedule(jwks.Policy{
			Refresh: cfg.refresh, MinBackoff: time.Second, MaxBackoff: min(cfg.refresh, time.Minute), EarlyCooldown: time.Minute,
		}),
		leaseKey: base + "|lease", docKey: base + "|doc", versionKey: base + "|version",
		fetched: proxywasm.DefineCounterMetric("apiguard.jwks." + name + ".fetched"),
		failed:  proxywasm.DefineCounterMetric("apiguard.jwks." + name + ".failed"),
	}
}

// startRemoteKeys sets up fetching for every remote provider. The first
// fetch starts on the first tick (or when a request needs keys), not here:
// Envoy also runs proxy_on_configure in a throwaway canary VM, which must not
// fetch or take the lease.
func (p *pluginContext) startRemoteKeys(names []string) {
	p.worker = rand.Uint64()
	p.remotes = make([]*remoteKeys, len(p.sources))
	remote := false
	for i, src := range p.sources {
		if src.remote != nil {
			p.remotes[i] = newRemoteKeys(i, names[i], src.remote)
			remote = true
		}
	}
	if !remote {
		return
	}
	if err := proxywasm.SetTickPeriodMilliSeconds(uint32(tickPeriod / time.Millisecond)); err != nil {
		proxywasm.LogCriticalf("apiguard: cannot schedule JWKS refreshes: %v", err)
	}
}

// OnTick adopts key sets other workers published, starts due fetches and
// answers streams that waited too long.
func (p *pluginContext) OnTick() {
	defer logPanic("tick")
	now := time.Now()
	for _, r := range p.remotes {
		if r == nil {
			continue
		}
		p.adopt(r)
		if r.schedule.Due(now) {
			p.fetch(r, now)
		}
		kept := r.waiters[:0]
		for _, w := range r.waiters {
			if now.Before(w.until) {
				kept = append(kept, w)
				continue
			}
			if err := proxywasm.SetEffectiveContext(w.h.id); err == nil {
				w.h.waiting = false
				w.h.deny(verdict.Deny(verdict.KeysUnavailable, "timed out waiting for the identity provider's keys"))
			}
		}
		clear(r.waiters[len(kept):])
		r.waiters = kept
	}
}

// adopt installs a key set published in shared data that is newer than ours.
func (p *pluginContext) adopt(r *remoteKeys) {
	v, _, err := proxywasm.GetSharedData(r.versionKey)
	if err != nil || len(v) != 8 || !time.Unix(0, int64(binary.LittleEndian.Uint64(v))).After(r.version) {
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
	set, err := jwt.ParseKeySet(doc.JWKS)
	if err != nil {
		return
	}
	r.schedule.Adopted(doc.FetchedAt)
	p.install(r, set, doc.FetchedAt)
}

// fetch starts a JWKS fetch if this worker can take the lease.
func (p *pluginContext) fetch(r *remoteKeys, now time.Time) {
	cur, cas, err := proxywasm.GetSharedData(r.leaseKey)
	if err == nil && jwks.DecodeLease(cur).Held(p.worker, now) {
		r.schedule.Deferred(now)
		return
	}
	if err != nil {
		cas = absentCAS
	}
	lease := jwks.Lease{Holder: p.worker, Until: now.Add(r.cfg.timeout + time.Second)}
	if err := proxywasm.SetSharedData(r.leaseKey, lease.Encode(), cas); err != nil {
		r.schedule.Deferred(now)
		return
	}
	headers := [][2]string{{":method", "GET"}, {":path", r.cfg.path}, {":authority", r.cfg.authority}, {"accept", "application/json"}}
	_, err = proxywasm.DispatchHttpCall(r.cfg.cluster, headers, nil, nil, uint32(r.cfg.timeout/time.Millisecond),
		func(_, bodySize, _ int) {
			defer func() {
				if err := recover(); err != nil {
					proxywasm.LogCriticalf("apiguard: internal error handling a JWKS response: %v", err)
					p.fetchFailed(r, time.Now())
				}
			}()
			p.fetched(r, bodySize)
		})
	if err != nil {
		proxywasm.LogWarnf("apiguard: JWKS fetch for provider %s: cannot call cluster %s: %v", r.name, r.cfg.cluster, err)
		p.fetchFailed(r, now)
		return
	}
	r.schedule.Started()
}

// fetched handles the http call's response on the root context.
func (p *pluginContext) fetched(r *remoteKeys, bodySize int) {
	now := time.Now()
	status := ""
	if headers, err := proxywasm.GetHttpCallResponseHeaders(); err == nil {
		for _, kv := range headers {
			if kv[0] == ":status" {
				status = kv[1]
			}
		}
	}
	var problem string
	var set *jwt.KeySet
	var body []byte
	switch {
	case status == "":
		problem = "unreachable"
	case status != "200":
		problem = "status " + status
	case bodySize > maxJWKSBytes:
		problem = "body over 256 KiB"
	default:
		var err error
		if body, err = proxywasm.GetHttpCallResponseBody(0, bodySize); err != nil {
			problem = "cannot read the body"
		} else if set, err = jwt.ParseKeySet(body); err != nil {
			problem = "invalid JWKS: " + err.Error()
		}
	}
	if problem != "" {
		proxywasm.LogWarnf("apiguard: JWKS fetch for provider %s failed (%s); keeping the last good keys", r.name, problem)
		p.fetchFailed(r, now)
		return
	}
	r.fetched.Increment(1)
	r.schedule.Succeeded(now)
	_ = proxywasm.SetSharedData(r.docKey, jwks.Document{FetchedAt: now, JWKS: body}.Encode(), 0)
	_ = proxywasm.SetSharedData(r.versionKey, binary.LittleEndian.AppendUint64(nil, uint64(now.UnixNano())), 0)
	p.releaseLease(r)
	p.install(r, set, now)
}

func (p *pluginContext) fetchFailed(r *remoteKeys, now time.Time) {
	r.failed.Increment(1)
	r.schedule.Failed(now)
	p.releaseLease(r)
	if p.keys[r.provider] != nil {
		// Streams waiting on an early refresh get their answer now.
		p.resumeWaiters(r)
	}
}

func (p *pluginContext) releaseLease(r *remoteKeys) {
	cur, cas, err := proxywasm.GetSharedData(r.leaseKey)
	if err == nil && jwks.DecodeLease(cur).Holder == p.worker {
		_ = proxywasm.SetSharedData(r.leaseKey, jwks.Lease{}.Encode(), cas)
	}
}

// install makes a key set current and lets waiting streams continue. Cached
// tokens are forgotten: one verified with a key that was removed must not
// outlive the key.
func (p *pluginContext) install(r *remoteKeys, set *jwt.KeySet, fetchedAt time.Time) {
	p.keys[r.provider], r.version = set, fetchedAt
	p.cache.Clear()
	proxywasm.LogInfof("apiguard: provider %s has %d key(s)", r.name, set.Len())
	p.resumeWaiters(r)
}

func (p *pluginContext) resumeWaiters(r *remoteKeys) {
	waiters := r.waiters
	r.waiters = nil
	for _, w := range waiters {
		if err := proxywasm.SetEffectiveContext(w.h.id); err == nil {
			w.h.waiting = false
			w.h.resume()
		}
	}
}

// waitForKeys pauses a stream whose token could not be checked because its
// provider has no keys yet, or does not know the token's kid (at most one
// early refresh per cooldown). It reports whether the stream now waits.
func (p *pluginContext) waitForKeys(h *httpContext, provider int, reason verdict.Reason) bool {
	r := p.remotes[provider]
	if r == nil || r.cfg.wait == 0 {
		return false
	}
	now := time.Now()
	if reason == verdict.TokenUnknownKey && !r.schedule.InFlight() && !r.schedule.RequestEarly(now) {
		return false
	}
	if r.schedule.Due(now) {
		p.fetch(r, now)
	}
	h.waiting = true
	r.waiters = append(r.waiters, waiter{h: h, until: now.Add(r.cfg.wait)})
	return true
}

// forget drops a stream that ended while it waited.
func (p *pluginContext) forget(h *httpContext) {
	for _, r := range p.remotes {
		if r == nil {
			continue
		}
		for i, w := range r.waiters {
			if w.h == h {
				r.waiters = append(r.waiters[:i], r.waiters[i+1:]...)
				break
			}
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
