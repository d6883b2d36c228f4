package host

import (
	"errors"
	"strconv"
	"strings"
)

// ErrStreamReset is a stream Envoy reset instead of answering: the plugin
// called proxy_close_stream, or sent a local reply after the response headers
// had already gone to the client. The client sees no HTTP response.
var ErrStreamReset = errors.New("stream reset")

// isGRPCRequest is Envoy's Grpc::Common::isGrpcRequestHeaders
// (source/common/grpc/common.cc, hasGrpcContentType): content-type exactly
// application/grpc or application/grpc+<codec>; application/grpc-web is not.
// Envoy decides this on the headers as they reach the filter, before the
// filter can change them (source/common/http/filter_manager.h,
// ActiveStreamDecoderFilter::decodeHeaders).
func isGRPCRequest(h Headers) bool {
	ct, _ := h.Get("content-type")
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+')
}

// httpToGRPCStatus is Envoy's Grpc::Utility::httpToGrpcStatus
// (source/common/grpc/status.cc), which follows grpc's
// doc/http-grpc-status-mapping.md.
func httpToGRPCStatus(code int) int {
	switch code {
	case 400:
		return 13 // INTERNAL
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404:
		return 12 // UNIMPLEMENTED
	case 429, 502, 503, 504:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// replaceAllEmptySpace is Envoy's StringUtil::replaceAllEmptySpace, applied
// to a wasm local reply's details (source/extensions/common/wasm/context.cc,
// Context::sendLocalResponse): access logs must not split on them.
func replaceAllEmptySpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\v', '\f', '\r':
			return '_'
		}
		return r
	}, s)
}

// grpcPercentEncode is Envoy's Http::Utility::PercentEncoding::encode for
// grpc-message: bytes outside printable ASCII, and '%' itself, become %XX.
func grpcPercentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || c == '%' {
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)>>4, 16)+strconv.FormatUint(uint64(c)&15, 16)))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// prepareLocalReply builds a local reply's headers and body as Envoy's
// Http::Utility::prepareLocalReply (source/common/http/utility.cc) does; end
// is true when the headers end the stream (no body frame follows):
//   - the plugin's headers are added (modify_headers) before anything else;
//   - a gRPC request gets a trailers-only 200: content-type application/grpc,
//     grpc-status (unless the plugin set one) from the plugin's grpc_status,
//     else mapped from the HTTP status, the body percent-encoded into
//     grpc-message (not for HEAD), no content-length and no body;
//   - otherwise a body sets content-length and, if absent, content-type
//     text/plain; an empty body removes both, even ones the plugin set;
//   - a HEAD request gets the headers only (encodeLocalReply).
func prepareLocalReply(r *LocalReply, grpc, head bool) (h Headers, body []byte, end bool) {
	h = Headers{{":status", strconv.Itoa(r.Status)}}
	// Context::sendLocalResponse adds the plugin's headers with addCopy.
	for _, kv := range r.Headers {
		responseRules.add(&h, kv[0], kv[1])
	}
	if grpc {
		h.Set(":status", "200")
		h.Set("content-type", "application/grpc")
		if _, ok := h.Get("grpc-status"); !ok {
			code := httpToGRPCStatus(r.Status)
			if r.GRPCStatus >= 0 && r.GRPCStatus <= 16 {
				code = int(r.GRPCStatus)
			}
			h.Set("grpc-status", strconv.Itoa(code))
		}
		if len(r.Body) > 0 && !head {
			h.Set("grpc-message", grpcPercentEncode(string(r.Body)))
		}
		h.Del("content-length")
		return h, nil, true
	}
	if len(r.Body) > 0 {
		h.Set("content-length", strconv.Itoa(len(r.Body)))
		if _, ok := h.Get("content-type"); !ok {
			h.Set("content-type", "text/plain")
		}
	} else {
		h.Del("content-length")
		h.Del("content-type")
	}
	if head || len(r.Body) == 0 {
		return h, nil, true
	}
	return h, r.Body, false
}
