package jwks

import (
	"testing"
	"time"
)

var t0 = time.Unix(1_800_000_000, 0)

func policy() Policy {
	return Policy{
		Refresh: 5 * time.Minute, MinBackoff: time.Second, MaxBackoff: 8 * time.Second,
		EarlyCooldown: time.Minute, Lease: 6 * time.Second, MaxStale: 24 * time.Hour,
	}
}

func TestRefreshAndBackoff(t *testing.T) {
	p := policy()
	var s State
	if !s.Due(t0) {
		t.Fatal("nothing fetched yet: a fetch is due at once")
	}
	now := t0
	var delays []time.Duration
	for i := 0; i < 5; i++ {
		s = s.Begin(7, now, p)
		if s.Due(now) || !s.InFlight(now) {
			t.Fatal("due again while a fetch is in flight")
		}
		s = s.End(now, false, p)
		delays = append(delays, s.Next.Sub(now))
		now = s.Next
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Errorf("retry %d after %v, want %v", i, delays[i], want[i])
		}
	}
	s = s.Begin(7, now, p).End(now, true, p)
	if s.Due(now.Add(p.Refresh-time.Nanosecond)) || !s.Due(now.Add(p.Refresh)) {
		t.Error("the next fetch is exactly one refresh interval after a success")
	}
	if s = s.Begin(7, now, p).End(now, false, p); s.Next.Sub(now) != time.Second {
		t.Error("a success resets the backoff")
	}
	if s.Started != 7 {
		t.Errorf("Started = %d after 7 fetches", s.Started)
	}
}

// TestALostAnswerDoesNotStopFetching: a fetch whose answer never comes is
// over when its lease ends; the next one may start, and the late answer no
// longer owns the state.
func TestALostAnswerDoesNotStopFetching(t *testing.T) {
	p := policy()
	s := State{}.Begin(7, t0, p)
	if s.Finished(t0) != 0 || s.Due(t0.Add(p.Lease-time.Nanosecond)) {
		t.Fatal("fetch 1 is in flight for its lease")
	}
	later := t0.Add(p.Lease)
	if !s.Due(later) || s.Finished(later) != 1 {
		t.Fatal("past its lease a fetch is over and the next is due")
	}
	s = s.Begin(9, later, p)
	if s.Holds(7, 1) || !s.Holds(9, 2) {
		t.Error("the late answer to fetch 1 must not own the state")
	}
}

func TestPlan(t *testing.T) {
	p := policy()
	failed := State{}.Begin(7, t0, p).End(t0, false, p) // retry at t0+1s
	fresh := State{}.Begin(7, t0, p).End(t0, true, p)   // refresh at t0+5m
	tests := []struct {
		name       string
		state      State
		at         time.Duration
		unknownKid bool
		installed  time.Time
		want       Plan
	}{
		{name: "first fetch not started: start it and wait", at: 0,
			want: Plan{Wait: true, Attempt: 1, Tick: true}},
		{name: "a fetch in flight: wait for it", state: State{}.Begin(9, t0, p), at: time.Second,
			want: Plan{Wait: true, Attempt: 1}},
		{name: "no keys and the retry is a backoff away: answer now", state: failed, at: 500 * time.Millisecond},
		{name: "no keys and the retry is due: start it and wait", state: failed, at: time.Second,
			want: Plan{Wait: true, Attempt: 2, Tick: true}},
		{name: "unknown kid: claim an early refresh", state: fresh, at: time.Second, unknownKid: true,
			want: Plan{Wait: true, Attempt: 2, Tick: true, Claimed: true}},
		{name: "unknown kid while a fetch is in flight: wait for it", state: fresh.Begin(9, t0, p), at: time.Second,
			unknownKid: true, want: Plan{Wait: true, Attempt: 2}},
		{name: "unknown kid within the cooldown: answer now", state: State{LastEarly: t0, Next: t0.Add(time.Hour)},
			at: 59 * time.Second, unknownKid: true},
		{name: "another worker published a newer set: install it and answer", state: State{Started: 3, Published: t0, Next: t0.Add(time.Hour)},
			at: time.Second, unknownKid: true, installed: t0.Add(-time.Minute), want: Plan{Wait: true, Attempt: 3, Tick: true}},
		{name: "a newer set too old to use is not worth a tick", state: State{Started: 3, Published: t0.Add(-25 * time.Hour), Next: t0.Add(time.Hour)},
			at: time.Second, installed: t0.Add(-26 * time.Hour)},
		{name: "unknown kid after the cooldown", state: State{LastEarly: t0, Next: t0.Add(time.Hour)},
			at: time.Minute, unknownKid: true, want: Plan{Wait: true, Attempt: 1, Tick: true, Claimed: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.at)
			s, got := tc.state.Plan(now, tc.unknownKid, tc.installed, p)
			if got != tc.want {
				t.Fatalf("plan %+v, want %+v", got, tc.want)
			}
			if got.Claimed != (s != tc.state) {
				t.Errorf("the state changed (%v) but Claimed is %v", s != tc.state, got.Claimed)
			}
			if got.Claimed && (!s.Due(now) || !s.LastEarly.Equal(now)) {
				t.Errorf("a claimed early refresh is due now and starts the cooldown: %+v", s)
			}
			if got.Wait && got.Attempt > s.Started+1 {
				t.Errorf("waits for fetch %d, beyond the next one (%d)", got.Attempt, s.Started+1)
			}
		})
	}
}

func TestOneEarlyRefreshPerCooldownForAllWorkers(t *testing.T) {
	p := policy()
	shared := State{}.Begin(1, t0, p).End(t0, true, p)
	// Four workers see unknown kids one after the other; the first claims.
	claims := 0
	for w := 0; w < 4; w++ {
		next, plan := shared.Plan(t0.Add(time.Second), true, shared.Published, p)
		if plan.Claimed {
			claims++
			shared = next
		}
		if !plan.Wait || plan.Attempt != 2 {
			t.Errorf("worker %d: %+v, want to wait for fetch 2", w, plan)
		}
	}
	if claims != 1 {
		t.Errorf("%d early refreshes claimed, want 1", claims)
	}
}

func TestStateEncoding(t *testing.T) {
	p := policy()
	s := State{}.Begin(42, t0, p).End(t0, false, p).Begin(43, t0.Add(time.Second), p)
	s.LastEarly, s.Published = t0.Add(-time.Minute), t0
	if got := DecodeState(s.Encode()); got != s {
		t.Errorf("round trip: %+v, want %+v", got, s)
	}
	if got := DecodeState(State{}.Encode()); got != (State{}) {
		t.Errorf("zero state round trip: %+v", got)
	}
	if got := DecodeState([]byte("short")); got != (State{}) || !got.Due(t0) {
		t.Error("a malformed state reads as nothing fetched: due")
	}
	d, ok := DecodeDocument(Document{FetchedAt: t0, JWKS: []byte(`{"keys":[]}`)}.Encode())
	if !ok || !d.FetchedAt.Equal(t0) || string(d.JWKS) != `{"keys":[]}` {
		t.Errorf("document round trip: %+v", d)
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add(State{}.Begin(1, t0, policy()).Encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := DecodeState(b)
		if len(b) == stateSize && DecodeState(s.Encode()) != s {
			t.Fatalf("%+v does not round-trip", s)
		}
	})
}
