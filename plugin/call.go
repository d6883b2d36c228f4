package main

import (
	"encoding/binary"
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/filters/stage"
)

// maxCallResponse bounds the response body read from a call.
const maxCallResponse = 64 << 10

// startCall makes the stream's s.Call and pauses the stream until it is
// answered; paused tells whether the stream is already paused (a stream
// resumed from the root context). The call is gRPC over dispatch_http_call (an HTTP/2 POST with
// gRPC's framing) rather than proxy_grpc_call: the SDK we build with
// (v0.24.0) has no gRPC calls, and Envoy sends both through the same
// cluster's async client (RATIONALE.md). A call that cannot be sent is
// answered at once as UNAVAILABLE.
func (h *httpContext) startCall(paused bool) types.Action {
	c := h.stream.Call
	timeout := uint32(c.Timeout.Milliseconds())
	headers := [][2]string{
		{":method", "POST"}, {":path", "/" + c.Service + "/" + c.Method}, {":authority", c.Cluster},
		{"content-type", "application/grpc"}, {"te", "trailers"},
		{"grpc-timeout", strconv.FormatUint(uint64(timeout), 10) + "m"},
	}
	h.callSeq++
	seq := h.callSeq
	_, err := proxywasm.DispatchHttpCall(c.Cluster, headers, frame(c.Message), nil, timeout, func(nh, bodySize, nt int) {
		h.plugin.callAnswered(h, seq, nh, bodySize)
	})
	if err != nil {
		proxywasm.LogErrorf("apiguard: cannot call cluster %s: %v", c.Cluster, err)
		return h.resumeCall(stage.CallResult{Status: stage.CallUnavailable}, paused)
	}
	h.calling = true
	return types.ActionPause
}

// callAnswered takes a call's response on the root context to the stream
// that made it, unless that stream ended meanwhile (its context may already
// serve another stream: seq tells).
func (p *pluginContext) callAnswered(h *httpContext, seq uint64, numHeaders, bodySize int) {
	defer logPanic("a call's response")
	if !h.calling || h.callSeq != seq {
		return
	}
	res := callResult(numHeaders, bodySize)
	if err := proxywasm.SetEffectiveContext(h.id); err == nil {
		h.calling = false
		h.resumeCall(res, true)
	}
	_ = proxywasm.SetEffectiveContext(p.rootID)
}

// callResult reads a gRPC response from the http call's maps and body: the
// grpc-status of its trailers, or of its headers for a trailers-only answer
// (which is also how Envoy's router answers a gRPC request it timed out or
// could not connect: 200 with grpc-status 14, source/common/http/utility.cc
// sendLocalReply). A reset (numHeaders 0) or an HTTP error is UNAVAILABLE,
// a malformed body INTERNAL, as Envoy's gRPC client reports them.
func callResult(numHeaders, bodySize int) stage.CallResult {
	if numHeaders == 0 {
		return stage.CallResult{Status: stage.CallUnavailable}
	}
	hdrs, _ := proxywasm.GetHttpCallResponseHeaders()
	if header(hdrs, ":status") != "200" {
		return stage.CallResult{Status: stage.CallUnavailable}
	}
	st := header(hdrs, "grpc-status")
	if st == "" {
		trailers, _ := proxywasm.GetHttpCallResponseTrailers()
		st = header(trailers, "grpc-status")
	}
	n, err := strconv.ParseUint(st, 10, 32)
	switch {
	case err != nil:
		return stage.CallResult{Status: stage.CallUnknown}
	case n != 0:
		return stage.CallResult{Status: uint32(n)}
	case bodySize > maxCallResponse:
		return stage.CallResult{Status: stage.CallInternal}
	}
	body, _ := proxywasm.GetHttpCallResponseBody(0, bodySize)
	msg, ok := unframe(body)
	if !ok {
		return stage.CallResult{Status: stage.CallInternal}
	}
	return stage.CallResult{Message: msg}
}

func header(hs [][2]string, name string) string {
	for _, kv := range hs {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

// frame prefixes a message with gRPC's 5 bytes: not compressed, its length.
func frame(msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// unframe is the message of a body holding exactly one uncompressed gRPC
// message (apiguard asks for no compression).
func unframe(b []byte) ([]byte, bool) {
	if len(b) < 5 || b[0] != 0 || uint64(binary.BigEndian.Uint32(b[1:5])) != uint64(len(b)-5) {
		return nil, false
	}
	return b[5:], true
}
