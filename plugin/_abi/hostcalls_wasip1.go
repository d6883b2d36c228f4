//go:build wasip1 && go1.21

// This file is copied into the SDK's proxywasm/internal package by `make build`;
// see README.md beside it. It binds the SDK's host-call declarations (which v0.24.0
// only binds under TinyGo) to the proxy-wasm ABI 0.2.1 imports with upstream Go's
// go:wasmimport. Sizes cross the boundary as 32-bit values; return slots the host
// fills with a 4-byte pointer or size are passed as unsafe.Pointer to a zeroed
// 8-byte Go variable, so the host's little-endian write yields the right value.
//
// None of the imports is go:noescape: buffers passed to the host must stay reachable
// until the call returns, and the host may call back into proxy_on_memory_allocate.

package internal

import "unsafe"

//go:wasmimport env proxy_log
func proxyLog(level uint32, msg *byte, msgSize uint32) uint32

func ProxyLog(logLevel LogLevel, messageData *byte, messageSize int) Status {
	return Status(proxyLog(uint32(logLevel), messageData, uint32(messageSize)))
}

//go:wasmimport env proxy_send_local_response
func proxySendLocalResponse(statusCode uint32, details *byte, detailsSize uint32,
	body *byte, bodySize uint32, headers *byte, headersSize uint32, grpcStatus int32) uint32

func ProxySendLocalResponse(statusCode uint32, statusCodeDetailData *byte, statusCodeDetailsSize int,
	bodyData *byte, bodySize int, headersData *byte, headersSize int, grpcStatus int32,
) Status {
	return Status(proxySendLocalResponse(statusCode, statusCodeDetailData, uint32(statusCodeDetailsSize),
		bodyData, uint32(bodySize), headersData, uint32(headersSize), grpcStatus))
}

//go:wasmimport env proxy_get_shared_data
func proxyGetSharedData(key *byte, keySize uint32, retData unsafe.Pointer, retSize unsafe.Pointer, retCas *uint32) uint32

func ProxyGetSharedData(keyData *byte, keySize int, returnValueData **byte, returnValueSize *int, returnCas *uint32) Status {
	*returnValueData, *returnValueSize = nil, 0
	return Status(proxyGetSharedData(keyData, uint32(keySize),
		unsafe.Pointer(returnValueData), unsafe.Pointer(returnValueSize), returnCas))
}

//go:wasmimport env proxy_set_shared_data
func proxySetSharedData(key *byte, keySize uint32, value *byte, valueSize uint32, cas uint32) uint32

func ProxySetSharedData(keyData *byte, keySize int, valueData *byte, valueSize int, cas uint32) Status {
	return Status(proxySetSharedData(keyData, uint32(keySize), valueData, uint32(valueSize), cas))
}

//go:wasmimport env proxy_register_shared_queue
func proxyRegisterSharedQueue(name *byte, nameSize uint32, retID *uint32) uint32

func ProxyRegisterSharedQueue(nameData *byte, nameSize int, returnID *uint32) Status {
	return Status(proxyRegisterSharedQueue(nameData, uint32(nameSize), returnID))
}

//go:wasmimport env proxy_resolve_shared_queue
func proxyResolveSharedQueue(vmID *byte, vmIDSize uint32, name *byte, nameSize uint32, retID *uint32) uint32

func ProxyResolveSharedQueue(vmIDData *byte, vmIDSize int, nameData *byte, nameSize int, returnID *uint32) Status {
	return Status(proxyResolveSharedQueue(vmIDData, uint32(vmIDSize), nameData, uint32(nameSize), returnID))
}

//go:wasmimport env proxy_dequeue_shared_queue
func proxyDequeueSharedQueue(queueID uint32, retData unsafe.Pointer, retSize unsafe.Pointer) uint32

func ProxyDequeueSharedQueue(queueID uint32, returnValueData **byte, returnValueSize *int) Status {
	*returnValueData, *returnValueSize = nil, 0
	return Status(proxyDequeueSharedQueue(queueID, unsafe.Pointer(returnValueData), unsafe.Pointer(returnValueSize)))
}

//go:wasmimport env proxy_enqueue_shared_queue
func proxyEnqueueSharedQueue(queueID uint32, value *byte, valueSize uint32) uint32

func ProxyEnqueueSharedQueue(queueID uint32, valueData *byte, valueSize int) Status {
	return Status(proxyEnqueueSharedQueue(queueID, valueData, uint32(valueSize)))
}

