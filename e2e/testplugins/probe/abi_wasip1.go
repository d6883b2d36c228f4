//go:build wasip1

package main

import "unsafe"

// The SDK exposes neither proxy_close_stream for HTTP streams nor the details
// argument of proxy_send_local_response; the probe calls them directly.

//go:wasmimport env proxy_close_stream
func proxyCloseStream(streamType uint32) uint32

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(statusCode uint32, details *byte, detailsSize uint32,
	body *byte, bodySize uint32, headers *byte, headersSize uint32, grpcStatus int32) uint32

func closeStream(streamType uint32) uint32 { return proxyCloseStream(streamType) }

// replyWithDetails sends an empty-bodied local reply with no headers.
func replyWithDetails(status uint32, details string) uint32 {
	d := unsafe.StringData(details)
	empty := []byte{0, 0, 0, 0}
	return proxySendLocalResponse(status, d, uint32(len(details)), nil, 0, &empty[0], 4, -1)
}
