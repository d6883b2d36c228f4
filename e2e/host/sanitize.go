package host

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// Envoy's codec limits on request headers (HttpConnectionManager
// max_request_headers_kb and common_http_protocol_options.max_headers_count
// defaults): a request over either is refused with 431 before any filter runs.
const (
	maxRequestHeaderBytes = 60 << 10
	maxRequestHeaders     = 100
)

// DefaultBufferLimit is Envoy's default per_connection_buffer_limit_bytes: the
// most a filter may buffer of a body before Envoy answers 413 (request) or
// 500 (response).
const DefaultBufferLimit = 1 << 20

// SanitizeRequest does to a request's headers what Envoy's HTTP connection
// manager does before any filter sees them
// (ConnectionManagerUtility::mutateRequestHeaders and cleanInternalHeaders in
// source/common/http/conn_manager_utility.cc), for a connection from source
// with xff_num_trusted_hops 0 and use_remote_address as configured:
//   - use_remote_address: the peer's IP is appended to x-forwarded-for and
//     x-forwarded-proto is overwritten from the connection (TLS when :scheme
//     is https); the request is internal when x-forwarded-for was absent and
//     the peer is in Config.InternalAddresses (none by default since Envoy
//     1.33), an edge request otherwise;
//   - x-forwarded-proto is set if absent;
//   - internal requests get x-envoy-internal: true; others lose the x-envoy
//     retry, timeout and tracing control headers, and edge requests also the
//     downstream-service and decorator headers;
//   - edge requests get x-envoy-external-address and a new x-request-id
//     (preserve_external_request_id false); others get one only if absent.
//
// A request over the header limits is not sanitized: status is 431 and the
// request never reaches a filter.
func (e *Env) SanitizeRequest(h Headers, source string) (out Headers, status int) {
	n, size := 0, 0
	for _, kv := range h {
		if !strings.HasPrefix(kv[0], ":") {
			n++
		}
		size += len(kv[0]) + len(kv[1])
	}
	if n > maxRequestHeaders || size > maxRequestHeaderBytes {
		return h, 431
	}
	return e.MutateRequestHeaders(h, source), 0
}

// The headers cleanInternalHeaders removes from requests that are not
// internal, and those it removes from edge requests only.
var (
	envoyControlHeaders = []string{"x-envoy-retriable-status-codes", "x-envoy-retriable-header-names",
		"x-envoy-retry-on", "x-envoy-retry-grpc-on", "x-envoy-max-retries", "x-envoy-upstream-alt-stat-name",
		"x-envoy-upstream-rq-timeout-ms", "x-envoy-upstream-rq-per-try-timeout-ms",
		"x-envoy-upstream-rq-timeout-alt-response", "x-envoy-expected-rq-timeout-ms", "x-envoy-force-trace",
		"x-envoy-ip-tags", "x-envoy-original-url", "x-envoy-hedge-on-per-try-timeout"}
	envoyEdgeHeaders = []string{"x-envoy-decorator-operation", "x-envoy-downstream-service-cluster",
		"x-envoy-downstream-service-node"}
)

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
