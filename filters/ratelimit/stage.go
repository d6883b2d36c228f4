package ratelimit

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// maxCASTries bounds the compare-and-swap attempts on one slot per
// request. Past them the rule's on_error decides: never an unbounded loop,
// never an unchecked admission.
const maxCASTries = 16

// Stage enforces a route's rules: those keyed only by what a request
// carries before authentication (peer, x-forwarded-for, header, route) in
// BeforeAuthentication, so that a flood of bad tokens is limited before a
// signature is checked; those keyed by identity (a claim, a tier) in
// RequestHeaders, with the verified principal.
//
// Within a phase a request is admitted only if every rule admits it, and a
// refused request consumes nothing: every slot is read and decided first,
// then written with CAS; a write that lost a race is read and decided again
// (and the request refused if it no longer fits). A request that the
// identity rules refuse gives back what the early rules counted, if no one
// wrote those slots since; if someone did, the unit stays spent: the
// limiter errs towards refusing, never towards admitting more.
type Stage struct {
	early, late []*rule
	// global rules are asked of the rate limit service last (AfterOthers).
	global  []*globalRule
	hops    int
	headers headerMode
	seeds   *seeds
}

func newStage(s *settings) *Stage {
	st := &Stage{global: s.global, hops: s.hops, headers: s.headers, seeds: s.seeds}
	for _, ru := range s.rules {
		if ru.identity {
			st.late = append(st.late, ru)
		} else {
			st.early = append(st.early, ru)
		}
	}
	return st
}

// AppendCounters appends the counters of the route's rules, local and
// global (with a global rule's fallback).
func (st *Stage) AppendCounters(out []*stage.Counter) []*stage.Counter {
	for _, rules := range [...][]*rule{st.early, st.late} {
		for _, ru := range rules {
			out = ru.appendCounters(out)
		}
	}
	for _, gr := range st.global {
		out = append(out, gr.allowed, gr.limited, gr.errors)
		if gr.fallback != nil {
			out = gr.fallback.appendCounters(out)
		}
	}
	return out
}

func (ru *rule) appendCounters(out []*stage.Counter) []*stage.Counter {
	out = append(out, ru.allowed, ru.casRetries, ru.errors)
	if ru.shadow {
		return append(out, ru.shadowLimited)
	}
	return append(out, ru.limited)
}

// kept is what the request phases of a stream learnt, for the response's
// headers and for a refund, and the buffers its phases reuse: a stream
// takes an ended stream's kept back (newKept), so that a request, admitted
// or refused, allocates nothing once a few streams have run.
type kept struct {
	items     []item
	committed []check
	shadowed  []string
	global    globalKept
	// checks are a phase's checks, hash the buffer their keys are hashed
	// in (it refers to itself: on a goroutine's stack it would escape);
	// refused and refusal the items and headers of a refusal, denial what
	// the refusal carries; response the response's headers.
	checks            []check
	hash              keyHash
	refused           []item
	refusal, response [][2]string
	denial            verdict.Denial
	// text holds the strings the stream makes (textFrom): its slots'
	// names and its headers' values.
	text []byte
}

// newKept is a kept for the stream s, an ended stream's emptied when s
// has one (stage.Spare). Its buffers are truncated, not cleared (each
// clear costs calls in wasm): what they hold past their length is nothing
// of a request (ResponseHeaders sees to it), only compiled rules' names
// and policies, the kept's own text and a global rule's policy; its hash
// buffer is cleared as soon as a key is hashed or found missing.
func newKept(s *stage.Stream) *kept {
	k, ok := stage.Spare[*kept](s)
	if !ok {
		return &kept{}
	}
	k.items, k.committed, k.shadowed, k.global = k.items[:0], k.committed[:0], k.shadowed[:0], globalKept{}
	k.refused, k.refusal, k.response, k.text = k.refused[:0], k.refusal[:0], k.response[:0], k.text[:0]
	return k
}

