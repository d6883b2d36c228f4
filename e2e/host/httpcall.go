package host

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxHTTPCallBody bounds what the host reads of a callout response; Envoy's
// buffer limit plays this role.
const maxHTTPCallBody = 16 << 20

// The bodies of the local replies Envoy's router gives an async client
// (source/common/router/router.cc, Filter::onUpstreamTimeout and
// Filter::onUpstreamReset), delivered as an ordinary response by
// AsyncStreamImpl::sendLocalReply (source/common/http/async_client_impl.cc).
const (
	upstreamTimeoutBody = "upstream request timeout"
	connectFailureBody  = "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused"
)

type httpCaller struct {
	clusters map[string]string
	client   *http.Client
	// h2c speaks HTTP/2 with prior knowledge, to clusters named with an
	// h2c:// base URL: Envoy clusters with http2_protocol_options, such as
	// a gRPC service's.
	h2c *http.Client
	// bound, if set, caps calls the plugin gave no timeout (Envoy: none).
	bound time.Duration
}

func newHTTPCaller(clusters map[string]string, bound time.Duration) *httpCaller {
	// Envoy's async client neither follows redirects nor decompresses: the
	// plugin gets the upstream's response as it is.
	client := &http.Client{
		Transport: &http.Transport{DisableCompression: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	var h2 http.Protocols
	h2.SetUnencryptedHTTP2(true)
	h2c := &http.Client{
		Transport:     &http.Transport{DisableCompression: true, Proxy: nil, Protocols: &h2},
		CheckRedirect: client.CheckRedirect,
	}
	return &httpCaller{clusters: clusters, client: client, h2c: h2c, bound: bound}
}

// httpCallResult is what proxy_on_http_call_response exposes: header map 6,
// trailer map 7, buffer 4.
type httpCallResult struct {
	headers, trailers Headers
	body              []byte
	failed            bool
}

// pendingCall is a dispatched call whose callback has not run yet.
type pendingCall struct {
	root     uint32
	deadline time.Time // zero: no timeout
	cancel   context.CancelFunc
	// gotHeaders is set once the upstream answered headers: a timeout after
	// that resets the call instead of answering 504.
	gotHeaders bool
	// grpc: the request is gRPC (an http call with gRPC's content-type, or
	// a proxy_grpc_call), and Envoy's local replies to it are too.
	grpc bool
}

// localReply is a response Envoy's router made up for the call. To a gRPC
// request (content-type application/grpc) it is gRPC's trailers-only form:
// 200 with grpc-status mapped from the HTTP status and the body as
// grpc-message (source/common/http/utility.cc, Utility::sendLocalReply with
// is_grpc, which the async client's stream uses too).
func localReply(status int, body string, grpc bool) *httpCallResult {
	if grpc {
		r := &httpCallResult{}
		r.headers = Headers{{":status", "200"}, {"content-type", "application/grpc"},
			{"grpc-status", strconv.Itoa(httpToGRPCStatus(status))}, {"grpc-message", grpcPercentEncode(body)}}
		return r
	}
	r := &httpCallResult{body: []byte(body)}
	r.headers = Headers{{":status", strconv.Itoa(status)}, {"content-length", strconv.Itoa(len(body))}, {"content-type", "text/plain"}}
	return r
}

// dispatchHTTPCall implements proxy_http_call as Envoy's Context::httpCall
// (source/extensions/common/wasm/context.cc): the upstream is a cluster name
// (unknown: BAD_ARGUMENT); :method, :path and :authority are required; a
// timeout of 0 means none; a known cluster with no healthy host fails inside
// AsyncClient::send, which then returns no request, so the call is
// INTERNAL_FAILURE and its callback never runs. The response arrives later on
// the root context, from another goroutine, as Envoy's dispatcher delivers it.
func (vm *VM) dispatchHTTPCall(s []uint64) status {
	cluster, ok1 := vm.readString(u32(s[0]), u32(s[1]))
	hdrBytes, ok2 := vm.read(u32(s[2]), u32(s[3]))
	body, ok3 := vm.read(u32(s[4]), u32(s[5]))
	if !ok1 || !ok2 || !ok3 {
		return statusInvalidMemory
	}
	// Envoy Context::httpCall takes the timeout as an int: 2^31 ms or more
	// is negative there, BAD_ARGUMENT.
	if int32(u32(s[8])) < 0 {
		return statusBadArgument
	}
	base, known := vm.env.http.clusters[cluster]
	if !known {
		return statusBadArgument
	}
	h, valid := deserializeHeaders(hdrBytes)
	method, okM := h.Get(":method")
	path, okP := h.Get(":path")
	authority, okA := h.Get(":authority")
	if !valid || !okM || !okP || !okA {
		return statusBadArgument
	}
	if base == "" {
		return statusInternalFailure
	}
	client := vm.env.http.client
	if rest, ok := strings.CutPrefix(base, "h2c://"); ok {
		base, client = "http://"+rest, vm.env.http.h2c
	}
	req, err := http.NewRequest(method, strings.TrimRight(base, "/")+path, bytes.NewReader(append([]byte(nil), body...)))
	if err != nil {
		return statusBadArgument
	}
	req.Host = authority
	for _, kv := range h {
		if !strings.HasPrefix(kv[0], ":") {
			req.Header.Add(kv[0], kv[1])
		}
	}
	vm.nextToken++
	token := vm.nextToken
	if !vm.mem.WriteUint32Le(u32(s[9]), token) {
		return statusInvalidMemory
	}
	timeout := time.Duration(u32(s[8])) * time.Millisecond
	if timeout == 0 {
		timeout = vm.env.http.bound
	}
	ctx, cancel := context.WithCancel(context.Background())
	call := &pendingCall{root: vm.rootOf(vm.effective), cancel: cancel, grpc: isGRPCRequest(h)}
	if timeout > 0 {
		call.deadline = vm.env.clock.Now().Add(timeout)
		if _, fake := vm.env.clock.(*FakeClock); !fake {
			ctx, cancel = context.WithTimeout(ctx, timeout)
			call.cancel = cancel
		}
	}
	vm.httpCalls[token] = call
	vm.pendingCalls.Add(1)
	go vm.env.http.do(client, call.grpc, req.WithContext(ctx), func() { vm.sawCallHeaders(token) }, func(r *httpCallResult) { vm.deliverHTTPCall(token, r) })
	return statusOK
}

func (c *httpCaller) do(client *http.Client, grpc bool, req *http.Request, sawHeaders func(), deliver func(*httpCallResult)) {
	resp, err := client.Do(req)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		deliver(localReply(504, upstreamTimeoutBody, grpc))
		return
	case err != nil:
		deliver(localReply(503, connectFailureBody, grpc))
		return
	}
	defer resp.Body.Close()
	sawHeaders()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPCallBody+1))
	if err != nil || len(body) > maxHTTPCallBody {
		// A reset after the headers, or a body over the buffer limit, is the
		// async client's onFailure: (0, 0, 0) with BROKEN_CONNECTION.
		deliver(&httpCallResult{failed: true})
		return
	}
	r := &httpCallResult{body: body}
	// Envoy's codec builds the response maps entry by entry: repeated
	// inline headers are joined.
	r.headers.Add(":status", strconv.Itoa(resp.StatusCode))
	for k, vs := range resp.Header {
		for _, v := range vs {
			responseRules.add(&r.headers, k, v)
		}
	}
	for k, vs := range resp.Trailer {
		for _, v := range vs {
			responseTrailerRules.add(&r.trailers, k, v)
		}
	}
	deliver(r)
}

