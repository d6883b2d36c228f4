// Package ratelimit is apiguard's local rate limiter: rules that key a
// request by its peer address, a trusted x-forwarded-for hop, a verified
// claim, a hashed header or its route (or a combination), each limited by
// GCRA with one theoretical arrival time (TAT) per key, kept in the
// proxy's shared data so that every worker enforces one exact limit.
//
// The algorithm (GCRA) is pure and takes the time as an argument; the slot
// table (table.go) bounds the memory a rule may use; the stage (stage.go)
// reads and writes shared data with compare-and-swap.
package ratelimit

import (
	"errors"
	"math"
	"time"
)

// GCRA is the generic cell rate algorithm (ITU-T I.371, virtual
// scheduling) of one limit: Rate requests per period, and Burst more at
// once. A key's whole state is its TAT, in nanoseconds since the epoch; a
// key never seen has the state of one idle for long (any TAT at or before
// now).
//
// A request at now is admitted when TAT - Tolerance <= now, and then
// TAT = max(TAT, now) + Interval. So Burst+1 requests pass at once, then one
// per Interval; over any window of one period a key gets at most
// Rate + Burst.
type GCRA struct {
	// Interval is the period divided by the rate, in nanoseconds, rounded
	// up: a rate that does not divide the period is enforced a little
	// below, never above.
	Interval int64
	// Tolerance is Burst × Interval.
	Tolerance int64
}

// MaxTolerance bounds (Burst+1) × Interval, about 146 years, so that now
// plus it never overflows an int64 nanosecond time before the year 2262.
const MaxTolerance = int64(1) << 62

// NewGCRA returns the limit of rate requests per period with burst more at
// once. rate must be at least 1 and at most one per nanosecond; (burst+1) ×
// period / rate at most MaxTolerance.
func NewGCRA(rate int64, period time.Duration, burst int64) (GCRA, error) {
	if rate < 1 || period < 1 || burst < 0 {
		return GCRA{}, errors.New("rate and period must be positive, burst not negative")
	}
	if int64(period)/rate < 1 {
		return GCRA{}, errors.New("more than one request per nanosecond")
	}
	interval := (int64(period) + rate - 1) / rate
	if burst >= MaxTolerance/interval-1 {
		return GCRA{}, errors.New("burst × period / rate is over 146 years")
	}
	return GCRA{Interval: interval, Tolerance: burst * interval}, nil
}

// Decision is what GCRA decided for one request.
type Decision struct {
	Allowed bool
	// TAT is the key's state after the request: the new one when allowed,
	// the old one (clamped, see Decide) when not.
	TAT int64
	// Remaining is how many more requests would pass now.
	Remaining int64
	// RetryAfter, when refused, is how long until one request passes.
	RetryAfter time.Duration
	// Reset is how long until the key is idle again (its whole burst back).
	Reset time.Duration
}

// Decide decides a request at now for a key whose TAT is tat.
//
// Clock safety: a TAT later than now + Tolerance + Interval cannot follow
// from any admission at or before now, so the clock stepped back. It is
// clamped to now + Tolerance, as if the key had spent its whole burst one
// Interval ago: one request passes, then one per Interval; a client is
// never locked out for the size of the step, and gains at most that one
// request. (Clamping any higher would refuse forever: a refusal writes
// nothing, so the clamp would move with the clock.) A clock jumping
// forward makes the key idle: it gets its burst, never more.
// All sums saturate: no rate, period or time overflows.
func (g GCRA) Decide(tat, now int64) Decision {
	if add(now, g.Tolerance+g.Interval) < tat {
		tat = add(now, g.Tolerance)
	}
	base := max(tat, now)
	if base-g.Tolerance > now {
		return Decision{TAT: tat, RetryAfter: time.Duration(base - g.Tolerance - now), Reset: time.Duration(base - now)}
	}
	next := add(base, g.Interval)
	return Decision{Allowed: true, TAT: next, Remaining: g.remaining(next, now), Reset: time.Duration(next - now)}
}

// remaining is how many requests pass at now from state tat.
func (g GCRA) remaining(tat, now int64) int64 {
	slack := add(now, g.Tolerance) - max(tat, now)
	if slack < 0 {
		return 0
	}
	return slack/g.Interval + 1
}

// Refund is the state tat had without one admission it counted.
func (g GCRA) Refund(tat int64) int64 { return tat - g.Interval }

func add(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