// textFrom is what was appended to k.text from start on, as a string
// sharing its bytes rather than a copy (an allocation). It stays valid
// while the stream lasts: k.text is only appended to while it does (an
// append that moves it leaves the strings made before with the old array,
// unchanged), and only the stream that takes k back (newKept), once this
// one ended, writes over it. Nothing keeps such a string longer: the host
// copies a shared-data key; the glue applies the response's edits and
// sends a refusal within the stream, and the host copies their headers;
// a refund, a later phase of the same stream, reads the slot's name; the
// audit record and the logs name rules, not these strings.
func (k *kept) textFrom(start int) string {
	return unsafe.String(unsafe.SliceData(k.text[start:]), len(k.text)-start)
}

// formatInt is strconv.FormatInt(v, 10) written in k's text (textFrom).
func (k *kept) formatInt(v int64) string {
	start := len(k.text)
	k.text = strconv.AppendInt(k.text, v, 10)
	return k.textFrom(start)
}

// phaseChecks are n zeroed checks for a phase, in k's buffer: what a phase
// keeps of them afterwards it copies (committed).
func (k *kept) phaseChecks(n int) []check {
	k.checks = slices.Grow(k.checks[:0], n)[:n]
	clear(k.checks)
	return k.checks
}

// item is one enforced rule's state after the request, for the RateLimit
// header: its name, its RateLimit-Policy item and rate.
type item struct {
	name, policy string
	rate         int64
	remaining    int64
	reset        time.Duration
}

func localItem(c *check, remaining int64, reset time.Duration) item {
	return item{c.rule.name, c.limit.policy, c.limit.rate, remaining, reset}
}

// BeforeAuthentication runs the rules that need no identity.
func (st *Stage) BeforeAuthentication(s *stage.Stream, in *stage.Input) verdict.Decision {
	if len(st.early) == 0 {
		return verdict.Decision{}
	}
	k := newKept(s)
	s.Keep(st, k)
	return st.run(s, in, st.early, k)
}

// RequestHeaders runs the identity rules, after authentication.
func (st *Stage) RequestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	if len(st.late) == 0 {
		return verdict.Decision{}
	}
	k := st.keep(s)
	early := k.committed
	d := st.run(s, in, st.late, k)
	if d.Denied() {
		refund(in.Worker().Host, early)
	}
	return d
}

// ResponseHeaders adds the rate-limit headers of the rules that admitted
// the request, and names the shadow rules that would have refused it.
func (st *Stage) ResponseHeaders(s *stage.Stream, _ *stage.Input) {
	k, _ := s.Kept(st).(*kept)
	if k == nil || len(k.items) == 0 && len(k.shadowed) == 0 {
		return
	}
	// The phase's earlier edits, hardening's (a compiled list, clipped so
	// that appending to it copies), go first in k's buffer: Add would copy
	// them and these into a new array each stream.
	set := append(k.response[:0], s.Response.Set...)
	earlier := len(set)
	if len(k.shadowed) > 0 {
		set = append(set, [2]string{"x-apiguard-ratelimit-shadow", strings.Join(k.shadowed, ", ")})
	}
	set = st.appendHeaders(k, set, k.items, 0)
	k.response = set
	if len(set) > earlier {
		// Clipped, so that a later stage (CORS, with the request's
		// origin) appends to a copy rather than in k's buffer, which
		// outlives the stream.
		s.Response.Set = slices.Clip(set)
	}
}

// check is one rule's slot for one request.
type check struct {
	rule  *rule
	limit *limit
	name  string
	fp    uint64
	// The slot as read: its version (0 when absent) and the fingerprint
	// to write back (the request's own, or an occupant's it shares).
	cas     uint32
	writeFP uint64
	d       Decision
	// written is what this request wrote, when wrote, for a refund.
	written [slotValueSize]byte
	wrote   bool
}

// refuses reports whether the check refuses the request: its rule is
// enforced (not a shadow) and the request does not fit.
func (c *check) refuses() bool { return !c.d.Allowed && !c.rule.shadow }

