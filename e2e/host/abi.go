package host

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// logCritical is the highest proxy-wasm log level (LogLevel::Max).
const logCritical = 5

// maxBufferType is the last buffer type of ABI 0.2.1 (foreign-function args).
const maxBufferType = 8

// restrictedCallbackError is the trap proxy-wasm-cpp-host raises for a host call
// made where it is not allowed ("restricted_callback").
type restrictedCallbackError struct {
	name  string
	phase phase
}

func (e restrictedCallbackError) Error() string {
	where := "_initialize"
	if e.phase == phaseAllocate {
		where = "proxy_on_memory_allocate"
	}
	return fmt.Sprintf("restricted_callback: %s called during %s", e.name, where)
}

// allowedDuringInitialize and allowedDuringAllocate are proxy-wasm-cpp-host's
// allow-lists for those two phases.
var (
	allowedDuringInitialize = map[string]bool{
		"proxy_log": true, "fd_write": true, "args_get": true, "args_sizes_get": true,
		"environ_get": true, "environ_sizes_get": true, "fd_prestat_get": true, "fd_prestat_dir_name": true,
		"clock_time_get": true, "random_get": true, "fd_fdstat_get": true, "fd_fdstat_set_flags": true,
	}
	allowedDuringAllocate = map[string]bool{"proxy_log": true, "fd_write": true, "clock_time_get": true}
)

// hostFunc is one host function: its ABI signature and implementation.
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      func(vm *VM, stack []uint64)
}

func i32s(n int) []api.ValueType {
	out := make([]api.ValueType, n)
	for i := range out {
		out[i] = i32
	}
	return out
}

var oneI32 = []api.ValueType{i32}

// export registers fns under module with Envoy's phase restrictions checked
// before each call.
func (vm *VM) export(ctx context.Context, module string, fns []hostFunc) error {
	b := vm.rt.NewHostModuleBuilder(module)
	for _, f := range fns {
		f := f
		okInit, okAlloc := allowedDuringInitialize[f.name], allowedDuringAllocate[f.name]
		proxy := strings.HasPrefix(f.name, "proxy_")
		fail := proxy && len(f.results) == 1 && slices.Contains(vm.env.cfg.FailHostCalls, f.name)
		count := vm.callsByName[f.name]
		if count == nil {
			count = new(uint64)
			vm.callsByName[f.name] = count
		}
		if f.name == "poll_oneoff" && vm.env.cfg.Profile == CppHostCurrent {
			okAlloc = true
		}
		b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
			vm.allHostCalls++
			*count++
			switch vm.phase {
			case phaseInitialize:
				if !okInit {
					panic(restrictedCallbackError{f.name, vm.phase})
				}
			case phaseAllocate:
				if !okAlloc {
					panic(restrictedCallbackError{f.name, vm.phase})
				}
			}
			if proxy {
				vm.hostCalls[vm.running]++
			}
			if fail {
				stack[0] = uint64(statusInternalFailure)
				return
			}
			if vm.recording != nil {
				vm.recording.hostCall(vm, f.name, stack)
			}
			f.fn(vm, stack)
		}), f.params, f.results).Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func (vm *VM) instantiateHost(ctx context.Context) error {
	if err := vm.export(ctx, "env", proxyFunctions()); err != nil {
		return err
	}
	for _, m := range wasiModules {
		if err := vm.export(ctx, m, wasiFunctions(vm.env.cfg.Profile)); err != nil {
			return err
		}
	}
	return nil
}

func u32(v uint64) uint32 { return uint32(v) }

// stream returns the stream of the effective context, or nil for the root.
func (vm *VM) stream() *Stream { return vm.streams[vm.effective] }

func unimplemented(name string, nparams int) hostFunc {
	return hostFunc{name, i32s(nparams), oneI32, func(_ *VM, s []uint64) { s[0] = uint64(statusUnimplemented) }}
}

