// Package slab hands out short slices carved from larger blocks. Compiling
// a configuration of 1,000 routes builds thousands of short lists (a
// route's methods, its path's segments, its stages, a trie node's children)
// that all live as long as the configuration; one allocation each was a
// fifth of compiling it in wasm, counting the collections they brought on.
package slab

import "unsafe"

// blockBytes is the size of a block: a slice longer than a quarter of one
// gets an allocation of its own, so that no block is mostly waste.
const blockBytes = 8 << 10

// Slab carves slices of T from blocks. The zero value is ready to use; a
// nil *Slab allocates each slice on its own. A Slab is not safe for
// concurrent use.
type Slab[T any] struct{ free []T }

// Make returns n zero elements, nil for none. The slice's capacity is n, so
// appending to it copies it rather than writing over its neighbours.
func (s *Slab[T]) Make(n int) []T {
	block := max(blockBytes/int(max(unsafe.Sizeof(*new(T)), 1)), 4)
	switch {
	case n <= 0:
		return nil
	case s == nil || n > block/4:
		return make([]T, n)
	case len(s.free) < n:
		s.free = make([]T, block)
	}
	x := s.free[:n:n]
	s.free = s.free[n:]
	return x
}

// New returns one zero element.
func (s *Slab[T]) New() *T { return &s.Make(1)[0] }

// Clone returns a copy of xs, nil for none.
func (s *Slab[T]) Clone(xs []T) []T {
	return append(s.Make(len(xs))[:0], xs...)
}
