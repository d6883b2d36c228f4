package host

import (
	"encoding/binary"
	"slices"
	"strings"
)

// Headers is an ordered header map with lower-case keys, as Envoy's; HTTP/2
// style pseudo-headers (":method", ":path", ":authority", ":scheme", ":status")
// are ordinary entries.
type Headers [][2]string

// Get returns the first value of key and whether it is present.
func (h Headers) Get(key string) (string, bool) {
	key = strings.ToLower(key)
	for _, kv := range h {
		if kv[0] == key {
			return kv[1], true
		}
	}
	return "", false
}

// Values returns every value of key, in order.
func (h Headers) Values(key string) []string {
	key = strings.ToLower(key)
	var out []string
	for _, kv := range h {
		if kv[0] == key {
			out = append(out, kv[1])
		}
	}
	return out
}

// Add appends a value.
func (h *Headers) Add(key, value string) {
	*h = append(*h, [2]string{strings.ToLower(key), value})
}

// Set replaces every value of key with one value (Envoy's setCopy).
func (h *Headers) Set(key, value string) {
	h.Del(key)
	h.Add(key, value)
}

// Del removes every value of key.
func (h *Headers) Del(key string) {
	key = strings.ToLower(key)
	out := (*h)[:0]
	for _, kv := range *h {
		if kv[0] != key {
			out = append(out, kv)
		}
	}
	clear((*h)[len(out):])
	*h = out
}

// Clone returns a copy.
func (h Headers) Clone() Headers { return append(Headers(nil), h...) }

// Envoy parses a serialized map larger than these as empty.
const (
	maxSerializedMap = 1 << 20
	maxMapPairs      = 1024
)

// serializeHeaders encodes pairs in the proxy-wasm map format: a u32 count,
// then a (key length, value length) u32 pair per entry, then each key and value
// followed by a NUL.
func serializeHeaders(h Headers) []byte { return appendHeaders(nil, h) }

// appendHeaders appends h serialized as serializeHeaders does.
func appendHeaders(out []byte, h Headers) []byte {
	size := 4 + 8*len(h)
	for _, kv := range h {
		size += len(kv[0]) + len(kv[1]) + 2
	}
	out = slices.Grow(out, size)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(h)))
	for _, kv := range h {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(kv[0])))
		out = binary.LittleEndian.AppendUint32(out, uint32(len(kv[1])))
	}
	for _, kv := range h {
		out = append(out, kv[0]...)
		out = append(out, 0)
		out = append(out, kv[1]...)
		out = append(out, 0)
	}
	return out
}

// deserializeHeaders decodes the map format as PairsUtil::toPairs does
// (proxy-wasm-cpp-host src/pairs_util.cc): input over 1 MiB or 1024 pairs, a
// short or overlong buffer, or a key or value not followed by its NUL all
// yield an empty map. ok reports whether the input was well-formed; Envoy's
// host calls ignore it and use the empty map.
func deserializeHeaders(b []byte) (h Headers, ok bool) {
	if len(b) > maxSerializedMap {
		return nil, true
	}
	if len(b) < 4 {
		return nil, false
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n > maxMapPairs {
		return nil, true
	}
	if 4+8*n > uint64(len(b)) {
		return nil, false
	}
	data := b[4+8*n:]
	h = make(Headers, 0, n)
	for i := uint64(0); i < n; i++ {
		kl := uint64(binary.LittleEndian.Uint32(b[4+8*i:]))
		vl := uint64(binary.LittleEndian.Uint32(b[8+8*i:]))
		if kl+1 > uint64(len(data)) || data[kl] != 0 {
			return nil, false
		}
		k := string(data[:kl])
		data = data[kl+1:]
		if vl+1 > uint64(len(data)) || data[vl] != 0 {
			return nil, false
		}
		h = append(h, [2]string{k, string(data[:vl])})
		data = data[vl+1:]
	}
	if len(data) != 0 {
		return nil, false
	}
	return h, true
}
