package rls

import "math/bits"

// The protobuf wire format (protobuf.dev/programming-guides/encoding), as
// much of it as the three messages need: varints, length-delimited fields,
// and skipping any other field. protowire does this too, but its package
// builds its errors with fmt.Sprintf when it initializes: 25 KB of code
// every VM's _initialize ran, and V8 compiled, before its first request.
// The tests hold each function to protowire's.

// wireType is a field's wire type, the low three bits of its tag.
type wireType uint8

const (
	varintType     wireType = 0
	fixed64Type    wireType = 1
	bytesType      wireType = 2
	startGroupType wireType = 3
	endGroupType   wireType = 4
	fixed32Type    wireType = 5
)

// maxGroupDepth bounds nested groups skipped, as protowire's recursion
// limit does.
const maxGroupDepth = 10000

// sizeVarint is the encoded size of v, 1 to 10 bytes.
func sizeVarint(v uint64) int {
	return 1 + (bits.Len64(v|1)-1)/7
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func sizeTag(num int) int { return sizeVarint(uint64(num) << 3) }

func appendTag(b []byte, num int, t wireType) []byte {
	return appendVarint(b, uint64(num)<<3|uint64(t))
}

// sizeBytes is the encoded size of a length-delimited value of n bytes.
func sizeBytes(n int) int { return sizeVarint(uint64(n)) + n }

// consumeVarint reads a varint, n < 0 when b ends inside it or it
// overflows 64 bits.
func consumeVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, -1
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// consumeTag reads a tag: its field number, at least 1 and at most
// math.MaxInt32, and its wire type.
func consumeTag(b []byte) (num int, t wireType, n int) {
	v, n := consumeVarint(b)
	if n < 0 || v>>3 < 1 || v>>3 > 1<<31-1 {
		return 0, 0, -1
	}
	return int(v >> 3), wireType(v & 7), n
}

// consumeBytes reads a length-delimited value.
func consumeBytes(b []byte) ([]byte, int) {
	m, n := consumeVarint(b)
	if n < 0 || m > uint64(len(b)-n) {
		return nil, -1
	}
	return b[n : n+int(m)], n + int(m)
}

// skipValue is the size of the value of a field of type t at the start of
// b, n < 0 if it is malformed: a group must end with its own field number.
func skipValue(num int, t wireType, b []byte, depth int) int {
	switch t {
	case varintType:
		_, n := consumeVarint(b)
		return n
	case fixed32Type:
		if len(b) < 4 {
			return -1
		}
		return 4
	case fixed64Type:
		if len(b) < 8 {
			return -1
		}
		return 8
	case bytesType:
		_, n := consumeBytes(b)
		return n
	case startGroupType:
		if depth > maxGroupDepth {
			return -1
		}
		size := len(b)
		for {
			num2, t2, n := consumeTag(b)
			if n < 0 {
				return -1
			}
			b = b[n:]
			if t2 == endGroupType {
				if num2 != num {
					return -1
				}
				return size - len(b)
			}
			if n = skipValue(num2, t2, b, depth+1); n < 0 {
				return -1
			}
			b = b[n:]
		}
	}
	return -1
}
