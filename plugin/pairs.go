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
		dst = appendPair(dst, key, value)
	}
	return dst, nil
}

// appendPair appends the header name: value to headers, writing the
// strings in place: in wasm, appending a [2]string copies it through a
// call.
func appendPair(headers [][2]string, name, value string) [][2]string {
	n := len(headers)
	headers = slices.Grow(headers, 1)[:n+1]
	headers[n][0], headers[n][1] = name, value
	return headers
}

// appendPairs appends headers in the proxy-wasm map format. It sizes the
// map first and writes it in place: a denial's dozen headers took some
// seventy appends, each a capacity check and a call in wasm.
func appendPairs(b []byte, headers [][2]string) []byte {
	n := 4 + 8*len(headers)
	for i := range headers {
		n += len(headers[i][0]) + len(headers[i][1]) + 2
	}
	at := len(b)
	b = slices.Grow(b, n)[:at+n]
	binary.LittleEndian.PutUint32(b[at:], uint32(len(headers)))
	sizes, data := at+4, at+4+8*len(headers)
	for i := range headers {
		kv := &headers[i]
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
