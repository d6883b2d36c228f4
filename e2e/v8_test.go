package e2e

import (
	"math"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestV8HostReplaysStreams keeps the V8 host (e2e/v8/host.mjs, the
// instrument behind the V8 columns of BENCHMARKS.md) from drifting away from
// the wazero host: an allowed and a denied scenario replayed under Node must
// get the status each stream gets here (the script checks it and fails), with
// as many host calls per stream; and so must their host-call floors
// (e2e/replayplugin).
func TestV8HostReplaysStreams(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the V8 host (e2e/v8/host.mjs) is not checked")
	}
	var scenarios []streamScenario
	for _, sc := range streamScenarios() {
		// A denial, a cached token, a rate limit's budget spent by
		// priming, and every stage at once.
		switch sc.name {
		case "apiguard-jwt-cached", "apiguard-no-route-404", "apiguard-rate-limited-429", "apiguard-full-pipeline":
			scenarios = append(scenarios, sc)
		}
	}
	if len(scenarios) != 4 {
		t.Fatalf("found %d of the 4 scenarios", len(scenarios))
	}
	scenarios = withFloors(scenarios, floorScenarios(t, scenarios))
	const streams = 200
	file := t.TempDir() + "/scenarios.json"
	writeV8Scenarios(t, file, scenarios, nil)
	run := runV8(t, node, nil, file, "--streams", strconv.Itoa(streams), "--rounds", "3", "--seconds", "600")
	if len(run.Streams) != len(scenarios) {
		t.Fatalf("the V8 host reported %d scenarios, want %d", len(run.Streams), len(scenarios))
	}
	wazero, _ := measureWazero(t, scenarios, streams, 3, 10*time.Minute)
	for i, sc := range scenarios {
		v8, wz := run.Streams[i], wazero[i]
		if wz.Streams != streams {
			t.Errorf("wazero ran %d streams of %q, want %d", wz.Streams, sc.name, streams)
		}
		if v8.Name != sc.name || v8.Streams != streams {
			t.Errorf("V8 ran %d streams of %q, want %d of %q", v8.Streams, v8.Name, streams, sc.name)
		}
		if math.Abs(v8.HostCalls-wz.HostCalls) > 0.5 {
			t.Errorf("%s: %.2f host calls per stream under V8, %.2f in wazero", sc.name, v8.HostCalls, wz.HostCalls)
		}
	}
}
