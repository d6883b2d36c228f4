package host

import (
	"errors"
	"strconv"
	"time"
)

// Request is what a client sends.
type Request struct {
	Method    string
	Path      string // the raw :path, query included
	Authority string // "api.example.com" if empty
	Scheme    string // "https" if empty
	Headers   Headers
	Body      []byte
	Trailers  Headers
	// Source is the downstream "ip:port"; "203.0.113.7:51000" if empty.
	Source string
}

// UpstreamRequest is what reached the upstream, after the plugin.
type UpstreamRequest struct {
	Headers Headers
	Body    []byte
}

// Response is what the upstream answers.
type Response struct {
	Status  int
	Headers Headers
	Body    []byte
}

// Upstream serves requests that the plugin let through.
type Upstream func(*UpstreamRequest) *Response

// Result is what the client saw, and what the upstream received.
type Result struct {
	Status  int
	Headers Headers
	Body    []byte
	// Upstream is nil when the request never reached the upstream.
	Upstream *UpstreamRequest
	// LocalReply is the plugin's local reply, if it sent one.
	LocalReply *LocalReply
	// Err is a trap (the VM failed: Envoy answers 503 wasm_fail_stream when
	// failing closed), ErrStalled or ErrStreamReset (no response at all).
	Err error
}

// DefaultWait is how long RoundTrip waits for a paused stream.
const DefaultWait = 10 * time.Second

// RoundTrip runs one whole stream through the VM in Envoy's order: request
// headers, body and trailers; the upstream (if the plugin let the request
// through) or the plugin's local reply; response headers and body; then log,
// done and delete.
func (vm *VM) RoundTrip(req Request, upstream Upstream) *Result {
	if req.Authority == "" {
		req.Authority = "api.example.com"
	}
	if req.Scheme == "" {
		req.Scheme = "https"
	}
	if req.Source == "" {
		req.Source = "203.0.113.7:51000"
	}
	s, err := vm.NewStream(StreamInfo{SourceAddress: req.Source})
	if err != nil {
		return failed(err)
	}
	res := s.roundTrip(req, upstream)
	if err := s.Finish(); err != nil && res.Err == nil {
		res.Err = err
	}
	return res
}

func failed(err error) *Result {
	return &Result{Status: 503, Err: err, LocalReply: &LocalReply{Status: 503, Details: "wasm_fail_stream", GRPCStatus: -1}}
}

func (s *Stream) roundTrip(req Request, upstream Upstream) *Result {
	h := Headers{{":method", req.Method}, {":path", req.Path}, {":authority", req.Authority}, {":scheme", req.Scheme}}
	for _, kv := range req.Headers {
		h.Add(kv[0], kv[1])
	}
	if len(req.Body) > 0 {
		h.Set("content-length", strconv.Itoa(len(req.Body)))
	}
	hasBody, hasTrailers := len(req.Body) > 0, len(req.Trailers) > 0
	// A pause in any phase holds the stream until the plugin resumes or
	// answers it; Envoy buffers what arrives meanwhile and delivers it after.
	wait := func(act Action, err error) (Action, error) {
		if act == Pause && err == nil {
			return s.Wait(DefaultWait)
		}
		return act, err
	}
	act, err := wait(s.RequestHeaders(h, !hasBody && !hasTrailers))
	var forwarded []byte
	if err == nil && act == Continue && hasBody {
		forwarded, act, err = s.RequestBody(req.Body, !hasTrailers)
		if act == Pause && err == nil {
			if act, err = s.Wait(DefaultWait); act == Continue {
				forwarded = s.TakeRequestBody()
			}
		}
	}
	if err == nil && act == Continue && hasTrailers {
		act, err = wait(s.RequestTrailers(req.Trailers))
	}
	if err != nil {
		return s.failedResult(err)
	}
	if act == Reply {
		return s.replyResult()
	}
	up := &UpstreamRequest{Headers: s.UpstreamRequestHeaders(), Body: forwarded}
	resp := upstream(up)
	rh := Headers{{":status", strconv.Itoa(resp.Status)}}
	for _, kv := range resp.Headers {
		rh.Add(kv[0], kv[1])
	}
	res := &Result{Status: resp.Status, Upstream: up, Body: resp.Body}
	act, err = wait(s.ResponseHeaders(rh, len(resp.Body) == 0))
	if err == nil && act == Continue && len(resp.Body) > 0 {
		res.Body, act, err = s.ResponseBody(resp.Body, true)
		if act == Pause && err == nil {
			if act, err = s.Wait(DefaultWait); act == Continue {
				res.Body = s.TakeResponseBody()
			}
		}
	}
	if err != nil {
		return s.failedResult(err)
	}
	if act == Reply {
		r := s.replyResult()
		r.Upstream = up
		return r
	}
	res.Headers = s.DownstreamResponseHeaders()
	if st, ok := res.Headers.Get(":status"); ok {
		res.Status, _ = strconv.Atoi(st)
	}
	return res
}

func (s *Stream) replyResult() *Result {
	h, body, err := s.EncodeLocalReply()
	res := &Result{Headers: h, Body: body, LocalReply: s.Reply(), Err: err}
	if st, ok := h.Get(":status"); ok {
		res.Status, _ = strconv.Atoi(st)
	}
	return res
}

// failedResult is what the client sees of a stream that failed: Envoy's
// Context::failStream answers 503 wasm_fail_stream (UNAVAILABLE for gRPC) to
// the stream whose callback trapped; a reset stream gets no response; a
// stalled one gets Envoy's stream idle timeout, 504.
func (s *Stream) failedResult(err error) *Result {
	switch {
	case errors.Is(err, ErrStreamReset):
		return &Result{Err: err}
	case errors.Is(err, ErrStalled):
		return &Result{Status: 504, Err: err}
	}
	r := &LocalReply{Status: 503, Details: "wasm_fail_stream", GRPCStatus: 14}
	s.vm.mu.Lock()
	h, body, _ := prepareLocalReply(r, s.grpc, s.head)
	s.vm.mu.Unlock()
	st, _ := strconv.Atoi(h[0][1])
	return &Result{Status: st, Headers: h, Body: body, Err: err, LocalReply: r}
}
