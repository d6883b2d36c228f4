package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// ErrVMFailed is returned for work given to a VM after it trapped: like Envoy
// without failure_policy FAIL_RELOAD, a failed VM stays failed.
var ErrVMFailed = errors.New("wasm VM failed")

// errVMClosed is why a closed VM takes no more work.
var errVMClosed = errors.New("wasm VM closed")

// phase restricts which host calls are allowed, as proxy-wasm-cpp-host does
// while _initialize or proxy_on_memory_allocate runs.
type phase uint8

const (
	phaseNormal phase = iota
	phaseInitialize
	phaseAllocate
)

// The callbacks the host calls, cached once per VM.
const (
	fnMalloc = iota
	fnContextCreate
	fnVMStart
	fnConfigure
	fnRequestHeaders
	fnRequestBody
	fnRequestTrailers
	fnResponseHeaders
	fnResponseBody
	fnResponseTrailers
	fnHTTPCallResponse
	fnGRPCReceive
	fnGRPCClose
	fnTick
	fnLog
	fnDone
	fnDelete
	numFns
)

var fnNames = [numFns]string{
	fnMalloc: "proxy_on_memory_allocate", fnContextCreate: "proxy_on_context_create",
	fnVMStart: "proxy_on_vm_start", fnConfigure: "proxy_on_configure",
	fnRequestHeaders: "proxy_on_request_headers", fnRequestBody: "proxy_on_request_body",
	fnRequestTrailers: "proxy_on_request_trailers", fnResponseHeaders: "proxy_on_response_headers",
	fnResponseBody: "proxy_on_response_body", fnResponseTrailers: "proxy_on_response_trailers",
	fnHTTPCallResponse: "proxy_on_http_call_response", fnTick: "proxy_on_tick",
	fnGRPCReceive: "proxy_on_grpc_receive", fnGRPCClose: "proxy_on_grpc_close",
	fnLog: "proxy_on_log", fnDone: "proxy_on_done", fnDelete: "proxy_on_delete",
}

// VM is one instance of the module: what one Envoy worker thread runs. All calls
// into it are serialized by its mutex, as a worker's event loop would.
type VM struct {
	env    *Env
	worker int
	// guest is the CPU time spent in the module's callbacks (with the host
	// calls they make), in ns, when Config.MeasureGuestCPU is set.
	guest atomic.Int64
	rt    wazero.Runtime
	mod   api.Module
	mem   api.Memory
	fns   [numFns]api.Function

	mu         sync.Mutex
	stack      [8]uint64
	allocStack [1]uint64
	// scratch is reused to serialize what a host call copies into the
	// guest, so that the call allocates nothing of its own.
	scratch []byte
	phase   phase
	failed  error
	// rootID is the current configuration's root context, the parent of new
	// streams; roots holds it and older ones still draining.
	rootID    uint32
	roots     map[uint32]*rootContext
	nextID    uint32
	effective uint32
	// configuring is the root context whose proxy_on_configure runs now: only
	// then is the plugin configuration readable.
	configuring *rootContext
	streams     map[uint32]*Stream
	nextToken   uint32
	httpCalls   map[uint32]*pendingCall
	callResp    *httpCallResult
	// grpcCalls are the unary gRPC calls in flight; grpcResp is the answer
	// whose callback runs now.
	grpcCalls map[uint32]*pendingCall
	grpcResp  *grpcResult
	resumes   []*Stream
	// deletes are roots proxy_done released, deleted once the callback returns.
	deletes []*rootContext
	// pollOneoffCalls counts WASI poll_oneoff calls: under Envoy 1.33 each one
	// makes the Go runtime throw.
	pollOneoffCalls int
	// recording records the host calls of a stream (Record); nil when
	// none is.
	recording *recording
	// allHostCalls counts every host call the module made (proxy_* and
	// WASI).
	allHostCalls uint64
	// callsByName counts them by host function (a WASI function under
	// either module name counts once).
	callsByName map[string]*uint64
	// guestAllocs and guestAllocBytes count the Go runtime's allocations
	// (Config.CountGuestAllocations).
	guestAllocs, guestAllocBytes uint64
	// called and firstCalls record first runs (Config.TraceFirstCalls),
	// under their own lock: the listener runs inside callbacks, which hold
	// mu.
	firstMu sync.Mutex
	called  map[uint32]bool
	// calls counts the runs of the counted functions by rank
	// (Config.CountCalls).
	calls      []uint32
	firstCalls []FirstCall
	// guestAllocSites counts the allocations by the guest function that
	// allocated.
	guestAllocSites map[string]uint64
	startup         Startup
	stdout, stderr  []byte
	// pendingCalls counts dispatched http calls whose goroutines have not ended.
	pendingCalls sync.WaitGroup

	// lastStatus is what proxy_get_status reports (the root context's status).
	lastStatus status
	// metricIDs are the metric ids this VM handed out.
	metricIDs vmMetrics
	// running is the callback that runs now; hostCalls count the proxy_*
	// host calls made during each callback.
	running   int
	hostCalls [numFns]int
	// callDepth counts the callbacks running (one calls another only
	// through a host call); inCallbacks is the wall time spent in the
	// outermost ones.
	callDepth   int
	inCallbacks time.Duration
}

