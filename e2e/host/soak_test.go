package host

import (
	"os"
	"testing"
)

// TestSoakGarbageHeavyStreams drives the Go runtime's collector hard under
// Envoy 1.33's WASI (poll_oneoff fails with ENOSYS): streams that each
// allocate from 1 KiB to 32 MiB grow the heap, shrink it and run collections
// of every size. The runtime must never sleep (poll_oneoff) nor trap. `make
// soak` runs 300 streams a size; `make test` 20.
func TestSoakGarbageHeavyStreams(t *testing.T) {
	perSize := 20
	if os.Getenv("APIGUARD_SOAK_STREAMS") != "" {
		perSize = 300
	}
	env, vms := startProbe(t, Config{Profile: Envoy133}, 1)
	for _, kb := range []string{"8192", "64", "16384", "1", "32768"} {
		for i := 0; i < perSize; i++ {
			res := vms[0].RoundTrip(probe("garbage", [2]string{"x-probe-kb", kb}), okUpstream)
			if res.Err != nil {
				env.WriteLogs(os.Stderr)
				t.Fatalf("%s KiB stream %d: %v", kb, i, res.Err)
			}
		}
		env.ResetLogs()
	}
	if n := vms[0].PollOneoffCalls(); n != 0 {
		t.Errorf("the runtime called poll_oneoff %d times", n)
	}
	t.Logf("linear memory after the largest streams: %d MiB", vms[0].MemorySize()>>20)
}
