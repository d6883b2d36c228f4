//go:build wasip1 && go1.21

// This file is copied into the SDK's proxywasm/internal package by `make build`;
// see README.md beside it. It exports the SDK's proxy_on_* callbacks with upstream
// Go's go:wasmexport. Every value crosses the boundary as a 32-bit integer: Go's
// int is 64-bit on wasm and a bool parameter would be read as one byte, so the
// wrappers convert explicitly (any non-zero value is true, true is returned as 1).

package internal

import (
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// callbackDepth counts the exported callbacks on the Go stack. The host calls
// proxy_on_memory_allocate from inside host calls (nested in a callback) and keeps
// only the raw address until that host call returns, so nothing in Go references
// the buffer in between: a GC triggered by a second allocation could free it.
// pinned keeps such buffers reachable until the outermost callback returns.
var (
	callbackDepth int
	pinned        [][]byte
	// zeroSized is what a 0-byte allocation returns: a valid, non-null address
	// the host may record but never reads or writes.
	zeroSized [1]byte
	// chunk is carved into small allocations: one make per chunk instead of one
	// per header value, which in wasm costs more than the host call itself.
	// Carved pieces are never reused: a chunk is ordinary Go memory that lives
	// while anything (such as a header string) points into it.
	chunk []byte
	// lent is a buffer the module offers for the next allocation (Lend).
	lent []byte
)

// Lend offers buf for the next allocation the host asks for, if it fits: a
// caller that reads the same kind of data on every stream (a header map)
// keeps one buffer for it instead of carving new memory each time, so a
// stream allocates nothing and the collector never runs in steady state.
// The caller owns buf: it must not reuse it while anything read into it is
// still in use, and calls Lend(nil) once the host call returned, so that an
// allocation the call did not make is never served from it.
func Lend(buf []byte) { lent = buf }

const (
	chunkSize    = 32 << 10
	maxChunkPart = 4 << 10
)

func enter() { callbackDepth++ }

func leave() {
	callbackDepth--
	if callbackDepth == 0 && len(pinned) > 0 {
		clear(pinned)
		pinned = pinned[:0]
	}
}

// allocate returns size bytes of zeroed Go memory for the host to fill.
func allocate(size uint32) []byte {
	if lent != nil {
		buf := lent
		lent = nil
		if int(size) <= cap(buf) {
			return buf[:size]
		}
	}
	if size > maxChunkPart {
		buf := make([]byte, size)
		if callbackDepth > 0 {
			pinned = append(pinned, buf)
		}
		return buf
	}
	n := int(size+7) &^ 7 // keep every piece 8-byte aligned
	if len(chunk) < n {
		if callbackDepth > 0 && chunk != nil {
			pinned = append(pinned, chunk)
		}
		chunk = make([]byte, chunkSize)
	}
	buf := chunk[:size:size]
	chunk = chunk[n:]
	return buf
}

// streams holds the HTTP contexts of live streams by id, in place of the
// SDK's map, for every callback a stream gets. In wasm each operation on a Go
// map costs about 0.35 µs (hashing without AES instructions), and the SDK's
// bookkeeping made fourteen per stream: more than the rest of a stream the
// null plugin runs. Envoy numbers contexts in sequence, so the slot a
// stream's id selects stays free until about len(streams) streams later; a
// stream whose slot is taken lives in the SDK's map, as every context did.
// contextIDToRootID, which the SDK reads for http calls a stream makes, gets
// a stream only when it makes one (holdForCallout).
var streams [1024]streamEntry

type streamEntry struct {
	id, root uint32
	// inCallouts: contextIDToRootID holds the stream, until its delete.
	inCallouts bool
	ctx        types.HttpContext
}

// lastRoot is the plugin context the last stream was created under, so that
// a new stream finds its root without a map lookup: Envoy runs one root
// context per plugin in a VM. A root's delete clears it.
var lastRoot struct {
	id    uint32
	state *pluginContextState
}

// streamSlot is the slot of streams that context id selects.
func streamSlot(id uint32) *streamEntry {
	return &streams[id%uint32(len(streams))]
}

// streamOf returns the HTTP context of stream id from streams, or nil.
func streamOf(id uint32) types.HttpContext {
	if s := streamSlot(id); s.id == id {
		return s.ctx
	}
	return nil
}

// createStream makes the HTTP context of a new stream into its slot, and
// reports false, having done nothing, where the SDK must decide: a taken
// slot, an unknown root, a plugin without HTTP contexts.
func createStream(contextID, rootID uint32) bool {
	s := streamSlot(contextID)
	if s.ctx != nil {
		return false
	}
	if lastRoot.state == nil || lastRoot.id != rootID {
		root, ok := currentState.pluginContexts[rootID]
		if !ok {
			return false
		}
		lastRoot.id, lastRoot.state = rootID, root
	}
	ctx := lastRoot.state.context.NewHttpContext(contextID)
	if ctx == nil {
		return false
	}
	*s = streamEntry{id: contextID, root: rootID, ctx: ctx}
	return true
}

// holdForCallout puts stream id, if it lives in streams, in
// contextIDToRootID, where the SDK looks up the root that registers a
// callout's callback and, when the response comes, whether the stream that
// made it still lives.
func holdForCallout(id uint32) {
	if s := streamSlot(id); s.id == id && s.ctx != nil && !s.inCallouts {
		currentState.contextIDToRootID[id] = s.root
		s.inCallouts = true
	}
}

func toBool(v uint32) bool { return v != 0 }

func fromBool(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

//go:wasmexport proxy_on_memory_allocate
func exportOnMemoryAllocate(size uint32) unsafe.Pointer {
	if size == 0 {
		return unsafe.Pointer(&zeroSized[0])
	}
	return unsafe.Pointer(&allocate(size)[0])
}

//go:wasmexport proxy_abi_version_0_2_0
func exportABIVersion() {}

//go:wasmexport proxy_on_vm_start
func exportOnVMStart(rootContextID uint32, vmConfigurationSize uint32) uint32 {
	enter()
	defer leave()
	return fromBool(bool(proxyOnVMStart(rootContextID, int(vmConfigurationSize))))
}

//go:wasmexport proxy_on_configure
func exportOnConfigure(rootContextID uint32, pluginConfigurationSize uint32) uint32 {
	enter()
	defer leave()
	return fromBool(bool(proxyOnConfigure(rootContextID, int(pluginConfigurationSize))))
}

//go:wasmexport proxy_on_context_create
func exportOnContextCreate(contextID uint32, parentContextID uint32) {
	enter()
	defer leave()
	if parentContextID != 0 && createStream(contextID, parentContextID) {
		return
	}
	proxyOnContextCreate(contextID, parentContextID)
}

//go:wasmexport proxy_on_new_connection
func exportOnNewConnection(contextID uint32) uint32 {
	enter()
	defer leave()
	return uint32(proxyOnNewConnection(contextID))
}

//go:wasmexport proxy_on_downstream_data
func exportOnDownstreamData(contextID uint32, dataSize uint32, endOfStream uint32) uint32 {
	enter()
	defer leave()
	return uint32(proxyOnDownstreamData(contextID, int(dataSize), toBool(endOfStream)))
}

//go:wasmexport proxy_on_downstream_connection_close
func exportOnDownstreamConnectionClose(contextID uint32, peerType uint32) {
	enter()
	defer leave()
	proxyOnDownstreamConnectionClose(contextID, types.PeerType(peerType))
}

//go:wasmexport proxy_on_upstream_data
func exportOnUpstreamData(contextID uint32, dataSize uint32, endOfStream uint32) uint32 {
	enter()
	defer leave()
	return uint32(proxyOnUpstreamData(contextID, int(dataSize), toBool(endOfStream)))
}

//go:wasmexport proxy_on_upstream_connection_close
func exportOnUpstreamConnectionClose(contextID uint32, peerType uint32) {
	enter()
	defer leave()
	proxyOnUpstreamConnectionClose(contextID, types.PeerType(peerType))
}

//go:wasmexport proxy_on_request_headers
func exportOnRequestHeaders(contextID uint32, numHeaders uint32, endOfStream uint32) uint32 {
	enter()
	defer leave()
	if ctx := streamOf(contextID); ctx != nil {
		currentState.setActiveContextID(contextID)
		return uint32(ctx.OnHttpRequestHeaders(int(numHeaders), toBool(endOfStream)))
	}
	return uint32(proxyOnRequestHeaders(contextID, int(numHeaders), toBool(endOfStream)))
}

//go:wasmexport proxy_on_request_body
func exportOnRequestBody(contextID uint32, bodySize uint32, endOfStream uint32) uint32 {
	enter()
	defer leave()
	if ctx := streamOf(contextID); ctx != nil {
		currentState.setActiveContextID(contextID)
		return uint32(ctx.OnHttpRequestBody(int(bodySize), toBool(endOfStream)))
	}
	return uint32(proxyOnRequestBody(contextID, int(bodySize), toBool(endOfStream)))
}

//go:wasmexport proxy_on_request_trailers
func exportOnRequestTrailers(contextID uint32, numTrailers uint32) uint32 {
	enter()
	defer leave()
	if ctx := streamOf(contextID); ctx != nil {
		currentState.setActiveContextID(contextID)
		return uint32(ctx.OnHttpRequestTrailers(int(numTrailers)))
	}
	return uint32(proxyOnRequestTrailers(contextID, int(numTrailers)))
}

//go:wasmexport proxy_on_response_headers
func exportOnResponseHeaders(contextID uint32, numHeaders uint32, endOfStream uint32) uint32 {
	enter()
	defer leave()
	if ctx := streamOf(contextID); ctx != nil {
		currentState.setActiveContextID(contextID)
		return uint32(ctx.OnHttpResponseHeaders(int(numHeaders), toBool(endOfStream)))
	}
	return uint32(proxyOnResponseHeaders(contextID, int(numHeaders), toBool(endOfStream)))
}

//go:wasmexport proxy_on_response_body
func exportOnResponseBody(contextID uint32, bodySize uint32, endOfStream uint32) uint32 {
	enter()
	defer leave()
	if ctx := streamOf(contextID); ctx != nil {
		currentState.setActiveContextID(contextID)
		return uint32(ctx.OnHttpResponseBody(int(bodySize), toBool(endOfStream)))
	}
	return uint32(proxyOnResponseBody(contextID, int(bodySize), toBool(endOfStream)))
}

//go:wasmexport proxy_on_response_trailers
func exportOnResponseTrailers(contextID uint32, numTrailers uint32) uint32 {
	enter()
	defer leave()
	if ctx := streamOf(contextID); ctx != nil {
		currentState.setActiveContextID(contextID)
		return uint32(ctx.OnHttpResponseTrailers(int(numTrailers)))
	}
	return uint32(proxyOnResponseTrailers(contextID, int(numTrailers)))
}

//go:wasmexport proxy_on_http_call_response
func exportOnHttpCallResponse(rootContextID, calloutID, numHeaders, bodySize, numTrailers uint32) {
	enter()
	defer leave()
	proxyOnHttpCallResponse(rootContextID, calloutID, int(numHeaders), int(bodySize), int(numTrailers))
}

//go:wasmexport proxy_on_log
func exportOnLog(contextID uint32) {
	enter()
	defer leave()
	if ctx := streamOf(contextID); ctx != nil {
		currentState.setActiveContextID(contextID)
		ctx.OnHttpStreamDone()
		return
	}
	proxyOnLog(contextID)
}

//go:wasmexport proxy_on_done
func exportOnDone(contextID uint32) uint32 {
	enter()
	defer leave()
	if streamOf(contextID) != nil {
		return 1
	}
	return fromBool(proxyOnDone(contextID))
}

//go:wasmexport proxy_on_delete
func exportOnDelete(contextID uint32) {
	enter()
	defer leave()
	if s := streamSlot(contextID); s.id == contextID && s.ctx != nil {
		if s.inCallouts {
			delete(currentState.contextIDToRootID, contextID)
		}
		*s = streamEntry{}
		return
	}
	if contextID == lastRoot.id {
		lastRoot.id, lastRoot.state = 0, nil
	}
	proxyOnDelete(contextID)
}

//go:wasmexport proxy_on_queue_ready
func exportOnQueueReady(rootContextID, queueID uint32) {
	enter()
	defer leave()
	proxyOnQueueReady(rootContextID, queueID)
}

//go:wasmexport proxy_on_tick
func exportOnTick(rootContextID uint32) {
	enter()
	defer leave()
	proxyOnTick(rootContextID)
}
