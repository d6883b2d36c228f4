package swar

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"testing"
)

func TestEqual(t *testing.T) {
	long := strings.Repeat("eyJhbGciOiJSUzI1NiJ9.", 40)
	for _, tc := range []struct{ a, b string }{
		{"", ""},
		{"a", ""},
		{"a", "a"},
		{"a", "b"},
		{"abcdefgh", "abcdefgh"},
		{"abcdefgh", "abcdefgH"},
		{"abcdefghi", "abcdefghj"},
		{"Abcdefghi", "abcdefghi"},
		{long, long[:len(long)-1] + "x"},
		{long, long[:100] + "x" + long[101:]},
		{long, long[:30] + "x" + long[31:]},
		{long, strings.Clone(long)},
		{long[:17], long[1:18]},
	} {
		if got, want := Equal(tc.a, tc.b), tc.a == tc.b; got != want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tc.a, tc.b, got, want)
		}
	}
}

func TestHasLess(t *testing.T) {
	token := strings.Repeat("eyJhbGciOiJSUzI1NiJ9.-_", 40)
	for _, tc := range []struct {
		s string
		n byte
	}{
		{"", ','},
		{" ", ','},
		{"x", ','},
		{token, ','},
		{token, '-'},
		{token, '.'},
		{token + " ", ','},
		{token[:400] + "\t" + token[400:], ','},
		{token[:9] + "," + token[9:], ','},
		// Bytes just above and below the bound and high bytes, which a
		// careless borrow test reports as below it.
		{"\x2d\x2e\x80\xff\xa0\xac\x89\xad\x2d\x2e\x80\xff\xa0\xac\x89\xad", '-'},
		{"\x2d\x2e\x80\xff\xa0\xac\x89\xad\x2d\x2e\x80\xff\xa0\xac\x89\x2c", '-'},
		{"\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00", 1},
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80", 128},
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f", 128},
	} {
		if got, want := HasLess(tc.s, tc.n), hasLess(tc.s, tc.n); got != want {
			t.Errorf("HasLess(%q, %#x) = %v, want %v", tc.s, tc.n, got, want)
		}
	}
}

func hasLess(s string, n byte) bool {
	for i := range len(s) {
		if s[i] < n {
			return true
		}
	}
	return false
}

func FuzzEqual(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9.e30.siG")
	f.Fuzz(func(t *testing.T, a, b string) {
		if Equal(a, b) != (a == b) {
			t.Fatalf("Equal(%q, %q) = %v", a, b, a != b)
		}
		if !Equal(a, strings.Clone(a)) {
			t.Fatalf("Equal(%q, its copy) = false", a)
		}
	})
}

// FuzzTail: of two strings of 16 bytes or more, those whose last 16 bytes
// are equal have one key, and those that differ in one of them, two.
func FuzzTail(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.0123456789abcdef", uint8(3), byte('x'))
	f.Fuzz(func(t *testing.T, s string, at uint8, b byte) {
		if len(s) < 16 {
			return
		}
		i := len(s) - 1 - int(at%16)
		if s[i] == b {
			return
		}
		other := s[:i] + string([]byte{b}) + s[i+1:]
		if Tail(other) == Tail(s) {
			t.Fatalf("Tail(%q) = Tail(%q)", s, other)
		}
		if Tail("head"+s) != Tail(s) {
			t.Fatalf("Tail(%q) depends on more than its last 16 bytes", s)
		}
	})
}

func FuzzHasLess(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.sig,", byte(','))
	f.Fuzz(func(t *testing.T, s string, n byte) {
		n &= 0x7f
		n++
		if got, want := HasLess(s, n), hasLess(s, n); got != want {
			t.Fatalf("HasLess(%q, %#x) = %v, want %v", s, n, got, want)
		}
	})
}

// plainPrefix is how many of b's first bytes a JSON string holds as they
// are, a byte at a time; with ascii, how many of them are printable ASCII
// too.
func plainPrefix(b []byte, ascii bool) int {
	for i, c := range b {
		if c == '"' || c == '\\' || c < 0x20 || ascii && c >= 0x80 {
			return i
		}
	}
	return len(b)
}

