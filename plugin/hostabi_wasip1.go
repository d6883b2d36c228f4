//go:build wasip1

package main

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// Direct bindings for the host calls every stream (or every rate-limited
// one) makes, where the SDK's
// wrappers cost what the ABI does not: each of its calls heap-allocates
// the slots the host writes its answer to (they escape into the import),
// SetProperty serializes its path, SendHttpResponse serializes the
// headers into a new buffer, and a header's removal or replacement passes
// through three calls of its own (each a frame saved and restored in
// linear memory), which a hardened response makes a dozen times. Measured
// in wazero (README, "Numbers"). Everything else goes through the SDK.

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType uint32, retData *uint32, retSize *uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType uint32, key *byte, keySize uint32) uint32

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType uint32, key *byte, keySize uint32, value *byte, valueSize uint32) uint32

//go:wasmimport env proxy_set_property
func proxySetProperty(path *byte, pathSize uint32, value *byte, valueSize uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(statusCode uint32, details *byte, detailsSize uint32,
	body *byte, bodySize uint32, headers *byte, headersSize uint32, grpcStatus int32) uint32

//go:wasmimport env proxy_get_property
func proxyGetProperty(path *byte, pathSize uint32, retData *uint32, retSize *uint32) uint32

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(key *byte, keySize uint32, retData *uint32, retSize *uint32, retCas *uint32) uint32

//go:wasmimport wasi_snapshot_preview1 clock_time_get
func clockTimeGet(clockID uint32, precision uint64, ret *uint64) uint32

// wallNs is where the host writes the clock's reading.
var wallNs uint64

// wallClock is the host's real-time clock, read in one host call:
// time.Now reads the monotonic clock too, in a second one, and no stage
// needs it (token expiry and rate limits compare wall times, which workers
// share).
func wallClock() time.Time {
	if clockTimeGet(0, 1, &wallNs) != 0 {
		return time.Now()
	}
	return time.Unix(0, int64(wallNs))
}

// retData and retSize are where the host writes a returned buffer's address
// and size: 32-bit integers, never pointers the garbage collector would
// see written behind its back. A VM runs one call at a time.
var retData, retSize, retCas uint32

// returned is the buffer the host returned in retData and retSize: memory
// the module gave it through proxy_on_memory_allocate, which the slice
// keeps alive.
func returned() []byte {
	if retSize == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), uintptr(retData))), retSize)
}

// propertyPath is the last property path read, reused.
var propertyPath []byte

// getProperty reads a property by its path's segments.
func getProperty(path []string) ([]byte, error) {
	propertyPath = propertyPath[:0]
	for i, seg := range path {
		if i > 0 {
			propertyPath = append(propertyPath, 0)
		}
		propertyPath = append(propertyPath, seg...)
	}
	if len(propertyPath) == 0 {
		return nil, errEmptyPropertyPath
	}
	retData, retSize = 0, 0
	proxywasm.LendNextAllocation(scratch[:cap(scratch)])
	st := proxyGetProperty(&propertyPath[0], uint32(len(propertyPath)), &retData, &retSize)
	proxywasm.LendNextAllocation(nil)
	if st != 0 {
		return nil, statusError(st)
	}
	return lendNext(&scratch, returned()), nil
}

// scratch is what properties and shared data are read into, reused by the
// next read: a stage decodes what it reads at once, and copies what it
// keeps (stage.Host).
var scratch []byte

// lendNext makes b, what the host returned, the buffer *buf lends the next
// read when b did not fit in it and is not larger than maxLentBuffer; it
// returns b.
func lendNext(buf *[]byte, b []byte) []byte {
	if len(b) > cap(*buf) && len(b) <= maxLentBuffer {
		*buf = b
	}
	return b
}

