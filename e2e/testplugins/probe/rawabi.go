//go:build wasip1

package main

import "unsafe"

// The host calls the probe makes directly, bypassing the SDK, to see exactly
// what the host answers: status codes the SDK would fold into one error, and
// arguments the SDK never passes (a log level above critical, malformed pairs,
// record_metric on a counter). The host writes a 4-byte pointer into a zeroed
// 8-byte unsafe.Pointer slot (Go's wasm pointers are 64-bit), and a 4-byte size.

//go:wasmimport env proxy_log
func rawLog(level uint32, msg *byte, msgSize uint32) uint32

//go:wasmimport env proxy_get_status
func rawGetStatus(code *uint32, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_get_header_map_value
func rawGetHeaderMapValue(mapType uint32, key *byte, keySize uint32, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_get_header_map_pairs
func rawGetHeaderMapPairs(mapType uint32, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_set_header_map_pairs
func rawSetHeaderMapPairs(mapType uint32, data *byte, size uint32) uint32

//go:wasmimport env proxy_get_header_map_size
func rawGetHeaderMapSize(mapType uint32, retSize *uint32) uint32

//go:wasmimport env proxy_add_header_map_value
func rawAddHeaderMapValue(mapType uint32, key *byte, keySize uint32, value *byte, valueSize uint32) uint32

//go:wasmimport env proxy_replace_header_map_value
func rawReplaceHeaderMapValue(mapType uint32, key *byte, keySize uint32, value *byte, valueSize uint32) uint32

//go:wasmimport env proxy_remove_header_map_value
func rawRemoveHeaderMapValue(mapType uint32, key *byte, keySize uint32) uint32

//go:wasmimport env proxy_get_buffer_bytes
func rawGetBufferBytes(bufType uint32, start uint32, size uint32, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_get_property
func rawGetProperty(path *byte, pathSize uint32, retPtr unsafe.Pointer, retSize *uint32) uint32

//go:wasmimport env proxy_set_property
func rawSetProperty(path *byte, pathSize uint32, value *byte, valueSize uint32) uint32

//go:wasmimport env proxy_send_local_response
func rawSendLocal(status uint32, details *byte, detailsSize uint32, body *byte, bodySize uint32,
	headers *byte, headersSize uint32, grpcStatus int32) uint32

// rawSendLocalResponse sends an empty local reply with serialized headers.
func rawSendLocalResponse(status uint32, headers []byte) uint32 {
	return rawSendLocal(status, nil, 0, nil, 0, &headers[0], uint32(len(headers)), -1)
}

//go:wasmimport env proxy_continue_stream
func rawContinueStream(streamType uint32) uint32

//go:wasmimport env proxy_define_metric
func rawDefineMetric(metricType uint32, name *byte, nameSize uint32, retID *uint32) uint32

//go:wasmimport env proxy_increment_metric
func rawIncrementMetric(id uint32, delta int64) uint32

//go:wasmimport env proxy_record_metric
func rawRecordMetric(id uint32, value uint64) uint32

//go:wasmimport env proxy_get_metric
func rawGetMetric(id uint32, ret *uint64) uint32

// ptr returns a string's bytes for a host call (nil for "").
func ptr(s string) *byte { return unsafe.StringData(s) }

// hostBytes copies what the host wrote at (p, n).
func hostBytes(p unsafe.Pointer, n uint32) []byte {
	return append([]byte(nil), unsafe.Slice((*byte)(p), n)...)
}

//go:wasmimport env proxy_grpc_call
func rawGrpcCall(cluster *byte, clusterSize uint32, service *byte, serviceSize uint32, method *byte, methodSize uint32,
	metadata *byte, metadataSize uint32, message *byte, messageSize uint32, timeoutMS uint32, token *uint32) uint32

//go:wasmimport env proxy_grpc_cancel
func rawGrpcCancel(token uint32) uint32

//go:wasmimport env proxy_grpc_close
func rawGrpcClose(token uint32) uint32