// CallbackTime is the wall time the VM spent in the module's callbacks so
// far, including the host functions they called: the plugin's own cost,
// without the host's modelling of Envoy around them (sanitizing requests,
// building header maps, the upstream).
func (vm *VM) CallbackTime() time.Duration {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.inCallbacks
}

// HostCalls is how many proxy_* host calls the plugin made during the named
// callback ("proxy_on_response_headers"), over the VM's life: what a phase
// costs, and proof that a phase with nothing to do touches nothing.
func (vm *VM) HostCalls(callback string) int {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	for fn, name := range fnNames {
		if name == callback {
			return vm.hostCalls[fn]
		}
	}
	return 0
}

// rootContext is one plugin configuration's root context in a VM.
type rootContext struct {
	id     uint32
	config []byte
	// tickPeriod and nextTick are this root's timer (Envoy keeps one per root
	// context: Wasm::setTickPeriod in source/extensions/common/wasm/wasm.cc).
	tickPeriod time.Duration
	nextTick   time.Time
	// streams counts live streams created under this root: Envoy's stream
	// contexts hold the plugin handle, so an old configuration is shut down
	// only when its last stream ends.
	streams int
	// retiring is set when a newer configuration replaced this one;
	// pendingDone when its proxy_on_done returned false.
	retiring, pendingDone bool
}

// StartVM instantiates the module for one more worker and runs it through
// Envoy's start sequence: _initialize, the root context, proxy_on_vm_start and
// proxy_on_configure. A false from either of the last two rejects the config.
func (e *Env) StartVM() (*VM, error) {
	e.mu.Lock()
	worker := len(e.vms)
	e.mu.Unlock()
	vm, err := e.newVM(worker)
	if err != nil {
		return vm, err
	}
	vm.mu.Lock()
	_, err = vm.startRoot(e.configuration())
	vm.mu.Unlock()
	if err != nil {
		return vm, err
	}
	e.mu.Lock()
	e.vms = append(e.vms, vm)
	e.mu.Unlock()
	return vm, nil
}

