package ratelimit

import (
	"math"
	"testing"
	"time"
)

// fakeClock is an injected clock in nanoseconds.
type fakeClock struct{ now int64 }

func (c *fakeClock) advance(d time.Duration) { c.now += int64(d) }

// bucket is one key's state driven through GCRA, as the stage keeps it.
type bucket struct {
	g   GCRA
	tat int64
}

func (b *bucket) take(now int64) Decision {
	d := b.g.Decide(b.tat, now)
	if d.Allowed {
		b.tat = d.TAT
	}
	return d
}

func mustGCRA(t *testing.T, rate int64, period time.Duration, burst int64) GCRA {
	t.Helper()
	g, err := NewGCRA(rate, period, burst)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGCRAVectors: 5 per second with a burst of 4, step by step.
func TestGCRAVectors(t *testing.T) {
	start := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC).UnixNano()
	type step struct {
		after         time.Duration // clock moves by this before the request
		allowed       bool
		remaining     int64
		retryAfterSec int64 // Retry-After as sent, on a refusal
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "the sixth immediate request is limited, retry after 1 s", steps: []step{
			{allowed: true, remaining: 4}, {allowed: true, remaining: 3}, {allowed: true, remaining: 2},
			{allowed: true, remaining: 1}, {allowed: true, remaining: 0}, {allowed: false, retryAfterSec: 1},
		}},
		{name: "refill exactly at the boundary", steps: []step{
			{allowed: true, remaining: 4}, {allowed: true, remaining: 3}, {allowed: true, remaining: 2},
			{allowed: true, remaining: 1}, {allowed: true, remaining: 0},
			{after: 200*time.Millisecond - 1, allowed: false, retryAfterSec: 1},
			{after: 1, allowed: true, remaining: 0},
			{allowed: false, retryAfterSec: 1},
		}},
		{name: "an idle key gets its burst back, not more", steps: []step{
			{allowed: true, remaining: 4}, {after: time.Hour, allowed: true, remaining: 4},
		}},
		{name: "a steady client at the rate is never limited", steps: []step{
			{allowed: true, remaining: 4}, {after: 200 * time.Millisecond, allowed: true, remaining: 4},
			{after: 200 * time.Millisecond, allowed: true, remaining: 4},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &bucket{g: mustGCRA(t, 5, time.Second, 4)}
			clock := &fakeClock{now: start}
			for i, s := range tc.steps {
				clock.advance(s.after)
				d := b.take(clock.now)
				if d.Allowed != s.allowed || d.Remaining != s.remaining {
					t.Fatalf("request %d: allowed %v remaining %d, want %v %d", i+1, d.Allowed, d.Remaining, s.allowed, s.remaining)
				}
				if !d.Allowed && ceilSeconds(d.RetryAfter) != s.retryAfterSec {
					t.Fatalf("request %d: retry after %v (%d s), want %d s", i+1, d.RetryAfter, ceilSeconds(d.RetryAfter), s.retryAfterSec)
				}
			}
		})
	}
}

// TestGCRAWindowAdmitsRatePlusBurst: under a continuous flood, one period
// admits exactly rate + burst.
func TestGCRAWindowAdmitsRatePlusBurst(t *testing.T) {
	for _, tc := range []struct {
		name        string
		rate, burst int64
		period      time.Duration
	}{
		{name: "5/s burst 4", rate: 5, burst: 4, period: time.Second},
		{name: "100/min burst 0", rate: 100, burst: 0, period: time.Minute},
		{name: "3/h burst 10", rate: 3, burst: 10, period: time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &bucket{g: mustGCRA(t, tc.rate, tc.period, tc.burst)}
			admitted := int64(0)
			step := tc.period / 1000
			for now := int64(0); now < int64(tc.period); now += int64(step) {
				for b.take(now).Allowed {
					admitted++
				}
			}
			if admitted != tc.rate+tc.burst {
				t.Errorf("admitted %d in one period, want %d", admitted, tc.rate+tc.burst)
			}
		})
	}
}