// run decides the rules of one phase for a request.
func (st *Stage) run(s *stage.Stream, in *stage.Input, rules []*rule, k *kept) verdict.Decision {
	w := in.Worker()
	h := w.Host
	seed, err := st.seeds.get(h)
	if err != nil {
		return failure(w, rules, false)
	}
	checks := k.phaseChecks(len(rules))
	for i, ru := range rules {
		if !st.prepare(&checks[i], s, in, ru, seed, k) {
			return failure(w, rules, false)
		}
	}
	now := in.Now().UnixNano()
	refused := false
	for i := range checks {
		if !checks[i].load(h, now) {
			return failure(w, rules, false)
		}
		refused = refused || checks[i].refuses()
	}
	if refused {
		return st.refusal(s, w, k, checks)
	}
	for i := range checks {
		c := &checks[i]
		for try := 1; c.d.Allowed; try++ {
			c.written = encodeSlot(c.writeFP, c.d.TAT)
			cas := c.cas
			if cas == 0 {
				cas = createOnly
			}
			err := h.SetSharedData(c.name, c.written[:], cas)
			if err == nil {
				c.wrote = true
				break
			}
			if !errors.Is(err, stage.ErrCASMismatch) || try == maxCASTries {
				refund(h, checks[:i])
				return failure(w, rules, errors.Is(err, stage.ErrCASMismatch))
			}
			w.Count(c.rule.casRetries, 1)
			if !c.load(h, now) {
				refund(h, checks[:i])
				return failure(w, rules, false)
			}
			if c.refuses() {
				refund(h, checks[:i])
				return st.refusal(s, w, k, checks[i:i+1])
			}
		}
	}
	for i := range checks {
		c := &checks[i]
		switch {
		case c.d.Allowed:
			w.Count(c.rule.allowed, 1)
		default:
			w.Count(c.rule.shadowLimited, 1)
			s.Note(stage.Outcome{Kind: stage.Shadow, Reason: verdict.RateLimited, Rule: c.rule.audit})
			k.shadowed = append(k.shadowed, c.rule.name)
			h.Log("apiguard: rate limit rule " + c.rule.name + " would refuse a request (shadow)")
		}
		if c.d.Allowed && !c.rule.shadow {
			k.items = append(k.items, localItem(c, c.d.Remaining, c.d.Reset))
		}
		if c.wrote {
			k.committed = append(k.committed, *c)
		}
	}
	return verdict.Decision{}
}

// refusal counts and answers the checks that refuse (refuses), at least
// one, in k's buffers.
func (st *Stage) refusal(s *stage.Stream, w *stage.Worker, k *kept, checks []check) verdict.Decision {
	items := k.refused[:0]
	var wait time.Duration
	for i := range checks {
		c := &checks[i]
		if !c.refuses() {
			continue
		}
		w.Count(c.rule.limited, 1)
		s.Note(stage.Outcome{Kind: stage.Enforced, Reason: verdict.RateLimited, Rule: c.rule.audit})
		wait = max(wait, c.d.RetryAfter)
		items = append(items, localItem(c, 0, c.d.RetryAfter))
	}
	k.refused = items
	return st.refuse(k, "rate limit exceeded", ceilSeconds(wait), items, wait)
}

// refuse is the 429 with detail, Retry-After retryAfter seconds and the
// rate-limit headers of items, all in k's buffers.
func (st *Stage) refuse(k *kept, detail string, retryAfter int64, items []item, wait time.Duration) verdict.Decision {
	k.refusal = append(k.refusal[:0], [2]string{"retry-after", k.formatInt(retryAfter)})
	k.refusal = st.appendHeaders(k, k.refusal, items, wait)
	// Field by field: a Denial is more than four words, whose literal wasm
	// would build aside and copy through a call.
	k.denial.Detail, k.denial.Headers, k.denial.Violations = detail, k.refusal, nil
	return verdict.DenyWith(verdict.RateLimited, &k.denial)
}

