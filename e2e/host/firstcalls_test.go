package host

import "testing"

// TestFirstCallsRecordEachFunctionOnce: with TraceFirstCalls, every guest
// function appears once, under the callback that first ran it: the Go
// runtime's start under _initialize, the probe's request handling under
// proxy_on_request_headers and not again on a second stream. Without the
// option nothing is recorded.
func TestFirstCallsRecordEachFunctionOnce(t *testing.T) {
	_, vms := startProbe(t, Config{TraceFirstCalls: true}, 1)
	vm := vms[0]
	started := len(vm.FirstCalls())
	if res := vm.RoundTrip(probe("count"), okUpstream); res.Err != nil {
		t.Fatal(res.Err)
	}
	first := vm.FirstCalls()
	if res := vm.RoundTrip(probe("count"), okUpstream); res.Err != nil {
		t.Fatal(res.Err)
	}
	if again := vm.FirstCalls(); len(again) != len(first) {
		t.Errorf("a second identical stream added %d first calls: %v", len(again)-len(first), again[len(first):])
	}
	seen := map[string]bool{}
	callbacks := map[string]int{}
	for i, c := range first {
		if seen[c.Function] {
			t.Errorf("%s recorded twice", c.Function)
		}
		seen[c.Function] = true
		callbacks[c.Callback]++
		if i < started && c.Callback == "proxy_on_request_headers" || i >= started && c.Callback == "_initialize" {
			t.Errorf("first call %d (%d before the stream): %s under %s", i, started, c.Function, c.Callback)
		}
	}
	for _, want := range []struct{ function, callback string }{
		{"runtime.schedinit", "_initialize"},
		{"main.init.0", "_initialize"},
	} {
		found := false
		for _, c := range first {
			if c.Function == want.function {
				found = true
				if c.Callback != want.callback {
					t.Errorf("%s first ran under %s, want %s", c.Function, c.Callback, want.callback)
				}
			}
		}
		if !found {
			t.Errorf("%s never recorded", want.function)
		}
	}
	for _, cb := range []string{"_initialize", "proxy_on_vm_start", "proxy_on_request_headers"} {
		if callbacks[cb] == 0 {
			t.Errorf("no function first ran under %s: %v", cb, callbacks)
		}
	}
	// The Go runtime's start calls these WASI functions; a host function is
	// not the module's code.
	for _, host := range []string{"clock_time_get", "random_get", "environ_sizes_get"} {
		if seen[host] {
			t.Errorf("host function %s recorded", host)
		}
	}
	_, plain := startProbe(t, Config{}, 1)
	plain[0].RoundTrip(probe("count"), okUpstream)
	if calls := plain[0].FirstCalls(); calls != nil {
		t.Errorf("a VM without TraceFirstCalls recorded %d first calls", len(calls))
	}
}
