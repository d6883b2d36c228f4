package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/filters/verdict"
)

// internalError is what a request gets when the plugin itself fails.
var internalError = verdict.Deny(verdict.Internal, "")

// problemBody renders a denial's RFC 9457 problem document, with the
// violations a validation found, into b.
func problemBody(b []byte, d verdict.Decision) []byte {
	b = verdict.AppendReasonProblem(b, d.Reason, d.Detail())
	if vs := d.Violations(); len(vs) > 0 {
		b = append(b, `,"errors":[`...)
		for i, v := range vs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"in":`...)
			b = verdict.AppendJSONString(b, v.In)
			b = append(b, `,"pointer":`...)
			b = verdict.AppendJSONString(b, v.Pointer)
			b = append(b, `,"rule":`...)
			b = verdict.AppendJSONString(b, v.Rule)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// problemHeaders start every problem reply: nosniff on every one, whatever
// the hardening policy, as a browser must never render one as anything but
// JSON. reply and replyBody are the last reply's headers and body, reused:
// the host copies them when the reply is sent.
var (
	problemHeaders = [][2]string{{"content-type", "application/problem+json"}, {"cache-control", "no-store"},
		{"x-content-type-options", "nosniff"}}
	reply     [][2]string
	replyBody []byte
)

// sendProblem answers the stream with a local reply, its response phase
// run (respond). Its problem type is also recorded as filter state
// (wasm.apiguard_decision) for Envoy's access logs.
func (h *httpContext) sendProblem(d verdict.Decision) {
	reply = append(reply[:0], problemHeaders...)
	if c := challenge(d.Reason); c != "" {
		reply = appendPair(reply, "www-authenticate", c)
	}
	reply = append(reply, d.Headers()...)
	_ = setProperty("apiguard_decision", d.Reason.Code())
	status := d.Reason.Status()
	reply = h.respond(status, reply)
	replyBody = problemBody(replyBody[:0], d)
	err := sendLocalResponse(status, reply, replyBody, grpcStatus(status))
	clear(reply)
	if err != nil {
		proxywasm.LogErrorf("apiguard: cannot send local reply: %v", err)
	}
}

// challenge is the RFC 6750 section 3 WWW-Authenticate value for an
// authentication failure: no error code when no credential was sent,
// invalid_request for a malformed request, invalid_token otherwise.
func challenge(r verdict.Reason) string {
	switch {
	case r == verdict.TokenMissing:
		return `Bearer realm="apiguard"`
	case r == verdict.TokenDuplicate:
		return `Bearer realm="apiguard", error="invalid_request"`
	case r.Status() == 401:
		return `Bearer realm="apiguard", error="invalid_token"`
	}
	return ""
}

// grpcStatus is the gRPC status code a gRPC client gets for a denial; Envoy
// uses it only for gRPC requests (Utility::prepareLocalReply), which receive a
// trailers-only 200 with this grpc-status and the problem body in
// grpc-message. Envoy's own mapping (Grpc::Utility::httpToGrpcStatus) would
// turn 400 into INTERNAL and 429 into UNAVAILABLE, which clients retry: each
// status is mapped here to the code a gRPC server would have answered.
func grpcStatus(httpStatus int) int32 {
	switch httpStatus {
	case 400:
		return 3 // INVALID_ARGUMENT
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404, 405:
		return 12 // UNIMPLEMENTED: no such method on this server
	case 429:
		return 8 // RESOURCE_EXHAUSTED
	case 503:
		return 14 // UNAVAILABLE
	}
	return 13 // INTERNAL
}
