package host

// Reset ends the stream as a downstream reset does in Envoy (the client
// closed the connection or sent RST_STREAM), whatever phase it is in, even
// paused: no further stream callback runs, and the context gets
// proxy_on_log, proxy_on_done and proxy_on_delete, as after a normal end.
//
// Envoy's order, from its sources: ActiveStream::onResetStream calls
// ConnectionManagerImpl::doDeferredStreamDestroy
// (source/common/http/conn_manager_impl.cc), which runs completeRequest, then
// filter_manager_.log() (the wasm Context::log: proxy_on_log), then
// filter_manager_.destroyFilters() (Context::onDestroy in
// source/extensions/common/wasm/context.cc: onDone, then onDelete). An http
// call the plugin dispatched is unaffected: proxy-wasm-cpp-host's http_call
// (src/exports.cc) always registers it on the root context, which outlives
// the stream; whether the SDK still delivers the answer is the plugin's
// business. A Wait on the stream (a RoundTrip in another goroutine) returns
// ErrStreamReset.
func (s *Stream) Reset() error {
	s.vm.mu.Lock()
	s.paused, s.reset = false, true
	s.vm.mu.Unlock()
	s.signal()
	return s.Finish()
}
