package stage

import "testing"

type spareA struct{ n int }
type spareB struct{}

// TestSpare: what stages kept in a stream comes back once, by type, after
// the stream ended; no more than maxSpare values are held, and none past the
// next stream's end.
func TestSpare(t *testing.T) {
	var s Stream
	st1, st2 := &struct{ Stage }{}, &struct{ Stage }{}
	if _, ok := Spare[*spareA](&s); ok {
		t.Fatal("a spare before any stream ended")
	}
	a := &spareA{n: 1}
	s.Keep(st1, a)
	s.Keep(st2, &spareB{})
	if _, ok := Spare[*spareA](&s); ok {
		t.Fatal("a spare taken from the running stream")
	}
	s.Reset()
	if s.Kept(st1) != nil {
		t.Fatal("kept after the stream ended")
	}
	if got, ok := Spare[*spareA](&s); !ok || got != a {
		t.Fatalf("Spare = %v, %v; want the kept value", got, ok)
	}
	if _, ok := Spare[*spareA](&s); ok {
		t.Fatal("a spare given twice")
	}
	if _, ok := Spare[*spareB](&s); !ok {
		t.Fatal("the other stage's value is gone")
	}
	for i := 0; i < 3*maxSpare; i++ {
		s.Keep(&struct{ Stage }{}, &spareB{})
	}
	s.Reset()
	if len(s.spare) != maxSpare {
		t.Fatalf("%d spares held, want %d", len(s.spare), maxSpare)
	}
	// Values no stage took back give way to the next stream's.
	b := &spareA{n: 2}
	s.Keep(st1, b)
	s.Reset()
	if got, ok := Spare[*spareA](&s); !ok || got != b {
		t.Fatalf("Spare = %v, %v after a stream whose spares no one took; want the last stream's value", got, ok)
	}
	if _, ok := Spare[*spareB](&s); ok {
		t.Fatal("a value from two streams ago is still held")
	}
}