// plainPrefixByWords is plainPrefix eight bytes at a time with StringStops
// (as the configuration's syntax check scans) or, with ascii, TextStops (as
// the schema's check does).
func plainPrefixByWords(b []byte, ascii bool) int {
	stops := StringStops
	if ascii {
		stops = TextStops
	}
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if m := stops(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	return i + plainPrefix(b[i:], ascii)
}

// TestStringStops puts each byte that ends a plain run, and bytes that do
// not, at every place in and past the first words, for both scans.
func TestStringStops(t *testing.T) {
	for _, ascii := range []bool{false, true} {
		for _, c := range []byte{'"', '\\', 0, '\n', 0x1f, ' ', '!', '#', '[', ']', 0x7f, 0x80, 0xc3, 0xff} {
			for at := 0; at < 20; at++ {
				for n := at; n < at+10; n++ {
					b := []byte(strings.Repeat("a", at) + string(c) + strings.Repeat("b", n-at))
					if got, want := plainPrefixByWords(b, ascii), plainPrefix(b, ascii); got != want {
						t.Errorf("%q (ASCII only: %v): %d plain bytes by words, %d a byte at a time", b, ascii, got, want)
					}
				}
			}
		}
	}
}

func FuzzStringStops(f *testing.F) {
	f.Add([]byte(`routes": [{"name": "a\"b"}]`))
	f.Add([]byte("caf\xc3\xa9 cr\xc3\xa8me \"br\xc3\xbbl\xc3\xa9e\""))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, ascii := range []bool{false, true} {
			if got, want := plainPrefixByWords(b, ascii), plainPrefix(b, ascii); got != want {
				t.Fatalf("%q (ASCII only: %v): %d plain bytes by words, %d a byte at a time", b, ascii, got, want)
			}
		}
	})
}

// TestTail: a token's key is its last 16 bytes, whatever comes before.
func TestTail(t *testing.T) {
	sig := "0123456789abcdefXYZ_-"
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{name: "same tail, other heads", a: "eyJhbGciOiJSUzI1NiJ9.e30." + sig, b: "x." + sig, same: true},
		{name: "the byte before the tail", a: "a" + sig[len(sig)-16:], b: "b" + sig[len(sig)-16:], same: true},
		{name: "last byte", a: sig, b: sig[:len(sig)-1] + "0"},
		{name: "ninth from the end", a: sig, b: sig[:len(sig)-9] + "!" + sig[len(sig)-8:]},
		{name: "sixteenth from the end", a: sig, b: sig[:len(sig)-16] + "!" + sig[len(sig)-15:]},
		{name: "short", a: "abc", b: "abd"},
		{name: "empty and a zero byte", a: "", b: "\x00", same: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if same := Tail(tc.a) == Tail(tc.b); same != tc.same {
				t.Errorf("Tail(%q) == Tail(%q): %v, want %v", tc.a, tc.b, same, tc.same)
			}
		})
	}
}

// BenchmarkToken is the work a cached JWT request does on its token: the
// syntax check and the cache's full comparison, here and as the standard
// library does them (`make bench` runs it in wasm too).
func BenchmarkToken(b *testing.B) {
	tok := strings.Repeat("eyJhbGciOiJSUzI1NiJ9", 40)
	other := strings.Clone(tok)
	b.Run("swar", func(b *testing.B) {
		for b.Loop() {
			if HasLess(tok, ','+1) || !Equal(tok, other) {
				b.Fatal("wrong")
			}
		}
	})
	b.Run("strings", func(b *testing.B) {
		for b.Loop() {
			if strings.IndexByte(tok, ',') >= 0 || strings.IndexByte(tok, ' ') >= 0 || strings.IndexByte(tok, '\t') >= 0 || tok != other {
				b.Fatal("wrong")
			}
		}
	})
}
