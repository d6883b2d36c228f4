package slab

import (
	"slices"
	"testing"
)

func TestSlicesFromOneBlockDoNotOverlap(t *testing.T) {
	var s Slab[int]
	var got [][]int
	for n := range 20 {
		x := s.Make(n)
		if len(x) != n || cap(x) != n {
			t.Fatalf("Make(%d): len %d cap %d", n, len(x), cap(x))
		}
		for i := range x {
			x[i] = n
		}
		got = append(got, x)
	}
	for n, x := range got {
		for _, v := range x {
			if v != n {
				t.Fatalf("Make(%d) was written over: %v", n, x)
			}
		}
	}
	// Appending to a full slice moves it instead of writing into the
	// next one's elements.
	a, b := s.Make(2), s.Make(2)
	b[0] = 7
	a = append(a, 1)
	if b[0] != 7 || len(a) != 3 {
		t.Fatalf("append wrote over the next slice: a %v, b %v", a, b)
	}
}

func TestLongSlicesAndNone(t *testing.T) {
	var s Slab[string]
	if s.Make(0) != nil || s.Clone(nil) != nil {
		t.Fatal("an empty slice must be nil")
	}
	const block = blockBytes / 16
	long := s.Make(block)
	if len(long) != block || s.free != nil {
		t.Fatalf("a long slice must not take a block: len %d, %d left in the block", len(long), len(s.free))
	}
	in := []string{"GET", "HEAD"}
	out := s.Clone(in)
	in[0] = "PUT"
	if !slices.Equal(out, []string{"GET", "HEAD"}) || cap(out) != 2 {
		t.Fatalf("Clone = %v (cap %d)", out, cap(out))
	}
	if p := s.New(); *p != "" {
		t.Fatalf("New = %q", *p)
	}
	var none *Slab[string]
	if x := none.Make(3); len(x) != 3 {
		t.Fatalf("a nil Slab made %v", x)
	}
}

func TestOneAllocationPerBlock(t *testing.T) {
	var s Slab[string]
	allocs := testing.AllocsPerRun(10, func() {
		s = Slab[string]{}
		for range blockBytes / 16 / 2 {
			s.Make(2)
		}
	})
	if allocs != 1 {
		t.Fatalf("%v allocations for one block's worth of slices, want 1", allocs)
	}
}
