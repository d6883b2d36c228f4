// Package jwks decides when a remote JWKS is fetched: at start, every refresh
// interval, early (at most once per cooldown) when a token names an unknown
// kid, and after failures with exponential backoff, keeping the last good key
// set throughout. It also holds the lease record that lets one worker fetch
// for all. Pure decisions on plain inputs; the plugin does the I/O.
package jwks

import (
	"encoding/binary"
	"time"
)

// Policy configures a Schedule.
type Policy struct {
	// Refresh is the interval between successful fetches.
	Refresh time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a failure.
	MinBackoff, MaxBackoff time.Duration
	// EarlyCooldown is the least time between two early refreshes triggered
	// by unknown kids, so a stream of forged kids cannot hammer the IdP.
	EarlyCooldown time.Duration
}

// Schedule is one worker's view of one provider's fetches. Not safe for
// concurrent use (a proxy-wasm VM is single-threaded).
type Schedule struct {
	policy    Policy
	next      time.Time // zero: due now
	backoff   time.Duration
	lastEarly time.Time
	inFlight  bool
}

// NewSchedule starts due immediately.
func NewSchedule(p Policy) *Schedule { return &Schedule{policy: p} }

// Due reports whether a fetch should start now.
func (s *Schedule) Due(now time.Time) bool { return !s.inFlight && !now.Before(s.next) }

// Started records that this worker began a fetch.
func (s *Schedule) Started() { s.inFlight = true }

// InFlight reports whether this worker is fetching.
func (s *Schedule) InFlight() bool { return s.inFlight }

// Succeeded records a good key set: the next fetch is a refresh away.
func (s *Schedule) Succeeded(now time.Time) {
	s.inFlight, s.backoff, s.next = false, 0, now.Add(s.policy.Refresh)
}

// Failed records a failed fetch: retry after a doubling backoff.
func (s *Schedule) Failed(now time.Time) {
	s.inFlight = false
	s.backoff = min(max(2*s.backoff, s.policy.MinBackoff), s.policy.MaxBackoff)
	s.next = now.Add(s.backoff)
}

// Deferred records that another worker holds the lease: look again soon.
func (s *Schedule) Deferred(now time.Time) { s.next = now.Add(s.policy.MinBackoff) }

// Adopted records a key set another worker fetched.
func (s *Schedule) Adopted(fetchedAt time.Time) {
	if next := fetchedAt.Add(s.policy.Refresh); next.After(s.next) {
		s.next, s.backoff = next, 0
	}
}

// RequestEarly asks for a fetch now because a token named an unknown kid. It
// returns false when the cooldown since the last early refresh has not passed.
func (s *Schedule) RequestEarly(now time.Time) bool {
	if !s.lastEarly.IsZero() && now.Sub(s.lastEarly) < s.policy.EarlyCooldown {
		return false
	}
	s.lastEarly = now
	if !s.inFlight {
		s.next = now
	}
	return true
}

// Lease is the shared-data record of which worker is fetching, until when.
type Lease struct {
	Holder uint64
	Until  time.Time
}

// Encode is the lease's shared-data value.
func (l Lease) Encode() []byte {
	b := binary.LittleEndian.AppendUint64(nil, l.Holder)
	return binary.LittleEndian.AppendUint64(b, uint64(l.Until.UnixNano()))
}

// DecodeLease reads a lease; a malformed one counts as expired.
func DecodeLease(b []byte) Lease {
	if len(b) != 16 {
		return Lease{}
	}
	return Lease{Holder: binary.LittleEndian.Uint64(b), Until: time.Unix(0, int64(binary.LittleEndian.Uint64(b[8:])))}
}

// Held reports whether someone other than me holds the lease at now.
func (l Lease) Held(me uint64, now time.Time) bool { return l.Holder != me && now.Before(l.Until) }

// Document is a published key set: when it was fetched, and the JWKS bytes.
type Document struct {
	FetchedAt time.Time
	JWKS      []byte
}

// Encode is the document's shared-data value.
func (d Document) Encode() []byte {
	return append(binary.LittleEndian.AppendUint64(nil, uint64(d.FetchedAt.UnixNano())), d.JWKS...)
}

// DecodeDocument reads a published document.
func DecodeDocument(b []byte) (Document, bool) {
	if len(b) < 8 {
		return Document{}, false
	}
	return Document{FetchedAt: time.Unix(0, int64(binary.LittleEndian.Uint64(b))), JWKS: b[8:]}, true
}
