package host

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestCallCountsSeeWhatAStreamRan: with CountCalls, a stream's counts are
// the same each time it runs, a stream that takes another path in the
// probe counts differently, taking the counts resets them, and a second
// Env counts as the first. Only the
// functions of the prefixes count: the probe's own (main.) but not the Go
// runtime's. Without the option nothing is counted.
func TestCallCountsSeeWhatAStreamRan(t *testing.T) {
	env, vms := startProbe(t, Config{CountCalls: []string{"main."}}, 1)
	vm := vms[0]
	run := func(action string) []uint32 {
		vm.TakeCallCounts()
		if res := vm.RoundTrip(probe(action), okUpstream); res.Err != nil {
			t.Fatal(res.Err)
		}
		return vm.TakeCallCounts()
	}
	run("count") // the first stream grows maps and pools
	first, second := run("count"), run("count")
	if !slices.ContainsFunc(first, func(n uint32) bool { return n > 0 }) {
		t.Fatalf("a probe stream counted no call: %v", first)
	}
	if !slices.Equal(first, second) {
		t.Errorf("the same stream counted differently:\n%v\n%v", first, second)
	}
	if garbage := run("garbage"); slices.Equal(first, garbage) {
		t.Errorf("a stream that allocates counted as one that counts: %v", garbage)
	}
	if after := vm.TakeCallCounts(); slices.ContainsFunc(after, func(n uint32) bool { return n > 0 }) {
		t.Errorf("counts not reset: %v", after)
	}
	// Another Env counting the same functions reuses the compiled code,
	// whose listeners wazero's cache keeps: it counts all the same.
	_, again := startProbe(t, Config{CountCalls: []string{"main."}}, 1)
	again[0].RoundTrip(probe("count"), okUpstream)
	if calls := again[0].TakeCallCounts(); !slices.ContainsFunc(calls, func(n uint32) bool { return n > 0 }) {
		t.Errorf("a second Env counting main. counted nothing: %v", calls)
	}
	counted := len(env.calls.rank)
	_, runtime := startProbe(t, Config{CountCalls: []string{"main.", "runtime."}}, 1)
	runtime[0].RoundTrip(probe("count"), okUpstream)
	if all := runtime[0].TakeCallCounts(); len(all) <= counted {
		t.Errorf("counting runtime. too counted %d functions, main. alone %d", len(all), counted)
	}
	runtime[0].RoundTrip(probe("count"), okUpstream)
	byName := runtime[0].TakeCallCountsByName()
	if byName["runtime.mallocgc"] == 0 || !slices.ContainsFunc(slices.Collect(maps.Keys(byName)), func(n string) bool { return strings.HasPrefix(n, "main.") }) {
		t.Errorf("by name, a probe stream counted neither runtime.mallocgc nor a function of main.: %v", byName)
	}
	for name := range byName {
		if !strings.HasPrefix(name, "main.") && !strings.HasPrefix(name, "runtime.") {
			t.Errorf("%s counted, outside the prefixes", name)
		}
	}
	_, plain := startProbe(t, Config{}, 1)
	plain[0].RoundTrip(probe("count"), okUpstream)
	if calls := plain[0].TakeCallCounts(); calls != nil {
		t.Errorf("a VM without CountCalls counted %v", calls)
	}
}
