package jwks

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestWaitersTake(t *testing.T) {
	var w Waiters[int]
	w.Add(1, 1, t0.Add(time.Second))
	w.Add(2, 2, t0.Add(time.Second))
	w.Add(3, 2, t0.Add(5*time.Second))
	w.Add(4, 3, t0.Add(5*time.Second))
	// 1's fetch is over, 2's deadline passed; 3 and 4 wait on.
	ready := w.Take(t0.Add(2*time.Second), 1)
	slices.Sort(ready)
	if !slices.Equal(ready, []int{1, 2}) || w.Len() != 2 {
		t.Fatalf("taken %v, left %d: want [1 2], 2", ready, w.Len())
	}
	ready = w.Take(t0.Add(2*time.Second), 3)
	slices.Sort(ready)
	if !slices.Equal(ready, []int{3, 4}) || w.Len() != 0 {
		t.Fatalf("ready %v left %d: want [3 4] 0", ready, w.Len())
	}
}

func TestWaitersRemove(t *testing.T) {
	var w Waiters[int]
	for i := 0; i < 5; i++ {
		w.Add(i, 1, t0)
	}
	w.Add(2, 1, t0) // a stream waits once
	if w.Len() != 5 {
		t.Fatalf("Len %d after adding 5 streams (one twice)", w.Len())
	}
	for _, i := range []int{0, 4, 2} {
		if !w.Remove(i) {
			t.Fatalf("stream %d was waiting", i)
		}
	}
	if w.Remove(2) || w.Len() != 2 {
		t.Fatal("a removed stream is gone")
	}
	ready := w.Take(t0.Add(-time.Second), 1)
	slices.Sort(ready)
	if !slices.Equal(ready, []int{1, 3}) {
		t.Errorf("left %v, want [1 3]", ready)
	}
}

// BenchmarkCancelledWaiters: each of n streams waits and then gives up, in
// arrival order (what a burst of clients that time out does). O(1) removal
// keeps the cost per stream flat as n grows.
func BenchmarkCancelledWaiters(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				var w Waiters[int]
				for i := 0; i < n; i++ {
					w.Add(i, 1, t0)
				}
				for i := 0; i < n; i++ {
					w.Remove(i)
				}
			}
		})
	}
}