func (vm *VM) sawCallHeaders(token uint32) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if c := vm.httpCalls[token]; c != nil {
		c.gotHeaders = true
	}
}

// deliverHTTPCall runs proxy_on_http_call_response on the root context that
// dispatched the call, unless the call was already answered (a fake-clock
// timeout) or its root context is gone (Envoy's ~Context cancels its calls).
// A failed call is reported as (0, 0, 0), with proxy_get_status answering
// BROKEN_CONNECTION (Context::onHttpCallFailure).
func (vm *VM) deliverHTTPCall(token uint32, r *httpCallResult) {
	defer vm.pendingCalls.Done()
	vm.mu.Lock()
	defer vm.mu.Unlock()
	vm.deliverLocked(token, r)
}

func (vm *VM) deliverLocked(token uint32, r *httpCallResult) {
	call, ok := vm.takeCall(vm.httpCalls, token)
	if !ok {
		return
	}
	vm.callResp = r
	defer func() { vm.callResp = nil }()
	if r.failed {
		vm.lastStatus = statusBrokenConnection
		_, _ = vm.call(fnHTTPCallResponse, uint64(call.root), uint64(token), 0, 0, 0)
		return
	}
	_, _ = vm.call(fnHTTPCallResponse, uint64(call.root), uint64(token),
		uint64(len(r.headers)), uint64(len(r.body)), uint64(len(r.trailers)))
}

// takeCall ends a pending call whose answer came: false when nothing is
// to be delivered (the call was already answered or cancelled, the VM
// failed, or the root context that made it is gone).
func (vm *VM) takeCall(calls map[uint32]*pendingCall, token uint32) (*pendingCall, bool) {
	call := calls[token]
	if call == nil {
		return nil, false
	}
	delete(calls, token)
	call.cancel()
	return call, vm.failed == nil && vm.rt != nil && vm.roots[call.root] != nil
}

// nextCallDeadline is the earliest fake-clock deadline of a pending call.
func (vm *VM) nextCallDeadline() (time.Time, bool) {
	var next time.Time
	for _, calls := range []map[uint32]*pendingCall{vm.httpCalls, vm.grpcCalls} {
		for _, c := range calls {
			if !c.deadline.IsZero() && (next.IsZero() || c.deadline.Before(next)) {
				next = c.deadline
			}
		}
	}
	return next, !next.IsZero()
}

// expireCalls answers every call whose deadline passed on the fake clock as
// Envoy's router would: 504 if the upstream had not answered headers yet,
// else a reset.
func (vm *VM) expireCalls(now time.Time) {
	for token, c := range vm.httpCalls {
		if c.deadline.IsZero() || now.Before(c.deadline) {
			continue
		}
		if c.gotHeaders {
			vm.deliverLocked(token, &httpCallResult{failed: true})
		} else {
			vm.deliverLocked(token, localReply(504, upstreamTimeoutBody, c.grpc))
		}
	}
	for token, c := range vm.grpcCalls {
		if !c.deadline.IsZero() && !now.Before(c.deadline) {
			vm.deliverGRPCLocked(token, &grpcResult{code: grpcUnavailable, detail: upstreamTimeoutBody})
		}
	}
}

// WaitHTTPCalls blocks until every dispatched call's callback has run or was
// dropped.
func (vm *VM) WaitHTTPCalls() { vm.pendingCalls.Wait() }
