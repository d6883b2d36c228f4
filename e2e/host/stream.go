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
}

// Stream is one HTTP stream on a VM, driven callback by callback in Envoy's
// order. Each method is one callback; the caller plays Envoy's filter manager.
type Stream struct {
	vm   *VM
	id   uint32
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
	if info.Protocol == "" {
		info.Protocol = "HTTP/1.1"
	}
	s := &Stream{vm: vm, id: vm.newContextID(), info: info, wake: make(chan struct{}, 1), startTime: vm.env.clock.Now()}
	vm.streams[s.id] = s
	if _, err := vm.call(fnContextCreate, uint64(s.id), uint64(vm.rootID)); err != nil {
		return s, err
	}
	return s, nil
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
	s.reqBody = append(s.reqBody, chunk...)
	s.reqBodyOpen = true
	ret, err := s.vm.call(fnRequestBody, uint64(s.id), uint64(len(s.reqBody)), b2u(endOfStream))
	act, err := s.outcome(ret, err)
	if act != Continue {
		return nil, act, err
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

// Wait blocks until a paused stream is resumed (Continue) or answered (Reply),
// or the VM fails, for at most d.
func (s *Stream) Wait(d time.Duration) (Action, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		s.vm.mu.Lock()
		failed, reply, resumed := s.vm.failed, s.reply, s.resumed
		s.resumed = false
		if failed != nil || reply != nil || resumed {
			s.paused = false
		}
		s.vm.mu.Unlock()
		switch {
		case failed != nil:
			return Reply, ErrVMFailed
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
	s.respHeaders = responseRules.build(h)
	s.respHeadersOpen = true
	if v, ok := h.Get(":status"); ok {
		s.respCode, _ = strconv.Atoi(v)
	}
	ret, err := s.vm.call(fnResponseHeaders, uint64(s.id), uint64(len(s.respHeaders)), b2u(endOfStream))
	act, err := s.outcome(ret, err)
	if act == Continue {
		s.respHeadersOpen = false
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
	s.respBody = append(s.respBody, chunk...)
	s.respBodyOpen = true
	ret, err := s.vm.call(fnResponseBody, uint64(s.id), uint64(len(s.respBody)), b2u(endOfStream))
	act, err := s.outcome(ret, err)
	if act == Pause && endOfStream {
		// Envoy has nothing more to give a filter that keeps buffering at the end.
		act = Continue
	}
	if act != Continue {
		return nil, act, err
	}
	out := s.respBody
	s.respBody, s.respBodyOpen = nil, false
	return out, Continue, err
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
// filter manager does: unless the Env says otherwise, the reply's headers and
// body pass through the plugin's own response callbacks. It returns the
// headers and body the client receives.
func (s *Stream) EncodeLocalReply() (Headers, []byte, error) {
	s.vm.mu.Lock()
	defer s.vm.mu.Unlock()
	r := s.reply
	if r == nil {
		return nil, nil, errors.New("no local reply")
	}
	s.replySent = true
	h := Headers{{":status", strconv.Itoa(r.Status)}}
	// Context::sendLocalResponse adds the plugin's headers with addCopy.
	for _, kv := range r.Headers {
		responseRules.add(&h, kv[0], kv[1])
	}
	if len(r.Body) > 0 {
		if _, ok := h.Get("content-type"); !ok {
			h.Add("content-type", "text/plain")
		}
		h.Set("content-length", strconv.Itoa(len(r.Body)))
	}
	if r.GRPCStatus >= 0 && r.GRPCStatus <= 16 {
		h.Add("grpc-status", strconv.Itoa(int(r.GRPCStatus)))
	}
	s.respDetails = r.Details
	if s.vm.env.cfg.LocalReplySkipsFilter || s.vm.failed != nil {
		s.respHeaders, s.respCode = h, r.Status
		return h, r.Body, nil
	}
	if _, err := s.responseHeadersLocked(h, len(r.Body) == 0); err != nil {
		return h, r.Body, err
	}
	body := r.Body
	if len(body) > 0 {
		out, _, err := s.responseBodyLocked(body, true)
		if err != nil {
			return s.respHeaders, body, err
		}
		body = out
	}
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
	defer delete(s.vm.streams, s.id)
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
