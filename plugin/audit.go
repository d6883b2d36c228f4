package main

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/filters/audit"
	"github.com/apiguard/apiguard/filters/verdict"
)

// audit writes the stream's audit record, when sampled, and sets its
// decision as filter state for Envoy's access log. It runs from
// proxy_on_log, where Envoy still lets the request's and the response's
// headers be read.
//
// A panic here loses the record and nothing else: the response has gone,
// so there is no stream left to fail closed, and a trap would fail every
// stream on this worker.
func (h *httpContext) audit(a *audit.Policy) {
	s := &h.stream
	defer func() {
		if r := recover(); r != nil {
			proxywasm.LogErrorf("apiguard: internal error writing the audit record of a stream on route %q: %v", s.Route, r)
		}
	}()
	o := audit.Decide(s)
	if s.Denied == verdict.None {
		// Denials set it when they answer (sendProblem).
		state := o.Decision
		if o.Reason != verdict.None {
			state += ":" + o.Reason.Code()
		}
		_ = setProperty("apiguard_decision", state)
	}
	if !a.Sampled(s.Denied != verdict.None, rand.Float64()) {
		return
	}
	in := audit.Input{Start: h.start, Duration: time.Since(h.start), Header: requestHeaders{}.Get}
	in.RequestID, _ = proxywasm.GetHttpRequestHeader("x-request-id")
	in.Method, _ = proxywasm.GetHttpRequestHeader(":method")
	if status, err := proxywasm.GetHttpResponseHeader(":status"); err == nil {
		in.Status, _ = strconv.Atoi(status)
	}
	if addr, err := proxywasm.GetProperty([]string{"source", "address"}); err == nil {
		in.Client = string(addr)
	}
	line := a.Append(make([]byte, 0, 512), s, &in, o)
	switch a.Level {
	case 0:
		proxywasm.LogTrace(string(line))
	case 1:
		proxywasm.LogDebug(string(line))
	case 2:
		proxywasm.LogInfo(string(line))
	case 3:
		proxywasm.LogWarn(string(line))
	case 4:
		proxywasm.LogError(string(line))
	default:
		proxywasm.LogCritical(string(line))
	}
}