func proxyFunctions() []hostFunc {
	return append(lifecycleFunctions(), []hostFunc{
		{"proxy_log", i32s(3), oneI32, func(vm *VM, s []uint64) {
			// proxy-wasm-cpp-host src/exports.cc log: a level above
			// critical (5) is BAD_ARGUMENT and nothing is logged.
			if u32(s[0]) > uint32(logCritical) {
				s[0] = uint64(statusBadArgument)
				return
			}
			msg, ok := vm.readString(u32(s[1]), u32(s[2]))
			if !ok {
				s[0] = uint64(statusInvalidMemory)
				return
			}
			vm.env.log(vm.worker, LogLevel(int32(u32(s[0]))), msg)
			s[0] = uint64(statusOK)
		}},
		{"proxy_get_log_level", i32s(1), oneI32, func(vm *VM, s []uint64) {
			vm.mem.WriteUint32Le(u32(s[0]), 0) // trace: the host forwards every level
			s[0] = uint64(statusOK)
		}},
		{"proxy_get_status", i32s(3), oneI32, func(vm *VM, s []uint64) {
			// Envoy Context::getStatus: the root context's last status. A
			// failed call sets BROKEN_CONNECTION and it stays until another
			// failure changes it (onHttpCallSuccess does not reset it); the
			// message "reset" lasts only during that failure's callback.
			msg, code := "", vm.lastStatus
			if vm.callResp != nil && vm.callResp.failed {
				msg = "reset"
			}
			// In proxy_on_grpc_close: the call's gRPC status and message
			// (Context::onGrpcCloseWrapper sets status_code_ and
			// status_message_ for the callback).
			if vm.grpcResp != nil && vm.grpcResp.message == nil {
				msg, code = vm.grpcResp.detail, vm.grpcResp.code
			}
			vm.mem.WriteUint32Le(u32(s[0]), code)
			s[0] = uint64(vm.copyOut([]byte(msg), u32(s[1]), u32(s[2])))
		}},
		{"proxy_get_current_time_nanoseconds", i32s(1), oneI32, func(vm *VM, s []uint64) {
			vm.mem.WriteUint64Le(u32(s[0]), uint64(vm.env.clock.Now().UnixNano()))
			s[0] = uint64(statusOK)
		}},
		{"proxy_get_property", i32s(4), oneI32, func(vm *VM, s []uint64) {
			path, ok := vm.readString(u32(s[0]), u32(s[1]))
			if !ok {
				s[0] = uint64(statusInvalidMemory)
				return
			}
			v, found := vm.property(path)
			if !found {
				s[0] = uint64(statusNotFound)
				return
			}
			s[0] = uint64(vm.copyOut(v, u32(s[2]), u32(s[3])))
		}},
		{"proxy_set_property", i32s(4), oneI32, func(vm *VM, s []uint64) {
			path, ok1 := vm.viewString(u32(s[0]), u32(s[1]))
			val, ok2 := vm.read(u32(s[2]), u32(s[3]))
			if !ok1 || !ok2 {
				s[0] = uint64(statusInvalidMemory)
				return
			}
			s[0] = uint64(vm.setProperty(path, val))
		}},
		{"proxy_send_local_response", i32s(8), oneI32, func(vm *VM, s []uint64) {
			st := vm.stream()
			if st == nil {
				s[0] = uint64(statusBadArgument)
				return
			}
			details, ok1 := vm.readString(u32(s[1]), u32(s[2]))
			body, ok2 := vm.read(u32(s[3]), u32(s[4]))
			hdrs, ok3 := vm.read(u32(s[5]), u32(s[6]))
			if !ok1 || !ok2 || !ok3 {
				s[0] = uint64(statusInvalidMemory)
				return
			}
			// PairsUtil::toPairs: malformed pairs are an empty map, not an error.
			h, _ := deserializeHeaders(hdrs)
			if st.reply == nil && !st.replySent {
				// Context::sendLocalResponse replaces whitespace in the details.
				st.reply = &LocalReply{Status: int(u32(s[0])), Details: replaceAllEmptySpace(details), Headers: h,
					Body: append([]byte(nil), body...), GRPCStatus: int32(u32(s[7]))}
				vm.resumes = append(vm.resumes, st)
			}
			s[0] = uint64(statusOK)
		}},
		{"proxy_get_shared_data", i32s(5), oneI32, func(vm *VM, s []uint64) {
			key, ok := vm.readString(u32(s[0]), u32(s[1]))
			if !ok {
				s[0] = uint64(statusInvalidMemory)
				return
			}
			v, cas, found := vm.env.shared.get(vm.env.cfg.VMID, key)
			if !found {
				s[0] = uint64(statusNotFound)
				return
			}
			if st := vm.copyOut(v, u32(s[2]), u32(s[3])); st != statusOK {
				s[0] = uint64(st)
				return
			}
			vm.mem.WriteUint32Le(u32(s[4]), cas)
			s[0] = uint64(statusOK)
		}},
		{"proxy_set_shared_data", i32s(5), oneI32, func(vm *VM, s []uint64) {
			key, ok1 := vm.readString(u32(s[0]), u32(s[1]))
			val, ok2 := vm.read(u32(s[2]), u32(s[3]))
			if !ok1 || !ok2 {
				s[0] = uint64(statusInvalidMemory)
				return
			}
			s[0] = uint64(vm.env.shared.set(vm.env.cfg.VMID, key, val, u32(s[4])))
		}},
		// Shared queues are not used by apiguard; a module that calls them is told so.
		unimplemented("proxy_register_shared_queue", 3),
		unimplemented("proxy_resolve_shared_queue", 5),
		unimplemented("proxy_dequeue_shared_queue", 3),
		unimplemented("proxy_enqueue_shared_queue", 3),
		{"proxy_get_header_map_value", i32s(5), oneI32, func(vm *VM, s []uint64) {
			key, ok := vm.viewString(u32(s[1]), u32(s[2]))
			switch {
			case u32(s[0]) > maxHeaderMapType:
				s[0] = uint64(statusBadArgument)
			case !ok:
				s[0] = uint64(statusInvalidMemory)
			default:
				s[0] = uint64(vm.getHeaderValue(u32(s[0]), key, u32(s[3]), u32(s[4])))
			}
		}},
		{"proxy_add_header_map_value", i32s(5), oneI32, func(vm *VM, s []uint64) {
			key, ok1 := vm.readString(u32(s[1]), u32(s[2]))
			val, ok2 := vm.readString(u32(s[3]), u32(s[4]))
			s[0] = uint64(vm.editMap(u32(s[0]), ok1 && ok2, func(h *Headers, r mapRules) { r.add(h, key, val) }))
		}},
		{"proxy_replace_header_map_value", i32s(5), oneI32, func(vm *VM, s []uint64) {
			key, ok1 := vm.readString(u32(s[1]), u32(s[2]))
			val, ok2 := vm.readString(u32(s[3]), u32(s[4]))
			s[0] = uint64(vm.editMap(u32(s[0]), ok1 && ok2, func(h *Headers, r mapRules) { r.set(h, key, val) }))
		}},
		{"proxy_remove_header_map_value", i32s(3), oneI32, func(vm *VM, s []uint64) {
			key, ok := vm.viewString(u32(s[1]), u32(s[2]))
			s[0] = uint64(vm.editMap(u32(s[0]), ok, func(h *Headers, r mapRules) { h.Del(r.key(key)) }))
		}},
		{"proxy_get_header_map_pairs", i32s(3), oneI32, func(vm *VM, s []uint64) {
			// Envoy Context::getHeaderMapPairs answers OK with an empty map
			// where the map is unavailable, and cpp-host get_header_map_pairs
			// returns an empty map as pointer 0, size 0 (copyToPointerSize("")).
			if u32(s[0]) > maxHeaderMapType {
				s[0] = uint64(statusBadArgument)
				return
			}
			// Serialized into the VM's scratch buffer: the guest gets a
			// copy in its own memory.
			vm.scratch = vm.scratch[:0]
			if h := vm.constHeaderMap(u32(s[0])); h != nil && len(*h) > 0 {
				vm.scratch = appendHeaders(vm.scratch, *h)
			}
			s[0] = uint64(vm.copyOut(vm.scratch, u32(s[1]), u32(s[2])))
		}},
		{"proxy_set_header_map_pairs", i32s(3), oneI32, func(vm *VM, s []uint64) {
			b, ok := vm.read(u32(s[1]), u32(s[2]))
			// Envoy Context::setHeaderMapPairs removes every header and adds each
			// pair with addCopy; PairsUtil::toPairs turns malformed pairs into an
			// empty map, so they clear the map.
			pairs, _ := deserializeHeaders(b)
			s[0] = uint64(vm.editMap(u32(s[0]), ok, func(h *Headers, r mapRules) {
				*h = (*h)[:0]
				for _, kv := range pairs {
					r.add(h, kv[0], kv[1])
				}
			}))
		}},
		{"proxy_get_header_map_size", i32s(2), oneI32, func(vm *VM, s []uint64) {
			// Envoy Context::getHeaderMapSize: the mutable map's byteSize(),
			// the bytes of its keys and values.
			h, _ := vm.headerMap(u32(s[0]))
			if h == nil {
				s[0] = uint64(statusBadArgument)
				return
			}
			vm.mem.WriteUint32Le(u32(s[1]), uint32(h.byteSize()))
			s[0] = uint64(statusOK)
		}},
		{"proxy_get_buffer_status", i32s(3), oneI32, func(vm *VM, s []uint64) {
			if u32(s[0]) > maxBufferType {
				s[0] = uint64(statusBadArgument)
				return
			}
			b, _ := vm.buffer(u32(s[0]))
			if b == nil {
				s[0] = uint64(statusNotFound)
				return
			}
			vm.mem.WriteUint32Le(u32(s[1]), uint32(len(*b)))
			vm.mem.WriteUint32Le(u32(s[2]), 0)
			s[0] = uint64(statusOK)
		}},
		{"proxy_get_buffer_bytes", i32s(5), oneI32, func(vm *VM, s []uint64) {
			if u32(s[0]) > maxBufferType {
				s[0] = uint64(statusBadArgument)
				return
			}
			b, _ := vm.buffer(u32(s[0]))
			if b == nil {
				s[0] = uint64(statusNotFound)
				return
			}
			// cpp-host src/exports.cc get_buffer_bytes: a start past the end
			// reads nothing, and nothing is OK with pointer 0, size 0.
			start, size := uint64(u32(s[1])), uint64(u32(s[2]))
			n := uint64(len(*b))
			start = min(start, n)
			end := min(start+size, n)
			s[0] = uint64(vm.copyOut((*b)[start:end], u32(s[3]), u32(s[4])))
		}},
		{"proxy_set_buffer_bytes", i32s(5), oneI32, func(vm *VM, s []uint64) {
			if u32(s[0]) > maxBufferType {
				s[0] = uint64(statusBadArgument)
				return
			}
			b, writable := vm.buffer(u32(s[0]))
			data, ok := vm.read(u32(s[3]), u32(s[4]))
			switch {
			case b == nil:
				s[0] = uint64(statusNotFound)
			case !ok:
				s[0] = uint64(statusInvalidMemory)
			case !writable:
				s[0] = uint64(statusBadArgument)
			default:
				s[0] = uint64(setBuffer(b, int(u32(s[1])), int(u32(s[2])), data))
			}
		}},
		{"proxy_http_call", i32s(10), oneI32, func(vm *VM, s []uint64) {
			s[0] = uint64(vm.dispatchHTTPCall(s))
		}},
		{"proxy_grpc_call", i32s(12), oneI32, func(vm *VM, s []uint64) {
			s[0] = uint64(vm.dispatchGRPCCall(s))
		}},
		// gRPC streams are not modelled: apiguard makes unary calls only.
		unimplemented("proxy_grpc_stream", 9),
		unimplemented("proxy_grpc_send", 4),
		{"proxy_grpc_cancel", i32s(1), oneI32, func(vm *VM, s []uint64) {
			s[0] = uint64(vm.cancelGRPCCall(u32(s[0])))
		}},
		{"proxy_grpc_close", i32s(1), oneI32, func(vm *VM, s []uint64) {
			s[0] = uint64(vm.cancelGRPCCall(u32(s[0])))
		}},
		{"proxy_define_metric", i32s(4), oneI32, func(vm *VM, s []uint64) {
			name, ok := vm.readString(u32(s[1]), u32(s[2]))
			if !ok {
				s[0] = uint64(statusInvalidMemory)
				return
			}
			id, st := vm.metricIDs.define(vm.env.metrics, u32(s[0]), name)
			if st == statusOK {
				vm.mem.WriteUint32Le(u32(s[3]), id)
			}
			s[0] = uint64(st)
		}},
		{"proxy_increment_metric", []api.ValueType{i32, i64}, oneI32, func(vm *VM, s []uint64) {
			s[0] = uint64(vm.metricIDs.increment(vm.env.metrics, u32(s[0]), int64(s[1])))
		}},
		{"proxy_record_metric", []api.ValueType{i32, i64}, oneI32, func(vm *VM, s []uint64) {
			s[0] = uint64(vm.metricIDs.record(vm.env.metrics, u32(s[0]), s[1]))
		}},
		{"proxy_get_metric", i32s(2), oneI32, func(vm *VM, s []uint64) {
			v, st := vm.metricIDs.value(vm.env.metrics, u32(s[0]))
			if st == statusOK {
				vm.mem.WriteUint64Le(u32(s[1]), v)
			}
			s[0] = uint64(st)
		}},
		{"proxy_set_effective_context", i32s(1), oneI32, func(vm *VM, s []uint64) {
			id := u32(s[0])
			if _, ok := vm.streams[id]; !ok && vm.roots[id] == nil {
				s[0] = uint64(statusBadArgument)
				return
			}
			vm.effective = id
			s[0] = uint64(statusOK)
		}},
		unimplemented("proxy_call_foreign_function", 6),
	}...)
}

