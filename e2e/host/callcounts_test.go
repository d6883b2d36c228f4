package host

import (
	"slices"
	"testing"
)

func TestOwnFunctionIsTheModulesCode(t *testing.T) {
	tests := []struct {
		name string
		own  bool
	}{
		{name: "main.(*httpContext).OnHttpRequestHeaders", own: true},
		{name: "github.com/apiguard/apiguard/filters/route.Normalize", own: true},
		{name: "github.com/tidwall/gjson.Parse", own: true},
		{name: "runtime.mallocgc"},
		{name: "strconv.Quote"},
		{name: "encoding/json.Unmarshal"},
		{name: "vendor/golang.org/x/crypto/cryptobyte.(*String).ReadASN1"},
		{name: "fd_write"},
	}
	for _, tc := range tests {
		if got := ownFunction(tc.name); got != tc.own {
			t.Errorf("ownFunction(%q) = %v, want %v", tc.name, got, tc.own)
		}
	}
}

// TestCallCountsSeeWhatAStreamRan: with CountCalls, a stream's counts are
// the same each time it runs, a stream that takes another path in the
// probe counts differently, and taking the counts resets them. Without
// the option nothing is counted.
func TestCallCountsSeeWhatAStreamRan(t *testing.T) {
	_, vms := startProbe(t, Config{CountCalls: true}, 1)
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
	_, plain := startProbe(t, Config{}, 1)
	plain[0].RoundTrip(probe("count"), okUpstream)
	if calls := plain[0].TakeCallCounts(); calls != nil {
		t.Errorf("a VM without CountCalls counted %v", calls)
	}
}
