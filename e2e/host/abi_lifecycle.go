package host

import "time"

// lifecycleFunctions are the host calls that drive a stream's or a root
// context's lifecycle: timers, continuing and closing streams, the route
// cache, and proxy_done.
func lifecycleFunctions() []hostFunc {
	return []hostFunc{
		{"proxy_set_tick_period_milliseconds", i32s(1), oneI32, func(vm *VM, s []uint64) {
			// The timer belongs to the calling context's root context.
			if root := vm.roots[vm.rootOf(vm.effective)]; root != nil {
				root.tickPeriod = time.Duration(u32(s[0])) * time.Millisecond
				root.nextTick = vm.env.clock.Now().Add(root.tickPeriod)
			}
			s[0] = uint64(statusOK)
		}},
		{"proxy_continue_stream", i32s(1), oneI32, func(vm *VM, s []uint64) {
			// Envoy's Context::continueStream continues decoding (0) or
			// encoding (1), which does nothing for the side that is not held,
			// and for either drops the request headers, body and trailers. The
			// downstream type (2) is a no-op for an HTTP filter, upstream (3)
			// UNIMPLEMENTED.
			st, kind := vm.stream(), u32(s[0])
			switch {
			case kind == 2:
				s[0] = uint64(statusOK)
				return
			case kind == 3:
				s[0] = uint64(statusUnimplemented)
				return
			case st == nil || kind > 3:
				s[0] = uint64(statusBadArgument)
				return
			}
			st.releaseRequest()
			s[0] = uint64(statusOK)
			if (kind == 1) != st.respStarted {
				return
			}
			st.resumed = true
			vm.resumes = append(vm.resumes, st)
			s[0] = uint64(statusOK)
		}},
		{"proxy_close_stream", i32s(1), oneI32, func(vm *VM, s []uint64) {
			// Envoy resets the stream once the callback returns, with details
			// wasm_close_stream unless some were set (Context::closeStream in
			// source/extensions/common/wasm/context.cc): the client gets no reply.
			// Types 2 and 3 close a TCP connection: nothing for an HTTP stream.
			st, kind := vm.stream(), u32(s[0])
			switch {
			case st == nil || kind > 3:
				s[0] = uint64(statusBadArgument)
				return
			case kind > 1:
				s[0] = uint64(statusOK)
				return
			}
			if st.respDetails == "" {
				st.respDetails = "wasm_close_stream"
			}
			st.reset = true
			vm.resumes = append(vm.resumes, st)
			s[0] = uint64(statusOK)
		}},
		{"proxy_clear_route_cache", nil, oneI32, func(vm *VM, s []uint64) {
			vm.headersEdited(0)
			s[0] = uint64(statusOK)
		}},
		{"proxy_done", nil, oneI32, func(vm *VM, s []uint64) { s[0] = uint64(vm.proxyDone()) }},
	}
}

// headersEdited clears the route cache after an edit of the request headers.
func (vm *VM) headersEdited(mapType uint32) {
	if st := vm.stream(); st != nil && mapType == 0 {
		st.clearRouteCache()
	}
}
