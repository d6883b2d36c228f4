package rfc3339

import (
	"testing"
	"time"
)

func TestAppendIsRFC3339Nano(t *testing.T) {
	for _, tc := range []time.Time{
		time.Unix(0, 0),
		time.Date(2026, 12, 4, 23, 5, 9, 0, time.UTC),
		time.Date(2026, 12, 4, 23, 5, 9, 120_000_000, time.UTC),
		time.Date(2026, 12, 4, 23, 5, 9, 1, time.UTC),
		time.Date(2026, 12, 4, 23, 5, 9, 999_999_999, time.FixedZone("CET", 3600)),
		time.Date(9, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-44, 3, 15, 12, 0, 0, 0, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 100, time.UTC),
	} {
		if got, want := string(Append(nil, tc)), tc.UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("Append(%v) = %s, want %s", tc, got, want)
		}
	}
}

func FuzzAppendIsRFC3339Nano(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1796425509), int64(120_000_000))
	f.Add(int64(-62135596800), int64(5))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		if got, want := string(Append([]byte("x"), tm)), "x"+tm.UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("Append(%d, %d) = %s, want %s", sec, nsec, got, want)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	tm := time.Date(2026, 12, 4, 23, 5, 9, 120_345_000, time.UTC)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], tm)
	}
}