// getSharedData reads a shared-data key's value and version.
func getSharedData(key string) ([]byte, uint32, error) {
	retData, retSize, retCas = 0, 0, 0
	proxywasm.LendNextAllocation(scratch[:cap(scratch)])
	st := proxyGetSharedData(unsafe.StringData(key), uint32(len(key)), &retData, &retSize, &retCas)
	proxywasm.LendNextAllocation(nil)
	if st != 0 {
		return nil, 0, statusError(st)
	}
	return lendNext(&scratch, returned()), retCas, nil
}

// maxLentBuffer bounds a buffer kept to lend the host: the pooled contexts
// (maxFreeContexts) keep at most 2 MiB for their header maps after a burst,
// and a larger map or value, rare, is read into new memory each time.
const maxLentBuffer = 4 << 10

// headerPairs reads header map mapType in one host call and appends its
// pairs to dst. The strings point into the buffer the host filled (memory
// the module gave it through proxy_on_memory_allocate, which the pairs keep
// alive): nothing is copied. With buf, the host fills *buf when the map
// fits in it, and otherwise new memory, which becomes *buf for next time
// unless it is larger than maxLentBuffer (lendNext).
func headerPairs(mapType uint32, dst [][2]string, buf *[]byte) ([][2]string, error) {
	retData, retSize = 0, 0
	if buf != nil {
		proxywasm.LendNextAllocation((*buf)[:cap(*buf)])
	}
	st := proxyGetHeaderMapPairs(mapType, &retData, &retSize)
	if buf != nil {
		proxywasm.LendNextAllocation(nil)
	}
	if st != 0 {
		return dst, statusError(st)
	}
	if retSize == 0 {
		return dst, nil
	}
	b := returned()
	if buf != nil {
		lendNext(buf, b)
	}
	return parsePairs(b, dst)
}

// The header edits of editHeaders: the host copies the name and value.
func removeRequestHeader(name string) error      { return removeHeader(mapRequestHeaders, name) }
func removeResponseHeader(name string) error     { return removeHeader(mapResponseHeaders, name) }
func replaceRequestHeader(name, v string) error  { return replaceHeader(mapRequestHeaders, name, v) }
func replaceResponseHeader(name, v string) error { return replaceHeader(mapResponseHeaders, name, v) }

func removeHeader(mapType uint32, name string) error {
	return statusError(proxyRemoveHeaderMapValue(mapType, unsafe.StringData(name), uint32(len(name))))
}

func replaceHeader(mapType uint32, name, value string) error {
	return statusError(proxyReplaceHeaderMapValue(mapType, unsafe.StringData(name), uint32(len(name)),
		unsafe.StringData(value), uint32(len(value))))
}

// setProperty sets a one-segment property (filter state wasm.<name>) to a
// non-empty value; the host copies both.
func setProperty(name, value string) error {
	return statusError(proxySetProperty(unsafe.StringData(name), uint32(len(name)), unsafe.StringData(value), uint32(len(value))))
}

// replyHeaders is the serialized headers of the last local reply, reused:
// the host copies them before the call returns.
var replyHeaders []byte

// sendLocalResponse answers the stream with a local reply; the host copies
// the headers and the body before it returns.
func sendLocalResponse(status int, headers [][2]string, body []byte, grpcStatus int32) error {
	replyHeaders = appendPairs(replyHeaders[:0], headers)
	var bodyPtr *byte
	if len(body) > 0 {
		bodyPtr = &body[0]
	}
	return statusError(proxySendLocalResponse(uint32(status), nil, 0, bodyPtr, uint32(len(body)),
		&replyHeaders[0], uint32(len(replyHeaders)), grpcStatus))
}

// statusError is the SDK's error for a proxy-wasm status, nil for OK.
func statusError(st uint32) error {
	switch st {
	case 0:
		return nil
	case 1:
		return types.ErrorStatusNotFound
	case 2:
		return types.ErrorStatusBadArgument
	case 7:
		return types.ErrorStatusEmpty
	case 8:
		return types.ErrorStatusCasMismatch
	case 10:
		return types.ErrorInternalFailure
	case 12:
		return types.ErrorUnimplemented
	}
	return fmt.Errorf("unknown status %d returned by host", st)
}
