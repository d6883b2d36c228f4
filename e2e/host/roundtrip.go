package host

import (
	"errors"
	"fmt"
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
	// TLS is the connection's TLS session, with the client's verified
	// certificate for mutual TLS; nil for plaintext.
	TLS *TLS
	// ChunkSize, if set, delivers the body in chunks of that many bytes, one
	// body callback each, as a client's data frames arrive.
	ChunkSize int
}

// UpstreamRequest is what reached the upstream, after the plugin.
type UpstreamRequest struct {
	Headers Headers
	Body    []byte
	// Route and Cluster are the Env's route table's choice, if it has one.
	Route, Cluster string
}

// Response is what the upstream answers.
type Response struct {
	Status   int
	Headers  Headers
	Body     []byte
	Trailers Headers
	// ChunkSize, if set, delivers the body in chunks of that many bytes.
	ChunkSize int
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
	// FilterState is what the plugin stored with proxy_set_property, as the
	// stream ended (Envoy's filter state wasm.<key>, for access logs).
	FilterState map[string]string
	// Err is a trap (the VM failed: Envoy answers 503 wasm_fail_stream when
	// failing closed), ErrStalled or ErrStreamReset (no response at all).
	Err error
}

// DefaultWait is how long RoundTrip waits for a paused stream.
const DefaultWait = 10 * time.Second

// RoundTrip runs one whole stream through the VM in Envoy's order: Envoy's
// request sanitization (SanitizeRequest; a request over the header limits is
// answered 431 before the plugin, which then sees only on_log), request
// headers, body chunks and trailers; the upstream (if the plugin let the
// request through) or the plugin's local reply; response headers, body chunks
// and trailers; then log, done and delete.
func (vm *VM) RoundTrip(req Request, upstream Upstream) *Result {
	req = req.withDefaults()
	h, status := vm.env.SanitizeRequest(req.headers(), req.Source)
	if status != 0 {
		// The HTTP/1 codec refuses it (ServerConnectionImpl::sendProtocolError).
		return vm.ReplyBeforeFilter(h, StreamInfo{SourceAddress: req.Source, TLS: req.TLS},
			&LocalReply{Status: status, Details: "http1.headers_too_large", Body: []byte("Request Header Fields Too Large"), GRPCStatus: -1})
	}
	s, err := vm.NewStream(StreamInfo{SourceAddress: req.Source, TLS: req.TLS})
	var res *Result
	if err != nil {
		// A failed VM: FAIL_CLOSED answers every new stream 503.
		vm.mu.Lock()
		s.grpc, s.head = isGRPCRequest(h), isHead(h)
		vm.mu.Unlock()
		res = s.failedResult(err)
	} else {
		res = s.roundTrip(h, req, upstream)
	}
	if err := s.Finish(); err != nil && res.Err == nil {
		res.Err = err
	}
	res.FilterState = s.filterStateCopy()
	return res
}

// defaultSource is the downstream address of a Request without one.
const defaultSource = "203.0.113.7:51000"

func (req Request) withDefaults() Request {
	if req.Authority == "" {
		req.Authority = "api.example.com"
	}
	if req.Scheme == "" {
		req.Scheme = "https"
	}
	if req.Source == "" {
		req.Source = defaultSource
	}
	return req
}

// headers are the request's headers as the client sends them.
func (req Request) headers() Headers {
	h := Headers{{":method", req.Method}, {":path", req.Path}, {":authority", req.Authority}, {":scheme", req.Scheme}}
	for _, kv := range req.Headers {
		h.Add(kv[0], kv[1])
	}
	if len(req.Body) > 0 {
		h.Set("content-length", strconv.Itoa(len(req.Body)))
	}
	return h
}

// FilterRequestHeaders is the request header map the plugin's
// proxy_on_request_headers sees for req, after Envoy's sanitization and its
// header map's inline joins, and the downstream address it comes from: what
// another host needs to replay the same stream (e2e/v8). A request Envoy
// refuses before the filter is an error.
func (e *Env) FilterRequestHeaders(req Request) (Headers, string, error) {
	req = req.withDefaults()
	h, status := e.SanitizeRequest(req.headers(), req.Source)
	if status != 0 {
		return nil, "", fmt.Errorf("envoy answers %d before the filter", status)
	}
	return e.requestRules.build(h), req.Source, nil
}

// ReplyBeforeFilter is a request answered before it reached the plugin: by
// an earlier filter, or by Envoy itself. The plugin's decode and encode
// callbacks never run (Context::encodeHeaders skips a context not created in
// the VM); its context is first created in log() (Context::log calls
// onCreate), where it can read the request and the reply's headers.
func (vm *VM) ReplyBeforeFilter(h Headers, info StreamInfo, r *LocalReply) *Result {
	vm.mu.Lock()
	s := vm.newStreamLocked(info)
	s.reqHeaders = vm.env.requestRules.build(h)
	s.grpc, s.head = isGRPCRequest(h), isHead(h)
	rh, body, _ := prepareLocalReply(r, s.grpc, s.head)
	s.reply, s.replySent, s.respSent = r, true, true
	s.respHeaders, s.respDetails = rh, r.Details
	s.respCode, _ = strconv.Atoi(rh[0][1])
	vm.mu.Unlock()
	res := &Result{Status: s.respCode, Headers: rh.Clone(), Body: body, LocalReply: r}
	res.Err = s.Finish()
	res.FilterState = s.filterStateCopy()
	return res
}

