package host

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxHTTPCallBody bounds what the host reads of a callout response; Envoy's
// buffer limit plays this role.
const maxHTTPCallBody = 16 << 20

type httpCaller struct {
	clusters map[string]string
	client   *http.Client
	timeout  time.Duration
}

func newHTTPCaller(clusters map[string]string, timeout time.Duration) *httpCaller {
	return &httpCaller{clusters: clusters, client: &http.Client{}, timeout: timeout}
}

// httpCallResult is what proxy_on_http_call_response exposes: header map 6,
// trailer map 7, buffer 4.
type httpCallResult struct {
	headers, trailers Headers
	body              []byte
	failed            bool
}

// dispatchHTTPCall implements proxy_http_call: the upstream is a cluster name;
// :method, :path and :authority are required. The response arrives later on
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
	timeout := time.Duration(u32(s[8])) * time.Millisecond
	if timeout == 0 {
		timeout = vm.env.http.timeout
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
	vm.pendingCalls.Add(1)
	go vm.env.http.do(req, timeout, func(r *httpCallResult) { vm.deliverHTTPCall(token, r) })
	return statusOK
}

func (c *httpCaller) do(req *http.Request, timeout time.Duration, deliver func(*httpCallResult)) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := c.client.Do(req.WithContext(ctx))
	if err != nil {
		deliver(&httpCallResult{failed: true})
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPCallBody+1))
	if err != nil || len(body) > maxHTTPCallBody {
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

// deliverHTTPCall runs proxy_on_http_call_response on the root context; a
// failed call is reported as (0, 0, 0).
func (vm *VM) deliverHTTPCall(token uint32, r *httpCallResult) {
	defer vm.pendingCalls.Done()
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.failed != nil || vm.rt == nil {
		return
	}
	vm.callResp = r
	defer func() { vm.callResp = nil }()
	if r.failed {
		vm.lastStatus = statusBrokenConnection
		_, _ = vm.call(fnHTTPCallResponse, uint64(vm.rootID), uint64(token), 0, 0, 0)
		return
	}
	_, _ = vm.call(fnHTTPCallResponse, uint64(vm.rootID), uint64(token),
		uint64(len(r.headers)), uint64(len(r.body)), uint64(len(r.trailers)))
}

// WaitHTTPCalls blocks until every dispatched call's callback has run.
func (vm *VM) WaitHTTPCalls() { vm.pendingCalls.Wait() }
