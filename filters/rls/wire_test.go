package rls

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// TestSizesAndAppendsAreProtowires holds the encoders to protowire's at
// every varint length and around each boundary.
func TestSizesAndAppendsAreProtowires(t *testing.T) {
	var values []uint64
	for shift := 0; shift < 64; shift += 7 {
		for _, d := range []int64{-1, 0, 1} {
			values = append(values, uint64(int64(1)<<shift+d))
		}
	}
	values = append(values, 0, math.MaxUint32, math.MaxUint64)
	for _, v := range values {
		if got, want := sizeVarint(v), protowire.SizeVarint(v); got != want {
			t.Errorf("sizeVarint(%d) = %d, want %d", v, got, want)
		}
		if got, want := appendVarint([]byte("x"), v), protowire.AppendVarint([]byte("x"), v); !bytes.Equal(got, want) {
			t.Errorf("appendVarint(%d) = %x, want %x", v, got, want)
		}
	}
	for _, num := range []int{1, 2, 15, 16, 2047, 2048, 1<<29 - 1} {
		if got, want := sizeTag(num), protowire.SizeTag(protowire.Number(num)); got != want {
			t.Errorf("sizeTag(%d) = %d, want %d", num, got, want)
		}
		if got, want := appendTag(nil, num, bytesType), protowire.AppendTag(nil, protowire.Number(num), protowire.BytesType); !bytes.Equal(got, want) {
			t.Errorf("appendTag(%d) = %x, want %x", num, got, want)
		}
	}
	for _, n := range []int{0, 1, 127, 128, 16383, 16384} {
		if got, want := sizeBytes(n), protowire.SizeBytes(n); got != want {
			t.Errorf("sizeBytes(%d) = %d, want %d", n, got, want)
		}
	}
}

// FuzzFieldsAreProtowires holds the readers to protowire's on any bytes:
// the same tag, value and size, and an error exactly where it errs, for the
// first field and when skipping it (groups, nested and unterminated,
// included).
func FuzzFieldsAreProtowires(f *testing.F) {
	f.Add([]byte{0x08, 0x96, 0x01})
	f.Add([]byte{0x12, 0x03, 'a', 'b', 'c'})
	f.Add([]byte{0x0b, 0x10, 0x01, 0x1b, 0x1c, 0x0c})
	f.Add([]byte{0x0d, 1, 2, 3, 4, 0x09, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02})
	f.Add([]byte{0x0c})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n := consumeVarint(b)
		wv, wn := protowire.ConsumeVarint(b)
		if n < 0 != (wn < 0) || n >= 0 && (v != wv || n != wn) {
			t.Fatalf("consumeVarint(%x) = %d, %d; protowire %d, %d", b, v, n, wv, wn)
		}
		bv, n := consumeBytes(b)
		wbv, wn := protowire.ConsumeBytes(b)
		if n < 0 != (wn < 0) || n >= 0 && (!bytes.Equal(bv, wbv) || n != wn) {
			t.Fatalf("consumeBytes(%x) = %x, %d; protowire %x, %d", b, bv, n, wbv, wn)
		}
		num, typ, n := consumeTag(b)
		wnum, wtyp, wn := protowire.ConsumeTag(b)
		if n < 0 != (wn < 0) || n >= 0 && (num != int(wnum) || typ != wireType(wtyp) || n != wn) {
			t.Fatalf("consumeTag(%x) = %d, %d, %d; protowire %d, %d, %d", b, num, typ, n, wnum, wtyp, wn)
		}
		if n < 0 {
			return
		}
		got, want := skipValue(num, typ, b[n:], 0), protowire.ConsumeFieldValue(wnum, wtyp, b[n:])
		if got < 0 != (want < 0) || got >= 0 && got != want {
			t.Fatalf("skipValue(%d, %d, %x) = %d; protowire %d", num, typ, b[n:], got, want)
		}
	})
}
