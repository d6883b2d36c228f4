// Package swar compares and scans strings eight bytes at a time. In wasm
// the standard library compares strings a byte at a time (memequal) and
// searches them four bytes at a time, once per byte sought (memchr), which
// made an 800-byte token the most expensive thing a cached JWT request
// touched. The loads here are plain 64-bit loads, which wasm allows at any
// alignment, and the loops are unrolled because every iteration of a Go loop
// in wasm also pays a jump through the function's block table.
package swar

import (
	"math/bits"
	"unsafe"
)

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// Equal reports whether a and b hold the same bytes, like a == b.
func Equal(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	pa, pb := unsafe.Pointer(unsafe.StringData(a)), unsafe.Pointer(unsafe.StringData(b))
	i := 0
	for ; i+32 <= len(a); i += 32 {
		d := load(pa, i) ^ load(pb, i)
		d |= load(pa, i+8) ^ load(pb, i+8)
		d |= load(pa, i+16) ^ load(pb, i+16)
		d |= load(pa, i+24) ^ load(pb, i+24)
		if d != 0 {
			return false
		}
	}
	for ; i+8 <= len(a); i += 8 {
		if load(pa, i) != load(pb, i) {
			return false
		}
	}
	return a[i:] == b[i:]
}

// HasLess reports whether a byte of s is less than n, which must be at most
// 128: a test of every control character, space and most punctuation at
// once, after which the caller looks for the ones it refuses.
func HasLess(s string, n byte) bool {
	p := unsafe.Pointer(unsafe.StringData(s))
	below := ones * uint64(n)
	i := 0
	for ; i+16 <= len(s); i += 16 {
		w, v := load(p, i), load(p, i+8)
		// A byte below n borrows through its high bit, which it did not
		// have; a borrow that carries on from it only adds false bits above
		// a true one, so the test is exact, though the position is not.
		if ((w-below)&^w|(v-below)&^v)&highs != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if s[i] < n {
			return true
		}
	}
	return false
}

// Tail folds the last 16 bytes of s into 64 bits (s shorter: all of it),
// with two loads: a map key that the runtime hashes as one integer, where a
// string or an array key is hashed byte by byte in wasm, without AES
// instructions.
func Tail(s string) uint64 {
	if len(s) < 16 {
		var t uint64
		for i := 0; i < len(s); i++ {
			t = t<<8 | uint64(s[i])
		}
		return t
	}
	p := unsafe.Pointer(unsafe.StringData(s))
	return bits.RotateLeft64(load(p, len(s)-16), 29) ^ load(p, len(s)-8)
}

// StringStops marks the bytes of w, eight bytes of a JSON string read
// little-endian, that end its plain run: a quote, a backslash or a byte
// below 0x20. Each such byte has its high bit set; so may bytes after the
// first, but none before it, so the lowest bit set is the first stop. Small
// enough to inline: in Go's wasm port a call costs more than the scan.
func StringStops(w uint64) uint64 {
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	return ((quote-ones)&^quote | (backslash-ones)&^backslash | (w-ones*0x20)&^w) & highs
}

// TextStops is StringStops with every byte from 0x80 up a stop too: what
// ends a run of printable ASCII in a JSON string, for a reader that checks
// the UTF-8 of the rest itself.
func TextStops(w uint64) uint64 {
	return StringStops(w) | w&highs
}

func load(p unsafe.Pointer, i int) uint64 {
	return *(*uint64)(unsafe.Add(p, i))
}