// newVM instantiates the module and runs _initialize under Envoy's
// restrictions (WasmBase::initialize in proxy-wasm-cpp-host src/wasm.cc).
func (e *Env) newVM(worker int) (*VM, error) {
	vm := &VM{env: e, worker: worker, streams: map[uint32]*Stream{}, httpCalls: map[uint32]*pendingCall{}, grpcCalls: map[uint32]*pendingCall{},
		roots: map[uint32]*rootContext{}, nextID: 1}
	ctx := experimental.WithMemoryAllocator(context.Background(), experimental.MemoryAllocatorFunc(newReservedMemory))
	runtimeC := e.runtimeC
	if listeners := e.listeners(); listeners != 0 || e.calls != nil {
		factory, cache := listeners.factory(), listeners.cache()
		if e.calls != nil {
			factory, cache = experimental.MultiFunctionListenerFactory(factory, e.calls), e.calls.cache(listeners)
		}
		ctx = experimental.WithFunctionListenerFactory(ctx, factory)
		runtimeC = wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(false)
	}
	start := time.Now()
	vm.rt = wazero.NewRuntimeWithConfig(ctx, runtimeC)
	vm.callsByName = map[string]*uint64{}
	if err := vm.instantiateHost(ctx); err != nil {
		vm.rt.Close(ctx)
		return nil, err
	}
	compiled, err := vm.rt.CompileModule(ctx, e.cfg.Module)
	if err != nil {
		vm.rt.Close(ctx)
		return nil, fmt.Errorf("compile module: %w", err)
	}
	vm.startup.Load = time.Since(start)
	start = time.Now()
	// Start functions are not run by wazero: _initialize runs below under
	// Envoy's restrictions.
	mod, err := vm.rt.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName("plugin").WithStartFunctions())
	if err != nil {
		vm.rt.Close(ctx)
		return nil, fmt.Errorf("instantiate module: %w", err)
	}
	vm.mod, vm.mem = mod, mod.Memory()
	if e.cfg.CountGuestAllocations {
		allocCounting.vms.Store(mod, vm)
	}
	if e.cfg.TraceFirstCalls {
		firstCalling.vms.Store(mod, vm)
	}
	if e.calls != nil {
		e.calls.vms.Store(mod, vm)
	}
	for i, name := range fnNames {
		vm.fns[i] = mod.ExportedFunction(name)
	}
	if vm.fns[fnMalloc] == nil || vm.fns[fnContextCreate] == nil {
		vm.rt.Close(ctx)
		return nil, errors.New("module does not export proxy_on_memory_allocate and proxy_on_context_create")
	}
	vm.mu.Lock()
	defer vm.mu.Unlock()
	vm.startup.Instantiate = time.Since(start)
	if init := mod.ExportedFunction("_initialize"); init != nil {
		vm.phase = phaseInitialize
		start = time.Now()
		_, err := init.Call(context.Background())
		vm.startup.Initialize = time.Since(start)
		vm.phase = phaseNormal
		if err != nil {
			vm.fail(err)
			return vm, fmt.Errorf("_initialize: %w", err)
		}
	}
	return vm, nil
}

// startRoot creates a root context for config and makes it the parent of new
// streams, as WasmBase::start and WasmBase::configure do (proxy-wasm-cpp-host
// src/wasm.cc, ContextBase::onStart and onConfigure in src/context.cc):
// proxy_on_context_create(root, 0), proxy_on_vm_start (for every root
// context, not once per VM) and proxy_on_configure, during which alone the
// plugin configuration is readable (Context::getBuffer gives it only while
// temp_plugin_ is set).
func (vm *VM) startRoot(config []byte) (*rootContext, error) {
	root := &rootContext{id: vm.newContextID(), config: config}
	vm.roots[root.id] = root
	if _, err := vm.call(fnContextCreate, uint64(root.id), 0); err != nil {
		return root, err
	}
	start := time.Now()
	ok, err := vm.call(fnVMStart, uint64(root.id), uint64(len(vm.env.cfg.VMConfiguration)))
	vm.startup.VMStart = time.Since(start)
	if err != nil {
		return root, err
	}
	if ok == 0 {
		return root, errors.New("proxy_on_vm_start returned false")
	}
	vm.configuring = root
	start = time.Now()
	ok, err = vm.call(fnConfigure, uint64(root.id), uint64(len(config)))
	vm.startup.Configure = time.Since(start)
	vm.configuring = nil
	if err != nil {
		return root, err
	}
	if ok == 0 {
		return root, errors.New("proxy_on_configure returned false: configuration rejected")
	}
	vm.rootID = root.id
	return root, nil
}

// Startup is how long a VM's start-up phases took.
type Startup struct {
	// Load is the runtime, the host modules and the module compiled from
	// the cache: wazero decodes and validates it again for each VM, which
	// Envoy does once per plugin, on its main thread, and clones for each
	// worker.
	Load time.Duration
	// Instantiate is the module's instantiation: its memory, data and
	// exports.
	Instantiate time.Duration
	// Initialize is _initialize: the Go runtime and package inits.
	Initialize time.Duration
	// VMStart and Configure are the latest root context's proxy_on_vm_start
	// and proxy_on_configure.
	VMStart, Configure time.Duration
}

// Startup reports the VM's start-up phases.
func (vm *VM) Startup() Startup {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.startup
}

// HostCallsByName is how many times the module called each host function
// so far, by name, zeros left out.
func (vm *VM) HostCallsByName() map[string]uint64 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	out := map[string]uint64{}
	for name, n := range vm.callsByName {
		if *n > 0 {
			out[name] = *n
		}
	}
	return out
}