// buffer is Envoy's Context::getBuffer: the buffer a host call sees now and
// whether set_buffer_bytes may change it; nil is NOT_FOUND. A body outside its
// callback (never arrived, continued, or released by continue_stream) is an
// empty buffer, as Envoy's Buffer wrapping a null instance is: reads are OK
// and empty, writes BAD_ARGUMENT (BufferBase::copyFrom). The http-call body
// and the configurations are read-only.
func (vm *VM) buffer(t uint32) (b *[]byte, writable bool) {
	st := vm.stream()
	switch t {
	case 0:
		if st != nil && st.reqBodyOpen {
			return &st.reqBody, true
		}
	case 1:
		if st != nil && st.respBodyOpen {
			return &st.respBody, true
		}
	case 4:
		if vm.callResp != nil {
			return &vm.callResp.body, false
		}
		return nil, false
	case 5:
		if vm.grpcResp != nil {
			return &vm.grpcResp.message, false
		}
		return nil, false
	case 6:
		return &vm.env.cfg.VMConfiguration, false
	case 7:
		// Only proxy_on_configure may read it (Context::getBuffer).
		if vm.configuring != nil {
			return &vm.configuring.config, false
		}
		return nil, false
	}
	return new([]byte), false
}

// setBuffer applies proxy_set_buffer_bytes with Envoy's semantics: (0, 0)
// prepends, (0, >= length) replaces, start >= length appends, anything else is
// BAD_ARGUMENT.
func setBuffer(b *[]byte, start, size int, data []byte) status {
	n := len(*b)
	switch {
	case start == 0 && size == 0:
		*b = append(append([]byte(nil), data...), *b...)
	case start == 0 && size >= n:
		*b = append([]byte(nil), data...)
	case start >= n:
		*b = append(*b, data...)
	default:
		return statusBadArgument
	}
	return statusOK
}
