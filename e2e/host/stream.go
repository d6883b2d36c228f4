package host

import (
	"errors"
	"strconv"
	"time"
)

// ErrStalled is returned when a paused stream is neither resumed nor answered
// within the wait: in Envoy the client would hang until a timeout fires.
var ErrStalled = errors.New("stream paused and never resumed")

// Action is what a callback told the host.
type Action int

const (
	// Continue lets the data flow on.
	Continue Action = iota
	// Pause holds the stream until continue_stream or a local reply.
	Pause
	// Reply means the plugin sent a local reply; the stream is answered.
	Reply
)

// LocalReply is what proxy_send_local_response asked for.
type LocalReply struct {
	Status  int
	Details string
	Headers Headers
	Body    []byte
	// GRPCStatus is -1 when no grpc-status is sent.
	GRPCStatus int32
}

// StreamInfo is the connection-level data properties expose.
type StreamInfo struct {
	// SourceAddress is the downstream "ip:port".
	SourceAddress string
	// Protocol is "HTTP/1.1" unless set.
	Protocol string
	// DestinationAddress is the listener's local "ip:port" (destination.*).
	DestinationAddress string
	// UpstreamAddress is the upstream host's "ip:port" (upstream.*, readable
	// once the upstream answered).
	UpstreamAddress string
	// RouteName and ClusterName are the matched route and its cluster
	// (xds.route_name, xds.cluster_name); empty means no route matched.
	RouteName, ClusterName string
	// TLS is the downstream connection's TLS session; nil for plaintext.
	TLS *TLS
}

// Stream is one HTTP stream on a VM, driven callback by callback in Envoy's
// order. Each method is one callback; the caller plays Envoy's filter manager.
type Stream struct {
	vm *VM
	id uint32
	// root is the root context (configuration) the stream was created under.
	root uint32
	info StreamInfo
	wake chan struct{}

	reqHeaders, respHeaders   Headers
	reqTrailers, respTrailers Headers
	// Which header maps a host call may touch right now; Envoy releases a map
	// once its callback continued (on_log may read both).
	reqHeadersOpen, respHeadersOpen bool
	reqBody, respBody               []byte
	reqBodyOpen, respBodyOpen       bool
	startTime                       time.Time
	respCode                        int
	respDetails                     string

	filterState map[string][]byte

	reply     *LocalReply
	replySent bool
	resumed   bool
	// paused is set while a request-headers pause waits to be resumed.
	paused   bool
	finished bool
	// grpc and head are what Envoy's filter manager decides from the request
	// headers as they reach the filter: they shape local replies.
	grpc, head bool
	// respStarted is set once response headers reached the filter, respSent
	// once they went on to the client: a local reply then goes straight to
	// the client, or resets the stream (FilterManager::sendLocalReply).
	respStarted, respSent bool
	// reset is set by proxy_close_stream.
	reset bool
	// route is the route Envoy picked before the filters; routeCleared is
	// set once the plugin edited the request headers.
	route        *Route
	routeCleared bool
	// created is set once proxy_on_context_create ran.
	created bool
	// reqBuffering and respBuffering are set while the plugin buffers a body
	// (its last body callback paused before the end).
	reqBuffering, respBuffering bool

	reqTrailersOpen bool
	// logPhase is set while proxy_on_log runs: reads then see the access
	// log's maps (Envoy's access_log_phase_).
	logPhase bool
	// upstreamResponded is set once the upstream's response headers arrived.
	upstreamResponded bool
}

// NewStream creates the stream's context (proxy_on_context_create).
func (vm *VM) NewStream(info StreamInfo) (*Stream, error) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	s := vm.newStreamLocked(info)
	return s, s.create()
}

func (vm *VM) newStreamLocked(info StreamInfo) *Stream {
	if info.Protocol == "" {
		info.Protocol = "HTTP/1.1"
	}
	s := &Stream{vm: vm, id: vm.newContextID(), root: vm.rootID, info: info, wake: make(chan struct{}, 1), startTime: vm.env.clock.Now()}
	vm.streams[s.id] = s
	if root := vm.roots[s.root]; root != nil {
		root.streams++
	}
	return s
}

