package e2e

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
)

// A judged target is one of issue 26's performance targets held against one
// measurement of a `make bench` run, next to the floor measured with it:
// the least any module costs there, whatever its own code, where the run
// measures one. For a stream's ratio that is its host calls replayed alone
// (the host calls' floor table), for a start-up the null plugin's, for a
// cold verification one plus the cached-token stream over the bare verify.
// A target under its floor cannot be met by cutting apiguard's code: only by
// making fewer host calls, or by another runtime than upstream Go's.
type judged struct {
	target, engine, what string
	value, limit         float64
	// floor is 0 where the run measures none.
	floor float64
	// strict: the value must stay below the limit, not reach it.
	strict bool
	unit   string
}

func (j judged) verdict() string {
	switch {
	case j.within(j.value):
		return "met"
	case j.floor > 0 && !j.within(j.floor):
		return "floor above target"
	default:
		return "missed"
	}
}

func (j judged) within(v float64) bool {
	if j.strict {
		return v < j.limit
	}
	return v <= j.limit
}

func (j judged) format(v float64) string {
	switch j.unit {
	case "×":
		return strconv.FormatFloat(v, 'f', 2, 64) + "×"
	case "MB":
		return strconv.FormatFloat(v/1e6, 'f', 3, 64) + " MB"
	case "MiB":
		return strconv.FormatFloat(v/(1<<20), 'f', 1, 64) + " MiB"
	default:
		return strconv.FormatFloat(v, 'f', 1, 64) + " " + j.unit
	}
}

// engineStreams are one engine's stream measurements, floors included
// (each apiguard scenario's replay, named NAME-host-calls).
type engineStreams struct {
	name  string
	stats []streamStats
}

// streamEngines are wazero's measurements and each V8 run's.
func streamEngines(wz []streamStats, runs []v8Run) []engineStreams {
	out := []engineStreams{{"wazero", wz}}
	for _, r := range runs {
		out = append(out, engineStreams{engineName(r), r.Streams})
	}
	return out
}

// streamTargets are the ratios to the null plugin (p50, same body) that
// apiguard's streams must keep in every engine.
var streamTargets = []struct {
	target    string
	limit     float64
	scenarios []string
}{
	{"pass-through ≤ 1.3×", 1.3, []string{"apiguard-pass-through"}},
	{"cached JWT ≤ 2×", 2, []string{"apiguard-jwt-cached"}},
	{"any denial ≤ 2×", 2, []string{"apiguard-no-route-404", "apiguard-no-token-401", "apiguard-authz-403", "apiguard-rate-limited-429"}},
	{"full pipeline with a cached JWT ≤ 3×", 3, []string{"apiguard-full-pipeline"}},
}

// startupTargets bound a worker's start, instantiate to first request, per
// engine; V8's default tiering has none.
var startupTargets = map[string]float64{"wazero": 30, "V8 TurboFan": 300}

// judgedRun is everything a `make bench` run measured that issue 26's
// targets are about.
type judgedRun struct {
	scenarios []streamScenario
	// engines lists wazero first.
	engines     []engineStreams
	startups    []engineStartups
	verify      map[string]map[string]float64
	moduleBytes float64
}

// engineStartups are one engine's start-up scenarios.
type engineStartups struct {
	name  string
	stats []startupStats
}

// judge holds every target against the run, in the order.
func judge(r judgedRun) []judged {
	var out []judged
	for _, t := range streamTargets {
		for _, e := range r.engines {
			for _, name := range t.scenarios {
				if j, ok := r.streamRatio(e, name); ok {
					j.target, j.limit = t.target, t.limit
					out = append(out, j)
				}
			}
		}
	}
	for _, e := range r.engines {
		if j, ok := r.worstTail(e); ok {
			out = append(out, j)
		}
	}
	for _, alg := range []string{"RS256", "ES256", "EdDSA", "HS256"} {
		for _, e := range r.engines {
			s, cached, bare := find(e.stats, "apiguard-jwt-cold-"+alg), find(e.stats, "apiguard-jwt-cached"), r.verify[e.name][alg]
			if s == nil || cached == nil || bare == 0 {
				continue
			}
			out = append(out, judged{target: "cold verify ≤ 1.3× the bare verify", engine: e.name, what: alg + ", p50",
				value: s.P50 / bare, limit: 1.3, floor: 1 + cached.P50/bare, unit: "×"})
		}
	}
	if r.moduleBytes > 0 {
		out = append(out, judged{target: "module < 6 MB", engine: "–", what: "plugin.wasm", value: r.moduleBytes, limit: 6e6,
			strict: true, unit: "MB"})
	}
	for _, e := range r.startups {
		limit, ok := startupTargets[e.name]
		if !ok {
			continue
		}
		var nullStart startupStats
		for _, s := range e.stats {
			if s.Name == "null-plugin" {
				nullStart = s
			}
		}
		null, nullOK := startupSum(nullStart)
		for _, s := range e.stats {
			if s.Name == "null-plugin" {
				continue
			}
			v, ok := startupSum(s)
			if !ok {
				continue
			}
			j := judged{target: fmt.Sprintf("instantiate + configure ≤ %.0f ms, first request included", limit), engine: e.name,
				what: s.Name, value: v, limit: limit, unit: "ms"}
			if nullOK {
				j.floor = null
			}
			out = append(out, j)
		}
	}
	for _, s := range r.wazeroStartups() {
		if ms, ok := s.Ms["configure"]; ok && s.Name == "apiguard-1000-routes" {
			out = append(out, judged{target: "on_configure for 1,000 routes ≤ 5 ms", engine: "wazero", what: s.Name,
				value: ms, limit: 5, unit: "ms"})
		}
	}
	if j, ok := r.mostMemory(); ok {
		out = append(out, j)
	}
	return out
}

