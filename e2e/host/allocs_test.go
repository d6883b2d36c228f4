package host

import (
	"strconv"
	"testing"
)

// TestGuestAllocationsCountWhatTheGuestAllocates: the probe's "garbage"
// action allocates x-probe-kb slices of 1 KiB and a slice to hold them; the
// counted bytes must cover that and little more than the same stream without
// garbage, which proves the listener reads mallocgc's size argument.
func TestGuestAllocationsCountWhatTheGuestAllocates(t *testing.T) {
	_, vms := startProbe(t, Config{CountGuestAllocations: true}, 1)
	vm := vms[0]
	perStream := func(kb int) (objects, bytes uint64) {
		req := probe("garbage", [2]string{"x-probe-kb", strconv.Itoa(kb)})
		vm.RoundTrip(req, okUpstream) // the first stream grows maps and pools
		o0, b0 := vm.GuestAllocations()
		if res := vm.RoundTrip(req, okUpstream); res.Err != nil {
			t.Fatal(res.Err)
		}
		o1, b1 := vm.GuestAllocations()
		return o1 - o0, b1 - b0
	}
	o0, b0 := perStream(0)
	o64, b64 := perStream(64)
	if o0 == 0 || b0 == 0 {
		t.Fatalf("a probe stream allocated %d objects, %d bytes: the listener counts nothing", o0, b0)
	}
	t.Logf("a probe stream: %d objects, %d bytes; with 64 KiB of garbage: %d objects, %d bytes", o0, b0, o64, b64)
	const want = 64*1024 + 64*24 // the slices and their headers
	if extra := b64 - b0; extra < want || extra > want+1024 {
		t.Errorf("64 KiB of garbage counted as %d more bytes (%d objects more), want %d to %d", extra, o64-o0, want, want+1024)
	}
	_, plain := startProbe(t, Config{}, 1)
	plain[0].RoundTrip(probe("garbage", [2]string{"x-probe-kb", "64"}), okUpstream)
	if o, b := plain[0].GuestAllocations(); o != 0 || b != 0 {
		t.Errorf("a VM without CountGuestAllocations counted %d objects, %d bytes", o, b)
	}
}
