// Package jwks decides when a remote JWKS is fetched and which streams wait
// for it. Every worker of a proxy shares one State per JWKS location (the
// plugin keeps it in shared data and changes it only by compare-and-swap), so
// the scheduled refresh, the early refresh for an unknown kid and the retries
// after a failure are each one fetch, whatever the number of workers. Pure
// decisions on plain inputs; the plugin does the I/O.
package jwks

import (
	"encoding/binary"
	"time"
)

// Policy configures when a provider's JWKS is fetched.
type Policy struct {
	// Refresh is the interval between successful fetches.
	Refresh time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a failure; it
	// doubles from one to the other.
	MinBackoff, MaxBackoff time.Duration
	// EarlyCooldown is the least time between two early refreshes triggered
	// by unknown kids, so a stream of forged kids cannot hammer the IdP.
	EarlyCooldown time.Duration
	// Lease bounds one fetch (its timeout plus a margin): a fetch whose
	// answer has not arrived by then counts as over, so a lost callback can
	// neither stop refreshes nor keep streams waiting.
	Lease time.Duration
	// MaxStale is how long the last good keys are used while every refresh
	// fails; past it the provider has no keys and fails closed.
	MaxStale time.Duration
}

// State is one JWKS location's fetch state, shared by every worker. The zero
// value (nothing fetched yet) is due at once.
type State struct {
	// Holder is the worker fetching now (0: none), until Until.
	Holder uint64
	Until  time.Time
	// Started counts fetches ever started: fetch n is the n-th.
	Started uint64
	// Next is when the next fetch is due; Backoff is the last retry delay.
	Next    time.Time
	Backoff time.Duration
	// LastEarly is when the last early refresh was claimed.
	LastEarly time.Time
	// Published is when the key set in shared data was fetched (zero: none).
	Published time.Time
}

// InFlight reports whether some worker is fetching at now.
func (s State) InFlight(now time.Time) bool { return s.Holder != 0 && now.Before(s.Until) }

// Due reports whether a fetch should start at now.
func (s State) Due(now time.Time) bool { return !s.InFlight(now) && !now.Before(s.Next) }

// Finished is the number of the last fetch that is over (answered, failed or
// past its lease): a stream waiting for fetch n is settled once n <= Finished.
func (s State) Finished(now time.Time) uint64 {
	if s.InFlight(now) {
		return s.Started - 1
	}
	return s.Started
}

// Begin is the state once worker me starts fetch s.Started+1 at now.
func (s State) Begin(me uint64, now time.Time, p Policy) State {
	s.Holder, s.Until, s.Started = me, now.Add(p.Lease), s.Started+1
	return s
}

// Holds reports whether worker me still runs fetch n: a late answer to a
// fetch whose lease ran out and that another worker replaced must not change
// the state.
func (s State) Holds(me, n uint64) bool { return s.Holder == me && s.Started == n }

// End is the state once the running fetch ended at now. keys says whether it
// left the provider with usable keys: then the next fetch is a refresh away;
// otherwise it is retried after a doubling backoff.
func (s State) End(now time.Time, keys bool, p Policy) State {
	s.Holder, s.Until = 0, time.Time{}
	if keys {
		s.Backoff, s.Next = 0, now.Add(p.Refresh)
	} else {
		s.Backoff = min(max(2*s.Backoff, p.MinBackoff), p.MaxBackoff)
		s.Next = now.Add(s.Backoff)
	}
	return s
}

// Stale reports whether keys fetched at fetchedAt are too old to use at now.
func (p Policy) Stale(fetchedAt, now time.Time) bool { return now.Sub(fetchedAt) > p.MaxStale }

// Plan is what a stream whose token could not be checked for lack of keys
// does.
type Plan struct {
	// Wait: the stream waits for fetch Attempt; otherwise it is answered now.
	Wait    bool
	Attempt uint64
	// Tick: run this worker's tick now rather than at the next period: it
	// starts fetch Attempt, which is due, or installs a newer key set that
	// another worker published.
	Tick bool
	// Claimed: the plan claimed the early refresh; the new State must be
	// stored (by compare-and-swap) before the plan holds.
	Claimed bool
}

// Plan decides for a stream at now. unknownKid is true when the provider has
// keys but none with the token's kid (an early refresh may help), false when
// it has none; installed is when the worker's key set was fetched. A key set
// another worker published since is installed first. Otherwise only a fetch
// in flight or due now is worth waiting for: when the last one failed and the
// retry is a backoff away, the stream is answered at once.
func (s State) Plan(now time.Time, unknownKid bool, installed time.Time, p Policy) (State, Plan) {
	switch {
	case s.Published.After(installed) && !p.Stale(s.Published, now):
		return s, Plan{Wait: true, Attempt: s.Finished(now), Tick: true}
	case s.InFlight(now):
		return s, Plan{Wait: true, Attempt: s.Started}
	case s.Due(now):
		return s, Plan{Wait: true, Attempt: s.Started + 1, Tick: true}
	case unknownKid && (s.LastEarly.IsZero() || now.Sub(s.LastEarly) >= p.EarlyCooldown):
		s.LastEarly, s.Next = now, now
		return s, Plan{Wait: true, Attempt: s.Started + 1, Tick: true, Claimed: true}
	}
	return s, Plan{}
}

// stateSize is the encoded size: seven 8-byte fields.
const stateSize = 7 * 8

// Encode is the state's shared-data value.
func (s State) Encode() []byte {
	b := make([]byte, 0, stateSize)
	for _, v := range [...]uint64{s.Holder, unixNano(s.Until), s.Started, unixNano(s.Next),
		uint64(s.Backoff), unixNano(s.LastEarly), unixNano(s.Published)} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// DecodeState reads a state; anything malformed reads as the zero State (a
// fetch is due), which errs towards fetching, never towards waiting forever.
func DecodeState(b []byte) State {
	if len(b) != stateSize {
		return State{}
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
	return State{
		Holder: u(0), Until: fromUnixNano(u(1)), Started: u(2), Next: fromUnixNano(u(3)),
		Backoff: time.Duration(u(4)), LastEarly: fromUnixNano(u(5)), Published: fromUnixNano(u(6)),
	}
}

func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.UnixNano())
}

func fromUnixNano(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v))
}

// Document is a published key set: when it was fetched, and the JWKS bytes.
type Document struct {
	FetchedAt time.Time
	JWKS      []byte
}

// Encode is the document's shared-data value.
func (d Document) Encode() []byte {
	return append(binary.LittleEndian.AppendUint64(nil, unixNano(d.FetchedAt)), d.JWKS...)
}

// DecodeDocument reads a published document.
func DecodeDocument(b []byte) (Document, bool) {
	if len(b) < 8 {
		return Document{}, false
	}
	return Document{FetchedAt: fromUnixNano(binary.LittleEndian.Uint64(b)), JWKS: b[8:]}, true
}