// streamRatio is scenario name's p50 over its null plugin's in engine e,
// with its host calls' replay as the floor.
func (r judgedRun) streamRatio(e engineStreams, name string) (judged, bool) {
	i := slices.IndexFunc(r.scenarios, func(sc streamScenario) bool { return sc.name == name })
	if i < 0 {
		return judged{}, false
	}
	s, n := find(e.stats, name), find(e.stats, r.scenarios[nullFor(r.scenarios, r.scenarios[i])].name)
	if s == nil || n == nil || n.P50 == 0 {
		return judged{}, false
	}
	j := judged{engine: e.name, what: name + ", p50", value: s.P50 / n.P50, unit: "×"}
	if f := find(e.stats, name+"-host-calls"); f != nil {
		j.floor = f.P50 / n.P50
	}
	return j, true
}

// worstTail is engine e's apiguard stream with the highest p99 over p50,
// against "p99 ≤ 5× p50 in every scenario"; the floor is its null
// plugin's own tail, which is the engine's and the machine's.
func (r judgedRun) worstTail(e engineStreams) (judged, bool) {
	var worst judged
	for _, sc := range r.scenarios {
		s := find(e.stats, sc.name)
		if sc.module != "plugin.wasm" || s == nil || s.P50 == 0 || s.P99/s.P50 <= worst.value {
			continue
		}
		worst = judged{target: "p99 ≤ 5× p50 in every scenario", engine: e.name, what: sc.name + " (the highest)",
			value: s.P99 / s.P50, limit: 5, unit: "×"}
		if n := find(e.stats, r.scenarios[nullFor(r.scenarios, sc)].name); n != nil && n.P50 > 0 {
			worst.floor = n.P99 / n.P50
		}
	}
	return worst, worst.value > 0
}

// mostMemory is the largest linear memory of apiguard's wazero VMs in the
// run: a stream scenario's after its streams, a start-up scenario's after
// its first request.
func (r judgedRun) mostMemory() (judged, bool) {
	j := judged{target: "linear memory ≤ 16 MiB per VM", engine: "wazero", limit: 16 << 20, unit: "MiB"}
	var streams []streamStats
	if len(r.engines) > 0 {
		streams = r.engines[0].stats
	}
	for _, sc := range r.scenarios {
		if s := find(streams, sc.name); sc.module == "plugin.wasm" && s != nil && float64(s.LinearBytes) > j.value {
			j.what, j.value = sc.name+" (the most)", float64(s.LinearBytes)
		}
	}
	for _, s := range r.wazeroStartups() {
		if s.Name != "null-plugin" && float64(s.LinearBytes) > j.value {
			j.what, j.value = s.Name+" after start (the most)", float64(s.LinearBytes)
		}
	}
	return j, j.value > 0
}

func (r judgedRun) wazeroStartups() []startupStats {
	for _, e := range r.startups {
		if e.name == "wazero" {
			return e.stats
		}
	}
	return nil
}

// startupSum is a start-up scenario's instantiate + _initialize, vm_start,
// configure and first request, in milliseconds; false if a phase is
// missing.
func startupSum(s startupStats) (float64, bool) {
	sum := 0.0
	for _, p := range []string{"initialize", "vm_start", "configure", "first_request"} {
		ms, ok := s.Ms[p]
		if !ok {
			return 0, false
		}
		sum += ms
	}
	return sum, true
}

// writeTargets is the run's verdict on each target, first in BENCHMARKS.md.
func writeTargets(w *bytes.Buffer, js []judged) {
	count := map[string]int{}
	for _, j := range js {
		count[j.verdict()]++
	}
	fmt.Fprintf(w, "## Against the targets\n\nIssue 26's targets held against this run: %d met, %d under a floor above them, %d missed. "+
		"The floor is the least any module costs in that engine, whatever its own code: for a stream, its host calls replayed alone "+
		"(the host calls' floor, below); for a start-up, the null plugin's; for a cold verification, 1 + the cached-token stream ÷ the bare verify; "+
		"for the tail, the null plugin's own p99 ÷ p50. Where the floor is above the target, no cut of apiguard's own code meets it.\n\n",
		count["met"], count["floor above target"], count["missed"])
	fmt.Fprintf(w, "| target | engine | case | measured | floor | verdict |\n|---|---|---|---:|---:|---|\n")
	for _, j := range js {
		floor := "–"
		if j.floor > 0 {
			floor = j.format(j.floor)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", j.target, j.engine, j.what, j.format(j.value), floor, j.verdict())
	}
	fmt.Fprintln(w)
}