//go:wasmimport env proxy_get_header_map_value
func proxyGetHeaderMapValue(mapType uint32, key *byte, keySize uint32, retData unsafe.Pointer, retSize unsafe.Pointer) uint32

func ProxyGetHeaderMapValue(mapType MapType, keyData *byte, keySize int, returnValueData **byte, returnValueSize *int) Status {
	*returnValueData, *returnValueSize = nil, 0
	return Status(proxyGetHeaderMapValue(uint32(mapType), keyData, uint32(keySize),
		unsafe.Pointer(returnValueData), unsafe.Pointer(returnValueSize)))
}

//go:wasmimport env proxy_add_header_map_value
func proxyAddHeaderMapValue(mapType uint32, key *byte, keySize uint32, value *byte, valueSize uint32) uint32

func ProxyAddHeaderMapValue(mapType MapType, keyData *byte, keySize int, valueData *byte, valueSize int) Status {
	return Status(proxyAddHeaderMapValue(uint32(mapType), keyData, uint32(keySize), valueData, uint32(valueSize)))
}

//go:wasmimport env proxy_replace_header_map_value
func proxyReplaceHeaderMapValue(mapType uint32, key *byte, keySize uint32, value *byte, valueSize uint32) uint32

func ProxyReplaceHeaderMapValue(mapType MapType, keyData *byte, keySize int, valueData *byte, valueSize int) Status {
	return Status(proxyReplaceHeaderMapValue(uint32(mapType), keyData, uint32(keySize), valueData, uint32(valueSize)))
}

//go:wasmimport env proxy_remove_header_map_value
func proxyRemoveHeaderMapValue(mapType uint32, key *byte, keySize uint32) uint32

func ProxyRemoveHeaderMapValue(mapType MapType, keyData *byte, keySize int) Status {
	return Status(proxyRemoveHeaderMapValue(uint32(mapType), keyData, uint32(keySize)))
}

//go:wasmimport env proxy_get_header_map_pairs
func proxyGetHeaderMapPairs(mapType uint32, retData unsafe.Pointer, retSize unsafe.Pointer) uint32

func ProxyGetHeaderMapPairs(mapType MapType, returnValueData **byte, returnValueSize *int) Status {
	*returnValueData, *returnValueSize = nil, 0
	return Status(proxyGetHeaderMapPairs(uint32(mapType), unsafe.Pointer(returnValueData), unsafe.Pointer(returnValueSize)))
}

//go:wasmimport env proxy_set_header_map_pairs
func proxySetHeaderMapPairs(mapType uint32, data *byte, size uint32) uint32

func ProxySetHeaderMapPairs(mapType MapType, mapData *byte, mapSize int) Status {
	return Status(proxySetHeaderMapPairs(uint32(mapType), mapData, uint32(mapSize)))
}

//go:wasmimport env proxy_get_buffer_bytes
func proxyGetBufferBytes(bufferType uint32, start uint32, maxSize uint32, retData unsafe.Pointer, retSize unsafe.Pointer) uint32

func ProxyGetBufferBytes(bufferType BufferType, start int, maxSize int, returnBufferData **byte, returnBufferSize *int) Status {
	*returnBufferData, *returnBufferSize = nil, 0
	return Status(proxyGetBufferBytes(uint32(bufferType), uint32(start), uint32(maxSize),
		unsafe.Pointer(returnBufferData), unsafe.Pointer(returnBufferSize)))
}

//go:wasmimport env proxy_set_buffer_bytes
func proxySetBufferBytes(bufferType uint32, start uint32, maxSize uint32, data *byte, size uint32) uint32

func ProxySetBufferBytes(bufferType BufferType, start int, maxSize int, bufferData *byte, bufferSize int) Status {
	return Status(proxySetBufferBytes(uint32(bufferType), uint32(start), uint32(maxSize), bufferData, uint32(bufferSize)))
}

//go:wasmimport env proxy_continue_stream
func proxyContinueStream(streamType uint32) uint32

func ProxyContinueStream(streamType StreamType) Status {
	return Status(proxyContinueStream(uint32(streamType)))
}

//go:wasmimport env proxy_close_stream
func proxyCloseStream(streamType uint32) uint32

func ProxyCloseStream(streamType StreamType) Status {
	return Status(proxyCloseStream(uint32(streamType)))
}

