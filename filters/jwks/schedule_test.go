package jwks

import (
	"testing"
	"time"
)

var t0 = time.Unix(1_800_000_000, 0)

func policy() Policy {
	return Policy{Refresh: 5 * time.Minute, MinBackoff: time.Second, MaxBackoff: 8 * time.Second, EarlyCooldown: time.Minute}
}

func TestScheduleRefreshesAndBacksOff(t *testing.T) {
	s := NewSchedule(policy())
	if !s.Due(t0) {
		t.Fatal("a new schedule is due at once")
	}
	s.Started()
	if s.Due(t0) {
		t.Fatal("due while a fetch is in flight")
	}
	var delays []time.Duration
	now := t0
	for i := 0; i < 5; i++ {
		s.Failed(now)
		d := s.next.Sub(now)
		delays = append(delays, d)
		now = now.Add(d)
		if !s.Due(now) {
			t.Fatalf("not due after its backoff %v", d)
		}
		s.Started()
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Errorf("backoff %d = %v, want %v", i, delays[i], want[i])
		}
	}
	s.Succeeded(now)
	if s.Due(now.Add(5*time.Minute-time.Nanosecond)) || !s.Due(now.Add(5*time.Minute)) {
		t.Error("the next fetch must be exactly one refresh interval after a success")
	}
	s.Started()
	s.Failed(now)
	if s.next.Sub(now) != time.Second {
		t.Error("a success must reset the backoff")
	}
}

func TestEarlyRefreshHasACooldown(t *testing.T) {
	s := NewSchedule(policy())
	s.Started()
	s.Succeeded(t0)
	if !s.RequestEarly(t0.Add(time.Second)) || !s.Due(t0.Add(time.Second)) {
		t.Fatal("an unknown kid must make a fetch due")
	}
	s.Started()
	s.Succeeded(t0.Add(2 * time.Second))
	if s.RequestEarly(t0.Add(30*time.Second)) || s.Due(t0.Add(30*time.Second)) {
		t.Fatal("a second early refresh within the cooldown")
	}
	if !s.RequestEarly(t0.Add(62 * time.Second)) {
		t.Fatal("the cooldown passed")
	}
}

func TestAdoptingAnotherWorkersFetch(t *testing.T) {
	s := NewSchedule(policy())
	s.Adopted(t0)
	if s.Due(t0.Add(time.Minute)) || !s.Due(t0.Add(5*time.Minute)) {
		t.Error("an adopted key set is fresh for one refresh interval from its fetch")
	}
}

func TestLeaseAndDocumentEncodings(t *testing.T) {
	l := Lease{Holder: 42, Until: t0.Add(time.Second)}
	got := DecodeLease(l.Encode())
	if got.Holder != 42 || !got.Until.Equal(l.Until) {
		t.Errorf("lease round trip: %+v", got)
	}
	if !got.Held(7, t0) || got.Held(42, t0) || got.Held(7, t0.Add(time.Second)) {
		t.Error("Held")
	}
	if DecodeLease([]byte("short")).Held(7, t0) {
		t.Error("a malformed lease must count as free")
	}
	d, ok := DecodeDocument(Document{FetchedAt: t0, JWKS: []byte(`{"keys":[]}`)}.Encode())
	if !ok || !d.FetchedAt.Equal(t0) || string(d.JWKS) != `{"keys":[]}` {
		t.Errorf("document round trip: %+v", d)
	}
}