// create runs proxy_on_context_create for the stream, once.
func (s *Stream) create() error {
	if s.created {
		return nil
	}
	s.created = true
	_, err := s.vm.call(fnContextCreate, uint64(s.id), uint64(s.root))
	return err
}

func isHead(h Headers) bool {
	m, _ := h.Get(":method")
	return m == "HEAD"
}

func (s *Stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// outcome turns a callback result into an Action: a local reply overrides
// whatever the callback returned, as Envoy forces it to stop.
func (s *Stream) outcome(ret uint64, err error) (Action, error) {
	if err != nil {
		return Reply, err
	}
	if s.reset {
		return Reply, ErrStreamReset
	}
	if s.reply != nil && !s.replySent {
		return Reply, nil
	}
	if ret == 1 {
		return Pause, nil
	}
	return Continue, nil
}

// RequestHeaders runs proxy_on_request_headers. h must hold :method, :path,
// :authority and :scheme.
func (s *Stream) RequestHeaders(h Headers, endOfStream bool) (Action, error) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	s.reqHeaders = s.vm.env.requestRules.build(h)
	s.grpc, s.head = isGRPCRequest(h), isHead(h)
	s.route = s.vm.env.route(h)
	s.reqHeadersOpen = true
	ret, err := s.vm.call(fnRequestHeaders, uint64(s.id), uint64(len(s.reqHeaders)), b2u(endOfStream))
	act, err := s.outcome(ret, err)
	if act == Continue {
		s.reqHeadersOpen = false
	}
	s.paused = act == Pause && !s.resumed
	return act, err
}

// RequestBody runs proxy_on_request_body with chunk appended to what the plugin
// buffered (by pausing) so far. It returns the bytes to forward upstream when
// the plugin continues.
func (s *Stream) RequestBody(chunk []byte, endOfStream bool) ([]byte, Action, error) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	if s.reqBuffering && len(s.reqBody)+len(chunk) > s.vm.env.cfg.BufferLimit {
		// ActiveStreamDecoderFilter::requestDataTooLarge: 413 without
		// calling the filter again.
		s.reply = &LocalReply{Status: 413, Details: "request_payload_too_large", Body: []byte("Payload Too Large"), GRPCStatus: -1}
		return nil, Reply, nil
	}
	s.reqBody = append(s.reqBody, chunk...)
	s.reqBodyOpen = true
	ret, err := s.vm.call(fnRequestBody, uint64(s.id), uint64(len(s.reqBody)), b2u(endOfStream))
	act, err := s.outcome(ret, err)
	s.reqBuffering = act == Pause
	if act != Continue {
		return nil, act, err
	}
	if s.paused {
		// Only under AllowOnHeadersStopIteration does a body reach paused
		// headers; continuing the body continues them too.
		s.paused, s.reqHeadersOpen = false, false
	}
	out := s.reqBody
	s.reqBody, s.reqBodyOpen = nil, false
	return out, Continue, nil
}

// RequestTrailers runs proxy_on_request_trailers.
func (s *Stream) RequestTrailers(t Headers) (Action, error) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	s.reqTrailers = t.Clone()
	s.reqTrailersOpen = true
	ret, err := s.vm.call(fnRequestTrailers, uint64(s.id), uint64(len(t)))
	act, err := s.outcome(ret, err)
	if act == Continue {
		s.reqTrailersOpen = false
	}
	return act, err
}

// UpstreamRequestHeaders returns the request headers as the plugin left them.
func (s *Stream) UpstreamRequestHeaders() Headers {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return s.reqHeaders.Clone()
}

// TakeRequestBody returns what the plugin buffered and releases it, after the
// stream was resumed.
func (s *Stream) TakeRequestBody() []byte {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	out := s.reqBody
	s.reqBody, s.reqBodyOpen = nil, false
	s.reqHeadersOpen = false
	return out
}

