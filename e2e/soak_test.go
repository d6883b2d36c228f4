package e2e

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// soakStreams is how many streams TestSoak runs: a smoke run in `make test`,
// APIGUARD_SOAK_STREAMS=1000000 in `make soak`.
func soakStreams(t *testing.T) int {
	if v := os.Getenv("APIGUARD_SOAK_STREAMS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("APIGUARD_SOAK_STREAMS=%q", v)
		}
		return n
	}
	return 120000
}

// TestSoak runs many streams under Envoy 1.33's WASI, where poll_oneoff fails
// with ENOSYS and the Go runtime throws if it ever sleeps (golang/go#78513:
// Go plugins dying in Envoy hours after start). The mix of allowed and denied
// requests allocates enough to run many GC cycles. The plugin must not trap,
// must never call poll_oneoff, and its linear memory must stay flat after
// warm-up.
func TestSoak(t *testing.T) {
	n := soakStreams(t)
	g := startGateway(t, ordersAPI, 1, withProfile(host.Envoy133))
	vm := g.vms[0]
	paths := []string{"/api/v1/orders/%d", "/public/../admin/%d", "/public/docs/%d?page=2", "/healthz;v=%d", "/a%%2fb/%d"}
	// The heap reaches its steady state within about 50,000 streams.
	const warmup = 50000
	var memAfterWarmup uint32
	for i := 0; i < n; i++ {
		if i == warmup {
			memAfterWarmup = vm.MemorySize()
		}
		req := request("GET", fmt.Sprintf(paths[i%len(paths)], i), "x-request-id", strconv.Itoa(i))
		res := vm.RoundTrip(req, upstream)
		if res.Err != nil {
			g.env.WriteLogs(os.Stderr)
			t.Fatalf("stream %d trapped after %d poll_oneoff calls: %v", i, vm.PollOneoffCalls(), res.Err)
		}
		if i%10000 == 0 {
			g.env.ResetLogs()
		}
	}
	mem := vm.MemorySize()
	t.Logf("%d streams: poll_oneoff calls %d, linear memory %d KiB after warm-up, %d KiB at the end",
		n, vm.PollOneoffCalls(), memAfterWarmup>>10, mem>>10)
	if calls := vm.PollOneoffCalls(); calls != 0 {
		t.Errorf("poll_oneoff called %d times: the Go runtime slept, which kills the VM in Envoy 1.33-1.38", calls)
	}
	// Four 64 KiB wasm pages of slack: fragmentation may settle a little later.
	if n > warmup && mem > memAfterWarmup+256<<10 {
		t.Errorf("linear memory grew from %d to %d bytes after warm-up", memAfterWarmup, mem)
	}
}
