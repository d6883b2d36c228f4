package main

import (
	"strconv"
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// lifecycle runs the actions that exercise stream lifecycle, local replies,
// configuration and ticks; ok is false for an unknown action.
func (s *stream) lifecycle(action string) (act types.Action, ok bool) {
	switch action {
	case "reply-with":
		// x-probe-status, x-probe-body, x-probe-grpc and x-probe-reply-* shape the reply.
		status, _ := proxywasm.GetHttpRequestHeader("x-probe-status")
		code, _ := strconv.Atoi(status)
		body, _ := proxywasm.GetHttpRequestHeader("x-probe-body")
		g, err := proxywasm.GetHttpRequestHeader("x-probe-grpc")
		grpc := int64(-1)
		if err == nil {
			grpc, _ = strconv.ParseInt(g, 10, 32)
		}
		var headers [][2]string
		for _, name := range []string{"content-type", "content-length", "grpc-status"} {
			if v, err := proxywasm.GetHttpRequestHeader("x-probe-reply-" + name); err == nil {
				headers = append(headers, [2]string{name, v})
			}
		}
		_ = proxywasm.SendHttpResponse(uint32(code), headers, []byte(body), int32(grpc))
		return types.ActionPause, true
	case "reply-details":
		details, _ := proxywasm.GetHttpRequestHeader("x-probe-details")
		replyWithDetails(403, details)
		return types.ActionContinue, true
	case "close":
		kind, _ := proxywasm.GetHttpRequestHeader("x-probe-stream")
		n, _ := strconv.Atoi(kind)
		st := closeStream(uint32(n))
		_ = proxywasm.ReplaceHttpRequestHeader("x-probe-close-status", strconv.Itoa(int(st)))
		return types.ActionContinue, true
	case "reply-on-response", "reply-on-response-body", "hold-response":
		s.onResponse = action
		return types.ActionContinue, true
	case "hold":
		// Paused until a tick resumes it (root.held).
		s.root.held = append(s.root.held, held{id: s.id})
		return types.ActionPause, true
	case "read-config":
		_, err := proxywasm.GetPluginConfiguration()
		_ = proxywasm.ReplaceHttpRequestHeader("x-probe-config", errText(err))
		return types.ActionContinue, true
	}
	return types.ActionContinue, false
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// OnHttpResponseBody holds the whole response for the next tick under
// hold-response, or answers with a local reply after the headers went out.
func (s *stream) OnHttpResponseBody(_ int, eos bool) types.Action {
	switch s.onResponse {
	case "hold-response":
		if eos {
			s.root.held = append(s.root.held, held{id: s.id, response: true})
		}
		return types.ActionPause
	case "reply-on-response-body":
		_ = proxywasm.SendHttpResponse(500, nil, []byte("too late"), -1)
		return types.ActionPause
	}
	return types.ActionContinue
}

// resumeHeld continues every stream held so far, request or response side.
func (r *root) resumeHeld() {
	for _, h := range r.held {
		if proxywasm.SetEffectiveContext(h.id) != nil {
			continue
		}
		if h.response {
			_ = proxywasm.ResumeHttpResponse()
		} else {
			_ = proxywasm.ResumeHttpRequest()
		}
	}
	r.held = r.held[:0]
}

// OnPluginDone counts root contexts shut down (a replaced configuration).
func (r *root) OnPluginDone() bool {
	proxywasm.DefineCounterMetric("probe.done").Increment(1)
	return true
}

// OnHttpRequestBody buffers the whole body under "buffer" and records the
// sizes its callbacks saw as filter state (the request headers are released
// by then).
func (s *stream) OnHttpRequestBody(size int, eos bool) types.Action {
	s.run(s.bodyCalls, "probe_body_result")
	if s.action != "buffer" {
		return types.ActionContinue
	}
	s.bodySizes = append(s.bodySizes, strconv.Itoa(size))
	if !eos {
		return types.ActionPause
	}
	_ = proxywasm.SetProperty([]string{"probe_body_sizes"}, []byte(strings.Join(s.bodySizes, ",")))
	return types.ActionContinue
}

func (s *stream) OnHttpRequestTrailers(n int) types.Action {
	t, _ := proxywasm.GetHttpRequestTrailers()
	s.trailers = append(s.trailers, "request:"+strconv.Itoa(n)+":"+pairs(t))
	if s.action == "buffer" {
		_ = proxywasm.SetProperty([]string{"probe_body_sizes"}, []byte(strings.Join(s.bodySizes, ",")))
	}
	return types.ActionContinue
}

func (s *stream) OnHttpResponseTrailers(n int) types.Action {
	t, _ := proxywasm.GetHttpResponseTrailers()
	s.trailers = append(s.trailers, "response:"+strconv.Itoa(n)+":"+pairs(t))
	return types.ActionContinue
}

func pairs(h [][2]string) string {
	var out []string
	for _, kv := range h {
		out = append(out, kv[0]+"="+kv[1])
	}
	return strings.Join(out, "&")
}

// OnHttpStreamDone records, as filter state, what the plugin can see in
// on_log: the request path, the response status and the trailers it saw.
func (s *stream) OnHttpStreamDone() {
	s.run(s.logCalls, "probe_log_result")
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	status, _ := proxywasm.GetHttpResponseHeader(":status")
	_ = proxywasm.SetProperty([]string{"probe_log"}, []byte(path+" "+status))
	_ = proxywasm.SetProperty([]string{"probe_trailers"}, []byte(strings.Join(s.trailers, " ")))
}