// Wait blocks until a paused stream is resumed (Continue), answered (Reply)
// or reset (ErrStreamReset), for at most d. A VM that trapped answers nothing:
// Envoy fails a stream only when one of its own callbacks finds the VM failed
// (CHECK_FAIL_HTTP in proxy-wasm-cpp-host src/context.cc), so a paused stream
// that gets no further callback waits for its timeout (ErrStalled).
func (s *Stream) Wait(d time.Duration) (Action, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		s.vm.mu.Lock()
		reset, reply, resumed := s.reset, s.reply, s.resumed
		s.resumed = false
		if reset || reply != nil || resumed {
			s.paused = false
		}
		if resumed && s.respStarted && s.reply == nil {
			// Resumed response headers go on to the client.
			s.respHeadersOpen, s.respSent = false, true
		}
		s.vm.mu.Unlock()
		switch {
		case reset:
			return Reply, ErrStreamReset
		case reply != nil:
			return Reply, nil
		case resumed:
			return Continue, nil
		}
		select {
		case <-s.wake:
		case <-timer.C:
			return Pause, ErrStalled
		}
	}
}

// ResponseHeaders runs proxy_on_response_headers; h must hold :status.
func (s *Stream) ResponseHeaders(h Headers, endOfStream bool) (Action, error) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	s.upstreamResponded = true
	// Envoy's router sets these details on a response from the upstream.
	s.respDetails = "via_upstream"
	return s.responseHeadersLocked(h, endOfStream)
}

// The request headers stay readable if the plugin never continued them (a
// local reply to a paused request): Envoy releases them only on Continue or
// continue_stream (Context::decodeHeaders, continueStream).
func (s *Stream) responseHeadersLocked(h Headers, endOfStream bool) (Action, error) {
	s.respStarted = true
	s.respHeaders = responseRules.build(h)
	s.respHeadersOpen = true
	if v, ok := h.Get(":status"); ok {
		s.respCode, _ = strconv.Atoi(v)
	}
	ret, err := s.vm.call(fnResponseHeaders, uint64(s.id), uint64(len(s.respHeaders)), b2u(endOfStream))
	act, err := s.outcome(ret, err)
	if act == Continue {
		s.respHeadersOpen = false
		s.respSent = true
	}
	return act, err
}

// ResponseBody runs proxy_on_response_body, like RequestBody.
func (s *Stream) ResponseBody(chunk []byte, endOfStream bool) ([]byte, Action, error) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return s.responseBodyLocked(chunk, endOfStream)
}

func (s *Stream) responseBodyLocked(chunk []byte, endOfStream bool) ([]byte, Action, error) {
	if s.respBuffering && len(s.respBody)+len(chunk) > s.vm.env.cfg.BufferLimit {
		// ActiveStreamEncoderFilter::responseDataTooLarge: a 500 if the
		// headers are still held, else a reset (EncodeLocalReply decides).
		s.reply = &LocalReply{Status: 500, Details: "response_payload_too_large", Body: []byte("Internal Server Error"), GRPCStatus: -1}
		return nil, Reply, nil
	}
	s.respBody = append(s.respBody, chunk...)
	s.respBodyOpen = true
	ret, err := s.vm.call(fnResponseBody, uint64(s.id), uint64(len(s.respBody)), b2u(endOfStream))
	act, err := s.outcome(ret, err)
	s.respBuffering = act == Pause
	// A pause at the end of the stream holds the response, as on the request
	// side, until continue_stream (FilterManager::encodeData stops iterating
	// and nothing resumes it): the caller waits, then takes the body.
	if act != Continue {
		return nil, act, err
	}
	out := s.respBody
	s.respBody, s.respBodyOpen = nil, false
	return out, Continue, err
}

