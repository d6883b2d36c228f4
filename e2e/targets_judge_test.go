package e2e

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// TestVerdicts: a target is met within its limit; missed above it; and
// under a floor above it when the floor alone already misses it, which a
// cut of apiguard's own code cannot change.
func TestVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name string
		j    judged
		want string
	}{
		{"under the limit", judged{value: 1.2, limit: 1.3, floor: 1.1}, "met"},
		{"at the limit", judged{value: 2, limit: 2}, "met"},
		{"at a strict limit", judged{value: 6e6, limit: 6e6, strict: true}, "missed"},
		{"above, floor under", judged{value: 2.6, limit: 1.3, floor: 1.2}, "missed"},
		{"above, floor at the limit", judged{value: 2.6, limit: 2, floor: 2}, "missed"},
		{"above, floor above", judged{value: 2.6, limit: 1.3, floor: 1.65}, "floor above target"},
		{"above, no floor measured", judged{value: 11, limit: 5}, "missed"},
		{"above a strict limit, floor at it", judged{value: 7e6, limit: 6e6, floor: 6e6, strict: true}, "floor above target"},
	} {
		if got := tc.j.verdict(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestJudgeHoldsEachTargetToItsOwnMeasurement: a run in which each kind of
// target comes out differently is judged row by row, and the section
// counts the verdicts.
func TestJudgeHoldsEachTargetToItsOwnMeasurement(t *testing.T) {
	scenarios := []streamScenario{
		{name: "null-plugin", module: "nullplugin.wasm", requests: []host.Request{{}}},
		{name: "apiguard-pass-through", module: "plugin.wasm", requests: []host.Request{{}}},
		{name: "apiguard-no-route-404", module: "plugin.wasm", requests: []host.Request{{}}},
		{name: "apiguard-jwt-cached", module: "plugin.wasm", requests: []host.Request{{}}},
		{name: "apiguard-jwt-cold-ES256", module: "plugin.wasm", requests: []host.Request{{}}},
	}
	mib := uint32(1 << 20)
	wz := []streamStats{
		{Name: "null-plugin", P50: 1000, P99: 6000, LinearBytes: 3 * mib},
		{Name: "apiguard-pass-through", P50: 2500, P99: 6000, LinearBytes: 6 * mib},
		{Name: "apiguard-pass-through-host-calls", P50: 1650, P99: 4000, LinearBytes: 3 * mib},
		{Name: "apiguard-no-route-404", P50: 2900, P99: 16000, LinearBytes: 6 * mib},
		{Name: "apiguard-no-route-404-host-calls", P50: 1900},
		{Name: "apiguard-jwt-cached", P50: 1900, P99: 5000, LinearBytes: 17 * mib},
		{Name: "apiguard-jwt-cached-host-calls", P50: 1500},
		{Name: "apiguard-jwt-cold-ES256", P50: 800000, P99: 900000},
	}
	wazeroStart := []startupStats{
		{Name: "null-plugin", Ms: map[string]float64{"initialize": 2, "vm_start": 0, "configure": 0, "first_request": 0.1}},
		{Name: "apiguard-1000-routes", Ms: map[string]float64{"initialize": 13, "vm_start": 0, "configure": 11, "first_request": 0.3}},
	}
	v8Start := []startupStats{
		{Name: "null-plugin", Ms: map[string]float64{"initialize": 295, "vm_start": 6, "configure": 2, "first_request": 6}},
		{Name: "apiguard-1000-routes", Ms: map[string]float64{"initialize": 413, "vm_start": 6, "configure": 213, "first_request": 48}},
	}
	got := judge(judgedRun{
		scenarios:   scenarios,
		engines:     []engineStreams{{"wazero", wz}},
		startups:    []engineStartups{{"wazero", wazeroStart}, {"V8 TurboFan", v8Start}, {"V8 default", v8Start}},
		verify:      map[string]map[string]float64{"wazero": {"ES256": 700000}},
		moduleBytes: 6576130,
	})
	want := []struct{ target, what, verdict string }{
		{"pass-through ≤ 1.3×", "apiguard-pass-through, p50", "floor above target"},
		{"cached JWT ≤ 2×", "apiguard-jwt-cached, p50", "met"},
		{"any denial ≤ 2×", "apiguard-no-route-404, p50", "missed"},
		{"p99 ≤ 5× p50 in every scenario", "apiguard-no-route-404 (the highest)", "floor above target"},
		{"cold verify ≤ 1.3× the bare verify", "ES256, p50", "met"},
		{"module < 6 MB", "plugin.wasm", "missed"},
		{"instantiate + configure ≤ 30 ms, first request included", "apiguard-1000-routes", "met"},
		{"instantiate + configure ≤ 300 ms, first request included", "apiguard-1000-routes", "floor above target"},
		{"on_configure for 1,000 routes ≤ 5 ms", "apiguard-1000-routes", "missed"},
		{"linear memory ≤ 16 MiB per VM", "apiguard-jwt-cached (the most)", "missed"},
	}
	if len(got) != len(want) {
		for _, j := range got {
			t.Logf("%s | %s | %s | %s", j.target, j.engine, j.what, j.verdict())
		}
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		if j := got[i]; j.target != w.target || j.what != w.what || j.verdict() != w.verdict {
			t.Errorf("row %d: %s | %s | %s (%v against %v, floor %v), want %s | %s | %s",
				i, j.target, j.what, j.verdict(), j.value, j.limit, j.floor, w.target, w.what, w.verdict)
		}
	}
	var b bytes.Buffer
	writeTargets(&b, got)
	if !strings.Contains(b.String(), "3 met, 3 under a floor above them, 4 missed") {
		t.Errorf("the section does not count the verdicts:\n%s", b.String())
	}
}
