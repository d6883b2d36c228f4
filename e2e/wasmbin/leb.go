package wasmbin

import "fmt"

// Reader decodes a module's LEB128 integers and byte vectors; the first
// error sticks and makes every later read return zero values.
type Reader struct {
	B   []byte
	Off int
	Err error
}

func (r *Reader) fail(what string) {
	if r.Err == nil {
		r.Err = fmt.Errorf("truncated %s at offset %d", what, r.Off)
	}
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.Err != nil || r.Off >= len(r.B) {
		r.fail("byte")
		return 0
	}
	r.Off++
	return r.B[r.Off-1]
}

// U32 reads an unsigned LEB128 integer of at most 32 bits.
func (r *Reader) U32() int {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.Byte()
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int(v)
		}
	}
	r.fail("LEB128 u32")
	return 0
}

// S32 reads a signed LEB128 integer of at most 32 bits.
func (r *Reader) S32() int {
	var v int64
	shift := 0
	for ; shift < 35; shift += 7 {
		c := r.Byte()
		v |= int64(c&0x7f) << shift
		if c < 0x80 {
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return int(int32(v))
		}
	}
	r.fail("LEB128 s32")
	return 0
}

// Bytes reads the next n bytes.
func (r *Reader) Bytes(n int) []byte {
	if r.Err != nil || n < 0 || n > len(r.B)-r.Off {
		r.fail("vector")
		return nil
	}
	r.Off += n
	return r.B[r.Off-n : r.Off]
}

func (r *Reader) limits() {
	if r.Byte()&1 != 0 {
		r.U32()
	}
	r.U32()
}

// AppendU32 appends v in unsigned LEB128.
func AppendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendS32 appends v in signed LEB128.
func AppendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
