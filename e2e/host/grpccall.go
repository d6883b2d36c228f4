package host

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
)

// gRPC status codes the host reports itself.
const (
	grpcUnavailable = 14
	grpcCanceled    = 1
)

// grpcCaller keeps one client connection per cluster, as Envoy's
// AsyncClientManager keeps one raw async client per GrpcService.
type grpcCaller struct {
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// rawCodec passes messages through as the bytes the plugin wrote:
// proxy_grpc_call's request is already serialized, and the response goes to
// the plugin as it came.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (rawCodec) Unmarshal(b []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), b...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

func (g *grpcCaller) conn(base string) (*grpc.ClientConn, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.conns[base]; c != nil {
		return c, nil
	}
	addr := base
	for _, scheme := range []string{"h2c://", "http://"} {
		addr = strings.TrimPrefix(addr, scheme)
	}
	c, err := grpc.NewClient("passthrough:///"+strings.TrimRight(addr, "/"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	if g.conns == nil {
		g.conns = map[string]*grpc.ClientConn{}
	}
	g.conns[base] = c
	return c, nil
}

func (g *grpcCaller) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		_ = c.Close()
	}
	g.conns = nil
}

// grpcResult is what a unary call's one callback exposes: the response
// message as buffer 5 (proxy_on_grpc_receive), or the status and its
// message through proxy_get_status (proxy_on_grpc_close).
type grpcResult struct {
	message []byte
	code    uint32
	detail  string
}

// dispatchGRPCCall implements proxy_grpc_call as Envoy's Context::grpcCall
// (source/extensions/common/wasm/context.cc) on the root context, as
// proxy-wasm-cpp-host's exports::grpc_call takes
// contextOrEffectiveContext()->root_context() (src/exports.cc). The upstream
// is a cluster name (a serialized GrpcService is not modelled): an unknown
// one is PARSE_FAILURE, a known one without an address INTERNAL_FAILURE
// (sendRaw returns no request). The answer arrives later, on the root
// context: proxy_on_grpc_receive with the message, or proxy_on_grpc_close
// with the status (GrpcCallClientHandler::onSuccessRaw and onFailure). A
// unary call gets neither metadata callback: Envoy delivers initial and
// trailing metadata to gRPC streams only (GrpcStreamClientHandler). A timeout
// or a connection failure is UNAVAILABLE, as Envoy's router answers a gRPC
// request it timed out or could not connect (a trailers-only local reply
// with grpc-status mapped from 504 or 503).
func (vm *VM) dispatchGRPCCall(s []uint64) status {
	cluster, ok1 := vm.readString(u32(s[0]), u32(s[1]))
	service, ok2 := vm.readString(u32(s[2]), u32(s[3]))
	method, ok3 := vm.readString(u32(s[4]), u32(s[5]))
	md, ok4 := vm.read(u32(s[6]), u32(s[7]))
	msg, ok5 := vm.read(u32(s[8]), u32(s[9]))
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return statusInvalidMemory
	}
	base, known := vm.env.http.clusters[cluster]
	switch {
	case !known:
		return statusParseFailure
	case base == "":
		return statusInternalFailure
	}
	pairs, valid := deserializeHeaders(md)
	if !valid {
		pairs = nil
	}
	conn, err := vm.env.grpc.conn(base)
	if err != nil {
		return statusInternalFailure
	}
	vm.nextToken++
	token := vm.nextToken
	if !vm.mem.WriteUint32Le(u32(s[11]), token) {
		return statusInvalidMemory
	}
	ctx, cancel := context.WithCancel(context.Background())
	call := &pendingCall{root: vm.rootOf(vm.effective), cancel: cancel, grpc: true}
	if timeout := time.Duration(u32(s[10])) * time.Millisecond; timeout > 0 {
		call.deadline = vm.env.clock.Now().Add(timeout)
		if _, fake := vm.env.clock.(*FakeClock); !fake {
			ctx, cancel = context.WithTimeout(ctx, timeout)
			call.cancel = cancel
		}
	}
	for _, kv := range pairs {
		if !strings.HasPrefix(kv[0], ":") {
			ctx = metadata.AppendToOutgoingContext(ctx, kv[0], kv[1])
		}
	}
	vm.grpcCalls[token] = call
	vm.pendingCalls.Add(1)
	request := append([]byte(nil), msg...)
	go func() {
		var response []byte
		err := conn.Invoke(ctx, "/"+service+"/"+method, &request, &response, grpc.ForceCodec(rawCodec{}))
		vm.deliverGRPCCall(token, grpcOutcome(err, response))
	}()
	return statusOK
}

// grpcOutcome is the callback a call's result makes.
func grpcOutcome(err error, response []byte) *grpcResult {
	switch {
	case err == nil:
		return &grpcResult{message: response}
	case errors.Is(err, context.DeadlineExceeded) || grpcstatus.Code(err) == codes.DeadlineExceeded:
		return &grpcResult{code: grpcUnavailable, detail: upstreamTimeoutBody}
	case grpcstatus.Code(err) == codes.Unavailable:
		return &grpcResult{code: grpcUnavailable, detail: connectFailureBody}
	}
	st := grpcstatus.Convert(err)
	return &grpcResult{code: uint32(st.Code()), detail: st.Message()}
}

// deliverGRPCCall runs the call's callback on the root context that made it,
// unless the call was cancelled or closed, already timed out on the fake
// clock, or its root context is gone (~Context cancels its calls).
func (vm *VM) deliverGRPCCall(token uint32, r *grpcResult) {
	defer vm.pendingCalls.Done()
	vm.mu.Lock()
	defer vm.mu.Unlock()
	vm.deliverGRPCLocked(token, r)
}

func (vm *VM) deliverGRPCLocked(token uint32, r *grpcResult) {
	call, ok := vm.takeCall(vm.grpcCalls, token)
	if !ok {
		return
	}
	vm.grpcResp = r
	defer func() { vm.grpcResp = nil }()
	if r.message != nil || r.code == 0 {
		_, _ = vm.call(fnGRPCReceive, uint64(call.root), uint64(token), uint64(len(r.message)))
		return
	}
	_, _ = vm.call(fnGRPCClose, uint64(call.root), uint64(token), uint64(r.code))
}

// cancelGRPCCall implements proxy_grpc_cancel and, for a unary call,
// proxy_grpc_close (Context::grpcCancel, grpcClose): the request is
// cancelled and no callback follows; an unknown token is NOT_FOUND.
func (vm *VM) cancelGRPCCall(token uint32) status {
	call := vm.grpcCalls[token]
	if call == nil {
		return statusNotFound
	}
	delete(vm.grpcCalls, token)
	call.cancel()
	return statusOK
}
