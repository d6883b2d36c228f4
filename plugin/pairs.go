package main

import (
	"encoding/binary"
	"errors"
	"unsafe"
)

var (
	errMalformedPairs    = errors.New("the host returned a malformed header map")
	errEmptyPropertyPath = errors.New("a property path must not be empty")
)

// parsePairs decodes the proxy-wasm map format (a count, then each key's
// and value's length, then the NUL-terminated keys and values) into
// strings over b.
func parsePairs(b []byte, dst [][2]string) ([][2]string, error) {
	if len(b) < 4 {
		return dst, errMalformedPairs
	}
	n := int(binary.LittleEndian.Uint32(b))
	sizes, data := 4, 4+8*n
	if n > len(b)/8 || data > len(b) {
		return dst, errMalformedPairs
	}
	for i := 0; i < n; i++ {
		k := int(binary.LittleEndian.Uint32(b[sizes:]))
		v := int(binary.LittleEndian.Uint32(b[sizes+4:]))
		sizes += 8
		if k < 0 || v < 0 || data+k+v+2 > len(b) {
			return dst, errMalformedPairs
		}
		key := unsafe.String(&b[data], k)
		data += k + 1
		var value string
		if v > 0 {
			value = unsafe.String(&b[data], v)
		}
		data += v + 1
		dst = append(dst, [2]string{key, value})
	}
	return dst, nil
}

// appendPairs appends headers in the proxy-wasm map format.
func appendPairs(b []byte, headers [][2]string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(headers)))
	for _, kv := range headers {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range headers {
		b = append(append(b, kv[0]...), 0)
		b = append(append(b, kv[1]...), 0)
	}
	return b
}
