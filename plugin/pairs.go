package main

import (
	"encoding/binary"
	"errors"
	"slices"
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

// appendPairs appends headers in the proxy-wasm map format. It sizes the
// map first and writes it in place: a denial's dozen headers took some
// seventy appends, each a capacity check and a call in wasm.
func appendPairs(b []byte, headers [][2]string) []byte {
	n := 4 + 8*len(headers)
	for _, kv := range headers {
		n += len(kv[0]) + len(kv[1]) + 2
	}
	at := len(b)
	b = slices.Grow(b, n)[:at+n]
	binary.LittleEndian.PutUint32(b[at:], uint32(len(headers)))
	sizes, data := at+4, at+4+8*len(headers)
	for _, kv := range headers {
		binary.LittleEndian.PutUint32(b[sizes:], uint32(len(kv[0])))
		binary.LittleEndian.PutUint32(b[sizes+4:], uint32(len(kv[1])))
		sizes += 8
		data += copy(b[data:], kv[0])
		b[data] = 0
		data++
		data += copy(b[data:], kv[1])
		b[data] = 0
		data++
	}
	return b
}