// contendedDenial and unansweredDenial are shared by every stream: nothing
// changes them.
var (
	contendedDenial  = &verdict.Denial{Detail: "rate limit state is contended", Headers: [][2]string{{"retry-after", "1"}}}
	unansweredDenial = &verdict.Denial{Detail: "the global rate limit service did not answer", Headers: [][2]string{{"retry-after", "1"}}}
)

// failure answers a request the limiter could not decide: each rule's
// on_error, the default denying. Lost CAS races (contention) refuse with
// 429 and Retry-After 1; a failing host is an internal error.
func failure(w *stage.Worker, rules []*rule, contended bool) verdict.Decision {
	deny := false
	for _, ru := range rules {
		w.Count(ru.errors, 1)
		deny = deny || !ru.failOpen
	}
	switch {
	case !deny:
		return verdict.Decision{}
	case contended:
		return verdict.DenyWith(verdict.RateLimited, contendedDenial)
	}
	return verdict.Deny(verdict.Internal, "rate limit state is unavailable")
}

// prepare finds a rule's key, tier and slot for the request, hashing the
// key in k's buffer and naming the slot in k's text; false when not even
// the fallback can be read (the host has no peer address).
func (st *Stage) prepare(c *check, s *stage.Stream, in *stage.Input, ru *rule, seed *[16]byte, k *kept) bool {
	c.rule, c.limit = ru, &ru.base
	if s.Principal.Token != nil {
		for i := range ru.tiers {
			if t := &ru.tiers[i]; claimHas(s.Principal.Token, t.claim, t.value) {
				c.limit = &t.limit
				break
			}
		}
	}
	h := &k.hash
	if !keyParts(h, s, in, ru, ru.key, 'k') && !keyParts(h, s, in, ru, ru.fallback, 'f') {
		return false
	}
	sl := h.slot(seed, ru.slots)
	start := len(k.text)
	k.text = appendSlotName(k.text, ru.prefix, sl.index)
	c.name, c.fp = k.textFrom(start), sl.fingerprint
	return true
}

// keyParts hashes a key's parts into h; false when one is missing.
func keyParts(h *keyHash, s *stage.Stream, in *stage.Input, ru *rule, parts []part, tag byte) bool {
	h.reset(ru.prefix)
	h.part(tag, "")
	for _, p := range parts {
		if !appendPart(h, s, in, p, ru.hops) {
			clear(h.b) // the parts before a missing one (API keys) do not outlive the request
			return false
		}
	}
	return true
}

func appendPart(h *keyHash, s *stage.Stream, in *stage.Input, p part, hops int) bool {
	kind := byte(p.kind)
	switch p.kind {
	case partPeer, partForwarded:
		addr, ok := clientAddress(in, p.kind, hops)
		if ok {
			h.bytes(kind, addr[:])
		}
		return ok
	case partClaim:
		if s.Principal.Token == nil {
			return false
		}
		v := claimValue(s.Principal.Token, p.claim)
		h.part(kind, v)
		return v != ""
	case partHeader:
		all, err := in.All()
		found := false
		// By index: in wasm, copying a header pair is a call.
		for i := range all {
			kv := &all[i]
			if err == nil && kv[0] == p.name && kv[1] != "" {
				h.part(kind, kv[1])
				found = true
			}
		}
		return found
	case partRoute:
		h.part(kind, s.Route)
		return s.Route != ""
	case partPeerIdentity:
		h.part(kind, s.Peer.String())
		return !s.Peer.IsZero()
	}
	return false
}

// clientAddress is a peer or x_forwarded_for part's address: the peer's,
// or the x-forwarded-for entry hops from the right (the peer's when hops is
// 0).
func clientAddress(in *stage.Input, kind partKind, hops int) ([17]byte, bool) {
	if kind == partPeer || hops == 0 {
		return peer(in)
	}
	return forwardedClient(headerValues(in, "x-forwarded-for"), hops)
}

func peer(in *stage.Input) ([17]byte, bool) {
	addr, err := in.Worker().Host.Property(sourceAddress...)
	if err != nil {
		return [17]byte{}, false
	}
	// The address is read in place: peerKey keeps nothing of it.
	return peerKey(unsafe.String(unsafe.SliceData(addr), len(addr)))
}