// AllHostCalls is how many host functions (proxy_* and WASI) the module
// called.
func (vm *VM) AllHostCalls() uint64 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.allHostCalls
}

// Worker is the VM's index, as Envoy's worker thread number.
func (vm *VM) Worker() int { return vm.worker }

// MemorySize is the module's linear memory size in bytes.
func (vm *VM) MemorySize() uint32 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.mem.Size()
}

// Close releases the VM without calling the plugin (Envoy does the same on shutdown).
func (vm *VM) Close() {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	// Destroying the contexts cancels their http calls (Envoy's ~Context).
	for token, c := range vm.httpCalls {
		c.cancel()
		delete(vm.httpCalls, token)
	}
	// A tick, a call's answer or a stream that raced the close must not
	// run a module whose memory is gone: wazero runs a closed module's
	// code as long as its context does not end.
	if vm.failed == nil {
		vm.failed = errVMClosed
		for _, s := range vm.streams {
			s.signal()
		}
	}
	if vm.rt != nil {
		allocCounting.vms.Delete(vm.mod)
		firstCalling.vms.Delete(vm.mod)
		if vm.env.calls != nil {
			vm.env.calls.vms.Delete(vm.mod)
		}
		vm.rt.Close(context.Background())
		vm.rt = nil
	}
}

func (vm *VM) newContextID() uint32 {
	id := vm.nextID
	vm.nextID++
	return id
}

// call runs one exported callback with the VM locked and returns its result.
// A missing optional export is a no-op returning 0, as in proxy-wasm-cpp-host.
func (vm *VM) call(fn int, args ...uint64) (uint64, error) {
	if vm.failed != nil {
		return 0, ErrVMFailed
	}
	f := vm.fns[fn]
	if f == nil {
		return 0, nil
	}
	if len(args) > 0 {
		vm.effective = uint32(args[0])
	}
	outer := vm.running
	vm.running = fn
	if vm.callDepth++; vm.callDepth == 1 {
		start := time.Now()
		defer func() { vm.inCallbacks += time.Since(start) }()
	}
	defer func() { vm.running, vm.callDepth = outer, vm.callDepth-1 }()
	stack := vm.stack[:]
	copy(stack, args)
	if r := vm.recording; r != nil && fn != fnMalloc {
		r.enter()
	}
	var err error
	if vm.env.cfg.MeasureGuestCPU {
		err = vm.measured(func() error { return f.CallWithStack(context.Background(), stack) })
	} else {
		err = f.CallWithStack(context.Background(), stack)
	}
	if err != nil {
		vm.fail(fmt.Errorf("%s: %w", fnNames[fn], err))
		return 0, vm.failed
	}
	if r := vm.recording; r != nil && fn != fnMalloc {
		r.callback(fnNames[fn], uint32(stack[0]))
	}
	vm.afterCallback()
	return stack[0], nil
}

// GuestCPU is the CPU time the VM spent in the module's callbacks so far,
// including the host calls they made (Config.MeasureGuestCPU): the
// plugin's cost, without any callout's latency (a paused stream waits
// outside the module) or the time other goroutines held the CPU.
func (vm *VM) GuestCPU() time.Duration { return time.Duration(vm.guest.Load()) }

func (vm *VM) fail(err error) {
	vm.flushStdio()
	vm.failed = err
	vm.env.log(vm.worker, 5, "Plugin Crash: "+err.Error())
	for _, s := range vm.streams {
		s.signal()
	}
}

// afterCallback applies what Envoy defers until the callback returns:
// continue_stream and send_local_response take effect now, and a root context
// released by proxy_done is deleted (WasmBase::done defers it so on_delete
// does not run inside on_done's caller).
func (vm *VM) afterCallback() {
	for _, s := range vm.resumes {
		s.signal()
	}
	clear(vm.resumes)
	vm.resumes = vm.resumes[:0]
	for len(vm.deletes) > 0 {
		root := vm.deletes[0]
		vm.deletes = vm.deletes[1:]
		vm.deleteRoot(root)
	}
}

// guestAlloc asks the module for size bytes, with host calls restricted as
// Envoy restricts them inside proxy_on_memory_allocate.
func (vm *VM) guestAlloc(size uint32) uint32 {
	prev := vm.phase
	vm.phase = phaseAllocate
	vm.allocStack[0] = uint64(size)
	err := vm.fns[fnMalloc].CallWithStack(context.Background(), vm.allocStack[:])
	vm.phase = prev
	if err != nil {
		panic(fmt.Errorf("proxy_on_memory_allocate: %w", err))
	}
	return uint32(vm.allocStack[0])
}