//go:wasmimport env proxy_http_call
func proxyHttpCall(upstream *byte, upstreamSize uint32, headers *byte, headersSize uint32,
	body *byte, bodySize uint32, trailers *byte, trailersSize uint32, timeout uint32, retCalloutID *uint32) uint32

func ProxyHttpCall(upstreamData *byte, upstreamSize int, headerData *byte, headerSize int,
	bodyData *byte, bodySize int, trailersData *byte, trailersSize int, timeout uint32, calloutIDPtr *uint32,
) Status {
	holdForCallout(currentState.activeContextID)
	return Status(proxyHttpCall(upstreamData, uint32(upstreamSize), headerData, uint32(headerSize),
		bodyData, uint32(bodySize), trailersData, uint32(trailersSize), timeout, calloutIDPtr))
}

//go:wasmimport env proxy_call_foreign_function
func proxyCallForeignFunction(name *byte, nameSize uint32, param *byte, paramSize uint32, retData unsafe.Pointer, retSize unsafe.Pointer) uint32

func ProxyCallForeignFunction(funcNamePtr *byte, funcNameSize int, paramPtr *byte, paramSize int, returnData **byte, returnSize *int) Status {
	*returnData, *returnSize = nil, 0
	return Status(proxyCallForeignFunction(funcNamePtr, uint32(funcNameSize), paramPtr, uint32(paramSize),
		unsafe.Pointer(returnData), unsafe.Pointer(returnSize)))
}

//go:wasmimport env proxy_set_tick_period_milliseconds
func proxySetTickPeriodMilliseconds(period uint32) uint32

func ProxySetTickPeriodMilliseconds(period uint32) Status {
	return Status(proxySetTickPeriodMilliseconds(period))
}

//go:wasmimport env proxy_set_effective_context
func proxySetEffectiveContext(contextID uint32) uint32

func ProxySetEffectiveContext(contextID uint32) Status {
	return Status(proxySetEffectiveContext(contextID))
}

//go:wasmimport env proxy_done
func proxyDone() uint32

func ProxyDone() Status {
	return Status(proxyDone())
}

//go:wasmimport env proxy_define_metric
func proxyDefineMetric(metricType uint32, name *byte, nameSize uint32, retID *uint32) uint32

// definedID is the return slot of every proxy_define_metric: passed to the
// import, the caller's own would escape, and the SDK's DefineCounterMetric
// would allocate a word for each of the thousands of counters a large
// configuration defines. The host writes it before the call returns, and
// calls nothing back in between.
var definedID uint32

func ProxyDefineMetric(metricType MetricType, metricNameData *byte, metricNameSize int, returnMetricIDPtr *uint32) Status {
	st := Status(proxyDefineMetric(uint32(metricType), metricNameData, uint32(metricNameSize), &definedID))
	*returnMetricIDPtr = definedID
	return st
}

//go:wasmimport env proxy_increment_metric
func proxyIncrementMetric(metricID uint32, offset int64) uint32

func ProxyIncrementMetric(metricID uint32, offset int64) Status {
	return Status(proxyIncrementMetric(metricID, offset))
}

//go:wasmimport env proxy_record_metric
func proxyRecordMetric(metricID uint32, value uint64) uint32

func ProxyRecordMetric(metricID uint32, value uint64) Status {
	return Status(proxyRecordMetric(metricID, value))
}

//go:wasmimport env proxy_get_metric
func proxyGetMetric(metricID uint32, retValue *uint64) uint32

func ProxyGetMetric(metricID uint32, returnMetricValue *uint64) Status {
	return Status(proxyGetMetric(metricID, returnMetricValue))
}

//go:wasmimport env proxy_get_property
func proxyGetProperty(path *byte, pathSize uint32, retData unsafe.Pointer, retSize unsafe.Pointer) uint32

func ProxyGetProperty(pathData *byte, pathSize int, returnValueData **byte, returnValueSize *int) Status {
	*returnValueData, *returnValueSize = nil, 0
	return Status(proxyGetProperty(pathData, uint32(pathSize), unsafe.Pointer(returnValueData), unsafe.Pointer(returnValueSize)))
}

//go:wasmimport env proxy_set_property
func proxySetProperty(path *byte, pathSize uint32, value *byte, valueSize uint32) uint32

func ProxySetProperty(pathData *byte, pathSize int, valueData *byte, valueSize int) Status {
	return Status(proxySetProperty(pathData, uint32(pathSize), valueData, uint32(valueSize)))
}