// sourceAddress is the peer address's property path, made once: a
// variadic call through an interface allocates its arguments each time.
var sourceAddress = []string{"source", "address"}

// headerValues are every field line of a header; nil when the host cannot
// read the headers (the part is then missing).
func headerValues(in *stage.Input, name string) []string {
	all, err := in.All()
	if err != nil {
		return nil
	}
	var out []string
	// By index: in wasm, copying a header pair is a call.
	for i := range all {
		kv := &all[i]
		if kv[0] == name && kv[1] != "" {
			out = append(out, kv[1])
		}
	}
	return out
}

// load reads the slot and decides on it; false when the host fails.
func (c *check) load(h stage.Host, now int64) bool {
	v, cas, err := h.SharedData(c.name)
	var tat int64
	switch {
	case err == nil:
		fp, stored, ok := decodeSlot(v)
		c.cas, c.writeFP = cas, c.fp
		switch {
		case !ok || fp != c.fp && stored <= now:
			// Corrupt, or another key's idle state: taken over fresh.
		case fp == c.fp:
			tat = stored
		default:
			// Another key's busy state: shared, the occupant's kept.
			tat, c.writeFP = stored, fp
		}
	case errors.Is(err, stage.ErrNotFound):
		c.cas, c.writeFP = 0, c.fp
	default:
		return false
	}
	c.d = c.limit.gcra.Decide(tat, now)
	return true
}

// refund gives back the units committed checks counted, when no one wrote
// their slots since (what they hold is still exactly what was written).
func refund(h stage.Host, committed []check) {
	for i := range committed {
		c := &committed[i]
		if !c.wrote {
			continue
		}
		v, cas, err := h.SharedData(c.name)
		if err != nil || !bytes.Equal(v, c.written[:]) {
			continue
		}
		fp, tat, _ := decodeSlot(v)
		back := encodeSlot(fp, c.limit.gcra.Refund(tat))
		_ = h.SetSharedData(c.name, back[:], cas)
	}
}

// appendHeaders adds the rate-limit headers of items, their values
// written in k's text; wait, on a refusal, is the effective window of the
// refusing rules.
func (st *Stage) appendHeaders(k *kept, out [][2]string, items []item, wait time.Duration) [][2]string {
	if st.headers == headersNone || len(items) == 0 {
		return out
	}
	// One rule, the usual case, has its policy field made at compile time.
	policy := items[0].policy
	if len(items) > 1 {
		start := len(k.text)
		for i := range items {
			if i > 0 {
				k.text = append(k.text, ", "...)
			}
			k.text = append(k.text, items[i].policy...)
		}
		policy = k.textFrom(start)
	}
	start := len(k.text)
	least := 0
	for i := range items {
		// By pointer: in wasm, copying an item is a call.
		it := &items[i]
		if i > 0 {
			k.text = append(k.text, ", "...)
		}
		// A rule's name is a-z0-9_-: quoting it is adding the quotes.
		k.text = append(append(append(k.text, '"'), it.name...), '"')
		k.text = append(k.text, ";r="...)
		k.text = strconv.AppendInt(k.text, it.remaining, 10)
		k.text = append(k.text, ";t="...)
		k.text = strconv.AppendInt(k.text, ceilSeconds(max(it.reset, wait)), 10)
		if it.remaining < items[least].remaining {
			least = i
		}
	}
	out = append(out, [2]string{"ratelimit-policy", policy}, [2]string{"ratelimit", k.textFrom(start)})
	if st.headers == headersDraftAndX {
		it := &items[least]
		out = append(out,
			[2]string{"x-ratelimit-limit", k.formatInt(it.rate)},
			[2]string{"x-ratelimit-remaining", k.formatInt(it.remaining)},
			[2]string{"x-ratelimit-reset", k.formatInt(ceilSeconds(max(it.reset, wait)))})
	}
	return out
}

// ceilSeconds is d in whole seconds, rounded up, at least 1 when d > 0.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