// read returns a view of guest memory; ok is false for an out-of-range span.
func (vm *VM) read(ptr, size uint32) ([]byte, bool) {
	return vm.mem.Read(ptr, size)
}

func (vm *VM) readString(ptr, size uint32) (string, bool) {
	b, ok := vm.mem.Read(ptr, size)
	return string(b), ok
}

// viewString is the guest's bytes as a string without a copy, for a host
// function that only compares it (a header name to look up or remove):
// it must not outlive the call, as the guest may reuse the memory.
func (vm *VM) viewString(ptr, size uint32) (string, bool) {
	b, ok := vm.mem.Read(ptr, size)
	if !ok || len(b) == 0 {
		return "", ok
	}
	return unsafe.String(&b[0], len(b)), true
}

// copyOut allocates guest memory for data, copies it there and stores its
// address and size at retPtr and retSize, as proxy-wasm-cpp-host's
// copyToPointerSize does: empty data is pointer 0, size 0, without an
// allocation.
func (vm *VM) copyOut(data []byte, retPtr, retSize uint32) status {
	var ptr uint32
	if len(data) > 0 {
		ptr = vm.guestAlloc(uint32(len(data)))
	}
	if len(data) > 0 && !vm.mem.Write(ptr, data) {
		return statusInvalidMemory
	}
	return vm.writeReturn(ptr, uint32(len(data)), retPtr, retSize)
}

// copyOutString is copyOut for a string, without converting it to bytes.
func (vm *VM) copyOutString(data string, retPtr, retSize uint32) status {
	var ptr uint32
	if len(data) > 0 {
		ptr = vm.guestAlloc(uint32(len(data)))
	}
	if len(data) > 0 && !vm.mem.WriteString(ptr, data) {
		return statusInvalidMemory
	}
	return vm.writeReturn(ptr, uint32(len(data)), retPtr, retSize)
}

// writeReturn stores a returned buffer's address and size where the guest
// asked.
func (vm *VM) writeReturn(ptr, size, retPtr, retSize uint32) status {
	if !vm.mem.WriteUint32Le(retPtr, ptr) || !vm.mem.WriteUint32Le(retSize, size) {
		return statusInvalidMemory
	}
	return statusOK
}

const statusInvalidMemory status = 6

// fireDueTicks calls proxy_on_tick once for each root context whose timer is
// due at now, and re-arms it a period after now: Envoy's Wasm::tickHandler
// (source/extensions/common/wasm/wasm.cc) re-enables the timer after each
// tick, so missed periods are never caught up.
func (vm *VM) fireDueTicks(now time.Time) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	vm.expireCalls(now)
	for _, id := range vm.rootIDs() {
		root := vm.roots[id]
		if root == nil || root.tickPeriod <= 0 || now.Before(root.nextTick) || vm.failed != nil {
			continue
		}
		root.nextTick = now.Add(root.tickPeriod)
		if _, err := vm.call(fnTick, uint64(root.id)); err != nil {
			return
		}
	}
}

// nextEvent is when this VM next needs the clock: a tick or a call deadline.
func (vm *VM) nextEvent() (time.Time, bool) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	next, ok := vm.nextCallDeadline()
	if vm.failed != nil {
		return next, ok
	}
	for _, root := range vm.roots {
		if root.tickPeriod > 0 && (!ok || root.nextTick.Before(next)) {
			next, ok = root.nextTick, true
		}
	}
	return next, ok
}

// rootIDs lists the root contexts in creation order, for a stable tick order.
func (vm *VM) rootIDs() []uint32 {
	ids := make([]uint32, 0, len(vm.roots))
	for id := range vm.roots {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// RunTicks fires due ticks on every VM until ctx ends; for real clocks.
func (e *Env) RunTicks(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.mu.Lock()
			vms := append([]*VM(nil), e.vms...)
			e.mu.Unlock()
			for _, vm := range vms {
				vm.fireDueTicks(e.clock.Now())
			}
		}
	}
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// PollOneoffCalls is how many times the module called WASI poll_oneoff.
func (vm *VM) PollOneoffCalls() int {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.pollOneoffCalls
}
