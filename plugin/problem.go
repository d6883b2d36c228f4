package main

import (
	"strconv"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/filters/verdict"
)

// problemTypePrefix makes a reason code an RFC 9457 problem type URI.
const problemTypePrefix = "urn:apiguard:problem:"

// internalError is what a request gets when the plugin itself fails.
var internalError = verdict.Deny(verdict.Internal, "")

// problemBody renders an RFC 9457 problem document. Every string in it is a
// fixed text chosen by a stage, never request data, so no escaping beyond
// JSON's is needed and nothing the client sent is reflected.
func problemBody(d verdict.Decision) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"type":`...)
	b = strconv.AppendQuote(b, problemTypePrefix+d.Reason.Code())
	b = append(b, `,"title":`...)
	b = strconv.AppendQuote(b, d.Reason.Title())
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(d.Reason.Status()), 10)
	if d.Detail != "" {
		b = append(b, `,"detail":`...)
		b = strconv.AppendQuote(b, d.Detail)
	}
	return append(b, '}')
}

// sendProblem answers the stream with a local reply. Its problem type is also
// recorded as filter state (wasm.apiguard_decision) for Envoy's access logs.
func sendProblem(d verdict.Decision) {
	headers := make([][2]string, 0, 3+len(d.Headers))
	headers = append(headers, [2]string{"content-type", "application/problem+json"}, [2]string{"cache-control", "no-store"})
	if c := challenge(d.Reason); c != "" {
		headers = append(headers, [2]string{"www-authenticate", c})
	}
	headers = append(headers, d.Headers...)
	_ = proxywasm.SetProperty([]string{"apiguard_decision"}, []byte(d.Reason.Code()))
	if err := proxywasm.SendHttpResponse(uint32(d.Reason.Status()), headers, problemBody(d), -1); err != nil {
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