// TakeResponseBody returns what the plugin buffered of the response and
// releases it, after a paused response was resumed.
func (s *Stream) TakeResponseBody() []byte {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	out := s.respBody
	s.respBody, s.respBodyOpen = nil, false
	s.respHeadersOpen = false
	s.respSent = true
	return out
}

// ResponseTrailers runs proxy_on_response_trailers.
func (s *Stream) ResponseTrailers(t Headers) (Action, error) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	s.respTrailers = t.Clone()
	ret, err := s.vm.call(fnResponseTrailers, uint64(s.id), uint64(len(t)))
	return s.outcome(ret, err)
}

// DownstreamResponseHeaders returns the response headers as the plugin left them.
func (s *Stream) DownstreamResponseHeaders() Headers {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return s.respHeaders.Clone()
}

// Reply returns the local reply the plugin sent, or nil.
func (s *Stream) Reply() *LocalReply {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	return s.reply
}

// EncodeLocalReply sends the plugin's local reply downstream the way Envoy's
// FilterManager::sendLocalReply (source/common/http/filter_manager.cc) does,
// shaped by Utility::prepareLocalReply (see prepareLocalReply):
//   - before any response: through the filter chain
//     (sendLocalReplyViaFilterChain), so the reply passes the plugin's own
//     response callbacks unless the Env says otherwise;
//   - once upstream response headers reached the filter but not the client
//     (a reply from on_response_headers, or from a body callback while they
//     were held): straight to the client (sendDirectLocalReply);
//   - once they went to the client: the stream is reset (ErrStreamReset).
//
// It returns the headers and body the client receives.
func (s *Stream) EncodeLocalReply() (Headers, []byte, error) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	r := s.reply
	if r == nil {
		return nil, nil, errors.New("no local reply")
	}
	s.replySent = true
	s.respDetails = r.Details
	if s.respSent {
		s.reset = true
		return nil, nil, ErrStreamReset
	}
	h, body, end := prepareLocalReply(r, s.grpc, s.head)
	if s.respStarted || s.vm.env.cfg.LocalReplySkipsFilter || s.vm.failed != nil {
		s.respHeaders, s.respSent = h, true
		s.respCode, _ = strconv.Atoi(h[0][1])
		return h.Clone(), body, nil
	}
	if _, err := s.responseHeadersLocked(h, end); err != nil {
		return h, body, err
	}
	if !end {
		out, _, err := s.responseBodyLocked(body, true)
		if err != nil {
			return s.respHeaders.Clone(), body, err
		}
		body = out
	}
	s.respSent = true
	return s.respHeaders.Clone(), body, nil
}

// Finish ends the stream as Envoy does: proxy_on_log, proxy_on_done, then
// proxy_on_delete. Envoy calls log before done, unlike the spec.
func (s *Stream) Finish() error {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	if s.finished {
		return nil
	}
	s.finished = true
	defer s.release()
	if err := s.create(); err != nil {
		return err
	}
	s.logPhase = true
	_, err := s.vm.call(fnLog, uint64(s.id))
	s.logPhase = false
	if err != nil {
		return err
	}
	if _, err := s.vm.call(fnDone, uint64(s.id)); err != nil {
		return err
	}
	_, err = s.vm.call(fnDelete, uint64(s.id))
	return err
}

// release forgets the stream; the last stream of a replaced configuration
// lets its root context shut down.
func (s *Stream) release() {
	delete(s.vm.streams, s.id)
	if root := s.vm.roots[s.root]; root != nil {
		root.streams--
		s.vm.maybeRetire(root)
	}
}

// FilterState returns what the plugin stored with proxy_set_property under
// key (Envoy's filter state wasm.<key>), for access logs.
func (s *Stream) FilterState(key string) (string, bool) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	v, ok := s.filterState[key]
	return string(v), ok
}

// PausedStreams is how many streams wait, paused in their request headers,
// for the plugin to resume or answer them: tests use it to act only once a
// request really waits.
func (vm *VM) PausedStreams() int {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	n := 0
	for _, s := range vm.streams {
		if s.paused {
			n++
		}
	}
	return n
}