func (s *Stream) filterStateCopy() map[string]string {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	out := make(map[string]string, len(s.filterState))
	for k, v := range s.filterState {
		out[k] = string(v)
	}
	return out
}

// chunks splits b into parts of n bytes (one part if n <= 0).
func chunks(b []byte, n int) [][]byte {
	if n <= 0 || len(b) <= n {
		return [][]byte{b}
	}
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// body delivers a body chunk by chunk through fn; a pause on a chunk means
// the filter buffers (Envoy keeps calling it with what arrives), a pause at
// the end holds the stream until the plugin resumes or answers it. It
// returns what went on, and whether the plugin still holds the body.
func (s *Stream) body(b []byte, size int, trailers bool, fn func([]byte, bool) ([]byte, Action, error),
	take func() []byte) (out []byte, act Action, held bool, err error) {
	parts := chunks(b, size)
	for i, part := range parts {
		var o []byte
		o, act, err = fn(part, i == len(parts)-1 && !trailers)
		if err != nil || act == Reply {
			return out, act, false, err
		}
		out = append(out, o...)
	}
	if act == Pause {
		if trailers {
			return out, Continue, true, nil
		}
		if act, err = s.Wait(DefaultWait); act == Continue {
			out = append(out, take()...)
		}
	}
	return out, act, false, err
}

func (s *Stream) roundTrip(h Headers, req Request, upstream Upstream) *Result {
	hasBody, hasTrailers := len(req.Body) > 0, len(req.Trailers) > 0
	// A pause in any phase holds the stream until the plugin resumes or
	// answers it; Envoy buffers what arrives meanwhile and delivers it after.
	wait := func(act Action, err error) (Action, error) {
		if act == Pause && err == nil {
			return s.Wait(DefaultWait)
		}
		return act, err
	}
	act, err := s.RequestHeaders(h, !hasBody && !hasTrailers)
	if act == Pause && hasBody && s.vm.env.cfg.AllowOnHeadersStopIteration {
		// StopIteration: the body goes to the plugin at once.
		act = Continue
	} else {
		act, err = wait(act, err)
	}
	var forwarded []byte
	held := false
	if err == nil && act == Continue && hasBody {
		forwarded, act, held, err = s.body(req.Body, req.ChunkSize, hasTrailers, s.RequestBody, s.TakeRequestBody)
	}
	if err == nil && act == Continue && hasTrailers {
		if act, err = wait(s.RequestTrailers(req.Trailers)); act == Continue && held {
			forwarded = append(forwarded, s.TakeRequestBody()...)
		}
	}
	if err != nil {
		return s.failedResult(err)
	}
	if act == Reply {
		return s.replyResult()
	}
	up := &UpstreamRequest{Headers: s.UpstreamRequestHeaders(), Body: forwarded}
	if r, ok := s.upstreamRoute(up.Headers); ok {
		// The router answers what it cannot route (Router::Filter::decodeHeaders).
		switch {
		case r == nil:
			return s.routerReply(&LocalReply{Status: 404, Details: "route_not_found", GRPCStatus: -1})
		case r.DirectStatus != 0:
			return s.routerReply(&LocalReply{Status: r.DirectStatus, Details: "direct_response", GRPCStatus: -1})
		}
		up.Route, up.Cluster = r.Name, r.Cluster
	}
	resp := upstream(up)
	rh := Headers{{":status", strconv.Itoa(resp.Status)}}
	for _, kv := range resp.Headers {
		rh.Add(kv[0], kv[1])
	}
	res := &Result{Status: resp.Status, Upstream: up, Body: resp.Body}
	hasBody, hasTrailers = len(resp.Body) > 0, len(resp.Trailers) > 0
	act, err = wait(s.ResponseHeaders(rh, !hasBody && !hasTrailers))
	if err == nil && act == Continue && hasBody {
		res.Body, act, held, err = s.body(resp.Body, resp.ChunkSize, hasTrailers, s.ResponseBody, s.TakeResponseBody)
	}
	if err == nil && act == Continue && hasTrailers {
		if act, err = wait(s.ResponseTrailers(resp.Trailers)); act == Continue && held {
			res.Body = append(res.Body, s.TakeResponseBody()...)
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

// routerReply is a local reply from Envoy itself (the router, a timeout),
// not the plugin: it is encoded like the plugin's, through the filter chain.
func (s *Stream) routerReply(r *LocalReply) *Result {
	s.vm.mu.Lock()
	s.reply = r
	s.vm.mu.Unlock()
	return s.replyResult()
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
// the stream whose callback trapped, or resets it if the response headers
// already went out (FilterManager::sendLocalReply); a reset stream gets no
// response. A stalled stream gets what Envoy's stream idle timeout sends
// (ActiveStream::onIdleTimeout): a 408 "stream timeout" local reply, through
// the filter chain, or the end of a response already started.
func (s *Stream) failedResult(err error) *Result {
	if errors.Is(err, ErrStalled) {
		res := s.routerReply(&LocalReply{Status: 408, Details: "stream_idle_timeout", Body: []byte("stream timeout"), GRPCStatus: -1})
		res.Err = err
		return res
	}
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	if errors.Is(err, ErrStreamReset) || s.respSent {
		return &Result{Err: err}
	}
	r := &LocalReply{Status: 503, Details: "wasm_fail_stream", GRPCStatus: 14}
	h, body, _ := prepareLocalReply(r, s.grpc, s.head)
	st, _ := strconv.Atoi(h[0][1])
	return &Result{Status: st, Headers: h, Body: body, Err: err, LocalReply: r}
}
