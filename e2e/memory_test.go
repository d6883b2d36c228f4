package e2e

import (
	"strings"
	"testing"
)

// maxLinearMemory is the linear memory a VM may reach (issue 26): Envoy
// runs one VM per worker, so a policy's memory counts once per core.
const maxLinearMemory = 16 << 20

// TestAThousandAuthzRoutesFitTheMemoryBudget: a VM that loaded 1,000 token
// routes with authorization rules, had its configuration pushed again (the
// two coexist until the old one is shut down, and Go's heap goal doubles
// what is then live) and served 30,000 streams stays within
// maxLinearMemory. BenchmarkStream's apiguard-jwt-cached-authz-1000-routes
// reports the same VM's memory.
func TestAThousandAuthzRoutesFitTheMemoryBudget(t *testing.T) {
	for _, sc := range streamScenarios() {
		if sc.name != "apiguard-jwt-cached-authz-1000-routes" {
			continue
		}
		vm := sc.start(t, nil)
		for i := range 30000 {
			sc.roundTrip(t, vm, i)
		}
		mem := vm.MemorySize()
		t.Logf("linear memory %.2f MiB", float64(mem)/(1<<20))
		if mem > maxLinearMemory {
			t.Errorf("linear memory is %.2f MiB, over %d MiB", float64(mem)/(1<<20), maxLinearMemory>>20)
		}
		return
	}
	t.Fatal("no stream scenario apiguard-jwt-cached-authz-1000-routes")
}

// TestWarmStreamsAllocateNothing: once a VM is warm, a stream of every kind
// that does not verify a signature or read a body allocates nothing in the
// guest, so the collector never runs between configuration pushes and no
// stream pays for a cycle. The header maps are read into memory each pooled
// context lends the host; the stages keep their per-stream state in what an
// ended stream leaves. A peer identity is the one object: its SPIFFE ID,
// copied out of the property buffer the next read reuses.
func TestWarmStreamsAllocateNothing(t *testing.T) {
	allowed := map[string]float64{"apiguard-peer": 1, "apiguard-peer-and-jwt-cached": 1}
	for _, sc := range streamScenarios() {
		if sc.module != "plugin.wasm" || strings.Contains(sc.name, "-cold-") || strings.Contains(sc.name, "validate") {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			objects, bytes := guestAllocations(t, sc)
			if objects > allowed[sc.name] {
				t.Errorf("%.2f guest allocations (%.0f bytes) per stream, want at most %.0f", objects, bytes, allowed[sc.name])
			}
		})
	}
}