// TestGCRAFairnessBetweenKeys: one key's flood never spends another's
// budget.
func TestGCRAFairnessBetweenKeys(t *testing.T) {
	g := mustGCRA(t, 5, time.Second, 4)
	flooder, quiet := &bucket{g: g}, &bucket{g: g}
	for i := 0; i < 1000; i++ {
		flooder.take(int64(i))
	}
	for i := 0; i < 5; i++ {
		if !quiet.take(1000).Allowed {
			t.Fatalf("quiet key refused at its request %d", i+1)
		}
	}
	if quiet.take(1000).Allowed {
		t.Error("quiet key got more than its burst")
	}
}

// TestGCRAClock: a clock stepping back never locks a client out for longer
// than one interval; a jump forward never grants more than the burst.
func TestGCRAClock(t *testing.T) {
	g := mustGCRA(t, 5, time.Second, 4)
	t.Run("back by a day", func(t *testing.T) {
		b := &bucket{g: g}
		now := int64(1_800_000_000) * 1e9
		for b.take(now).Allowed {
		}
		now -= int64(24 * time.Hour)
		if !b.take(now).Allowed {
			t.Fatal("locked out after the step back")
		}
		d := b.take(now)
		if d.Allowed || d.RetryAfter > 200*time.Millisecond {
			t.Fatalf("second request after the step back: allowed %v, retry after %v; want a wait of at most one interval", d.Allowed, d.RetryAfter)
		}
		if !b.take(now + int64(200*time.Millisecond)).Allowed {
			t.Error("still locked out one interval after the step back")
		}
		if b.take(now + int64(200*time.Millisecond)).Allowed {
			t.Error("the step back granted more than the rate")
		}
	})
	t.Run("forward by a year", func(t *testing.T) {
		b := &bucket{g: g}
		now := int64(1_800_000_000) * 1e9
		for b.take(now).Allowed {
		}
		now += int64(365 * 24 * time.Hour)
		n := 0
		for b.take(now).Allowed {
			n++
		}
		if n != 5 {
			t.Errorf("after the jump: %d admitted at once, want burst+1 = 5", n)
		}
	})
}

// TestGCRAOverflowEdges: the largest rates, periods and bursts, and times
// at the ends of int64, never overflow into an admission.
func TestGCRAOverflowEdges(t *testing.T) {
	if _, err := NewGCRA(2_000_000_000, time.Second, 0); err == nil {
		t.Error("two per nanosecond accepted")
	}
	if _, err := NewGCRA(1, time.Hour, 2_000_000); err == nil {
		t.Error("a burst of 2M per hour (228 years) accepted")
	}
	g := mustGCRA(t, 1, time.Hour, 1_000_000) // 114 years of tolerance
	for _, tc := range []struct {
		name     string
		tat, now int64
		allowed  bool
	}{
		{name: "now near the end of time", tat: 0, now: math.MaxInt64 - 10, allowed: true},
		{name: "a TAT at the end of time is a clock that stepped back", tat: math.MaxInt64, now: 0, allowed: true},
		{name: "a negative clock", tat: 0, now: -5, allowed: true},
		{name: "a TAT far in the past", tat: math.MinInt64, now: 1, allowed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := g.Decide(tc.tat, tc.now)
			if d.Allowed != tc.allowed || d.Remaining < 0 || d.RetryAfter < 0 || d.Reset < 0 {
				t.Errorf("%+v, want allowed %v and no negative durations", d, tc.allowed)
			}
			if d.Allowed && (d.TAT < tc.now || d.TAT-tc.now > g.Tolerance+g.Interval) {
				t.Errorf("new TAT %d out of [now, now+tolerance+interval] at now %d: wrapped", d.TAT, tc.now)
			}
		})
	}
	fast := mustGCRA(t, 1_000_000_000, time.Second, 1_000_000_000)
	if d := fast.Decide(0, 1); !d.Allowed || d.Remaining != 1_000_000_000 {
		t.Errorf("a billion per second: %+v", d)
	}
}
