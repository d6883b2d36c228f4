package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/e2e/wasmsize"
	"github.com/tetratelabs/wazero"
)

// streamStats is one scenario measured in one engine.
type streamStats struct {
	Name        string  `json:"name"`
	Streams     int     `json:"streams"`
	NsPerStream float64 `json:"ns_per_stream"`
	P50         float64 `json:"p50_ns"`
	P99         float64 `json:"p99_ns"`
	HostCalls   float64 `json:"host_calls_per_stream"`
	// Plugin times are the stream's time in the module's callbacks (the
	// wazero host only: VM.CallbackTime).
	PluginNs, PluginP50, PluginP99 float64
	LinearBytes                    uint32 `json:"linear_bytes"`
	// Allocation counts come from the wazero host only.
	AllocBytes, Allocs float64
}

// startupStats is one start-up scenario, phase by phase, in milliseconds.
type startupStats struct {
	Name        string             `json:"name"`
	Ms          map[string]float64 `json:"ms"`
	LinearBytes uint32             `json:"linear_bytes"`
}

// v8Run is what e2e/v8/host.mjs reports with --json.
type v8Run struct {
	Engine  string         `json:"engine"`
	Node    string         `json:"node"`
	Flags   []string       `json:"flags"`
	Streams []streamStats  `json:"streams"`
	Startup []startupStats `json:"startup"`
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q", name, v)
	}
	return n
}

// TestBenchmarkTable measures every BenchmarkStream scenario and the
// start-up scenarios in wazero and, when node is installed, in V8 with
// TurboFan only (--no-liftoff) and with Node's default tiering, prints the
// table and writes it to the file APIGUARD_BENCH_TABLE names (make bench).
// Each scenario runs APIGUARD_BENCH_STREAMS streams (100,000) after a
// warm-up, or as many as fit in APIGUARD_BENCH_SECONDS (20) per scenario;
// each start-up scenario starts APIGUARD_BENCH_STARTS fresh wazero VMs (9).
func TestBenchmarkTable(t *testing.T) {
	out := os.Getenv("APIGUARD_BENCH_TABLE")
	if out == "" {
		t.Skip("measures and writes BENCHMARKS.md when APIGUARD_BENCH_TABLE names it (make bench)")
	}
	streams := envInt(t, "APIGUARD_BENCH_STREAMS", 100000)
	rounds := envInt(t, "APIGUARD_BENCH_ROUNDS", 5)
	budget := time.Duration(envInt(t, "APIGUARD_BENCH_SECONDS", 20)) * time.Second
	startRuns := envInt(t, "APIGUARD_BENCH_STARTS", 9)
	load1 := loadAverage()
	scenarios := streamScenarios()
	// Each apiguard scenario's host-call floor runs right after it, so
	// that the machine's load changes little between the two.
	floors := floorScenarios(t, scenarios)
	measured, nullRounds := measureWazero(t, withFloors(scenarios, floors), streams, rounds, budget)
	var wz, wzFloors []streamStats
	for _, sc := range scenarios {
		st := *find(measured, sc.name)
		st.Allocs, st.AllocBytes = guestAllocations(t, sc)
		wz = append(wz, st)
		if floor, ok := floors[sc.name]; ok {
			wzFloors = append(wzFloors, *find(measured, floor.name))
		}
	}
	var wzStartup []startupStats
	code := map[string]map[string]*phaseCode{}
	for _, su := range startupScenarios() {
		wzStartup = append(wzStartup, startupWazero(t, su, startRuns))
		code[su.name] = startupCode(t, su)
	}
	var runs []v8Run
	node, err := exec.LookPath("node")
	if err == nil {
		file := filepath.Join(t.TempDir(), "scenarios.json")
		writeV8Scenarios(t, file, withFloors(scenarios, floors), startupScenarios())
		for _, flags := range [][]string{{"--no-liftoff"}, nil} {
			runs = append(runs, runV8(t, node, flags, file, "--streams", strconv.Itoa(streams), "--rounds", strconv.Itoa(rounds),
				"--seconds", strconv.Itoa(int(budget.Seconds()))))
		}
	}
	verify := bareVerify(t, node, budget)
	startups := []engineStartups{{"wazero", wzStartup}}
	for _, r := range runs {
		startups = append(startups, engineStartups{engineName(r), r.Startup})
	}
	var b bytes.Buffer
	writeHeader(&b, scenarios, nullRounds, runs, load1, loadAverage())
	writeTargets(&b, judge(judgedRun{scenarios: scenarios, engines: streamEngines(append(slices.Clone(wz), wzFloors...), runs),
		startups: startups, verify: verify, moduleBytes: float64(fileSize("plugin.wasm"))}))
	writeTable(&b, scenarios, wz, wzStartup, startRuns, runs)
	writeFloorTable(&b, scenarios, wz, wzFloors, runs)
	writeVerifyTable(&b, wz, runs, verify)
	writeStartupCode(&b, code)
	writeModuleSize(t, &b)
	fmt.Print(b.String())
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// measureWazero times each stream of every scenario, each in a warm VM of
// its own, in rounds: every round runs each scenario's share of the streams
// (and of the time budget) in turn, so that a change in the machine's speed
// during the run weighs on every row alike instead of on the rows measured
// while it lasted. The mean is over every stream; p50 and p99 are the median
// of each round's own, so that a round the machine ran slow moves neither,
// where pooled it would be every scenario's p99. It also returns the first
// scenario's p50 in each round.
func measureWazero(t *testing.T, scenarios []streamScenario, streams, rounds int, budget time.Duration) ([]streamStats, []float64) {
	type run struct {
		vm              *host.VM
		calls           uint64
		inPlugin, total time.Duration
		times, plugin   []time.Duration
		// ends[k] is where round k's streams end in times and plugin.
		ends []int
	}
	runs := make([]run, len(scenarios))
	for i, sc := range scenarios {
		r := &runs[i]
		r.vm = sc.start(t, nil)
		warmUntil := time.Now().Add(budget / 10)
		for n := 0; n < min(2000, streams/8) && time.Now().Before(warmUntil); n++ {
			sc.roundTrip(t, r.vm, n)
		}
		r.calls, r.inPlugin = r.vm.AllHostCalls(), r.vm.CallbackTime()
		r.times, r.plugin = make([]time.Duration, 0, streams), make([]time.Duration, 0, streams)
	}
	perRound, roundBudget := (streams+rounds-1)/rounds, budget/time.Duration(rounds)
	for range rounds {
		for i, sc := range scenarios {
			r := &runs[i]
			// The host's garbage from the scenario before (a 64 KiB body's
			// copies) is not this one's to collect.
			runtime.GC()
			deadline, start := time.Now().Add(roundBudget), time.Now()
			for n := 0; n < perRound && len(r.times) < streams; n++ {
				a, p := time.Now(), r.vm.CallbackTime()
				sc.roundTrip(t, r.vm, len(r.times))
				r.times = append(r.times, time.Since(a))
				r.plugin = append(r.plugin, r.vm.CallbackTime()-p)
				if n%256 == 255 && time.Now().After(deadline) {
					break
				}
			}
			r.total += time.Since(start)
			r.ends = append(r.ends, len(r.times))
		}
	}
	out := make([]streamStats, len(scenarios))
	var firstP50 []float64
	for i, sc := range scenarios {
		r := &runs[i]
		var p50, p99, plugin50, plugin99 []float64
		from := 0
		for _, end := range r.ends {
			if end == from {
				continue
			}
			a, b := percentiles(r.times[from:end])
			p50, p99 = append(p50, a), append(p99, b)
			a, b = percentiles(r.plugin[from:end])
			plugin50, plugin99 = append(plugin50, a), append(plugin99, b)
			from = end
		}
		if i == 0 {
			firstP50 = slices.Clone(p50)
		}
		n := len(r.times)
		inPlugin := r.vm.CallbackTime() - r.inPlugin
		out[i] = streamStats{Name: sc.name, Streams: n, NsPerStream: float64(r.total.Nanoseconds()) / float64(n),
			P50: median(p50), P99: median(p99),
			PluginNs: float64(inPlugin.Nanoseconds()) / float64(n), PluginP50: median(plugin50), PluginP99: median(plugin99),
			HostCalls: float64(r.vm.AllHostCalls()-r.calls) / float64(n), LinearBytes: r.vm.MemorySize()}
		t.Logf("wazero %s: %.0f ns/stream over %d streams", sc.name, out[i].NsPerStream, n)
	}
	return out, firstP50
}

// percentiles sorts d and returns its p50 and p99 in nanoseconds.
func percentiles(d []time.Duration) (p50, p99 float64) {
	slices.Sort(d)
	n := len(d)
	return float64(d[n/2]), float64(d[min(n-1, n*99/100)])
}

// median is the middle of v (the mean of the two middles of an even count).
func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// guestAllocations counts what the guest's Go runtime allocates per stream,
// in a VM whose runtime.mallocgc is watched (host.Config.CountGuestAllocations).
func guestAllocations(t *testing.T, sc streamScenario) (objects, bytes float64) {
	vm := sc.start(t, func(c *host.Config) { c.CountGuestAllocations = true })
	const warm = 100
	for i := 0; i < warm; i++ {
		sc.roundTrip(t, vm, i)
	}
	o0, b0 := vm.GuestAllocations()
	n, deadline := 0, time.Now().Add(5*time.Second)
	for ; n < 1000 && (n < 10 || time.Now().Before(deadline)); n++ {
		sc.roundTrip(t, vm, warm+n)
	}
	o1, b1 := vm.GuestAllocations()
	return float64(o1-o0) / float64(n), float64(b1-b0) / float64(n)
}

// startupWazero times a fresh compile (no cache), then a worker's start,
// phase by phase, in startRuns fresh VMs: each phase is the median of its
// runs. One VM's start is a few milliseconds, which the host's own
// collector, catching up on the garbage of the streams measured before,
// could triple: in one run the same module's _initialize took 13.7 ms in
// one scenario and 3.9 in the next.
func startupWazero(t *testing.T, su startupScenario, startRuns int) startupStats {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	start := time.Now()
	if _, err := rt.CompileModule(ctx, module(t, su.module)); err != nil {
		t.Fatal(err)
	}
	compile := time.Since(start)
	rt.Close(ctx)
	phases := map[string][]float64{}
	var mem uint32
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for range startRuns {
		// The host's collector, still marking the heap of the VMs measured
		// before, is not the guest's start: each VM starts after a cycle.
		runtime.GC()
		env, err := host.NewEnv(host.Config{Module: module(t, su.module), Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
			Configuration: []byte(su.config), Clock: host.NewFakeClock(benchNow)})
		if err != nil {
			t.Fatal(err)
		}
		vm, err := env.StartVM()
		if err != nil {
			env.WriteLogs(os.Stderr)
			t.Fatalf("%s: %v", su.name, err)
		}
		mem = max(mem, vm.MemorySize())
		start = time.Now()
		res := vm.RoundTrip(su.request, upstream)
		first := time.Since(start)
		if res.Err != nil || res.Status != su.status {
			t.Fatalf("%s: first request: status %d (want %d), %v", su.name, res.Status, su.status, res.Err)
		}
		p := vm.Startup()
		for name, d := range map[string]time.Duration{"load": p.Load, "initialize": p.Instantiate + p.Initialize,
			"vm_start": p.VMStart, "configure": p.Configure, "first_request": first} {
			phases[name] = append(phases[name], ms(d))
		}
		env.Close()
	}
	out := startupStats{Name: su.name, LinearBytes: mem, Ms: map[string]float64{"compile": ms(compile)}}
	for name, v := range phases {
		out.Ms[name] = median(v)
	}
	return out
}

// bareVerify measures a cold verification alone (filters/jwt
// BenchmarkVerify: every check and the signature), compiled to wasm like
// the plugin, in wazero (e2e/cmd/wasirun) and in V8 (e2e/v8/wasi.mjs with
// each of the table's flags; skipped when node is ""): ns/op by engine
// name, then algorithm.
func bareVerify(t *testing.T, node string, budget time.Duration) map[string]map[string]float64 {
	dir := t.TempDir()
	wasm, runner := filepath.Join(dir, "jwt.wasm"), filepath.Join(dir, "wasirun")
	build := exec.Command("go", "test", "-c", "-o", wasm, "../filters/jwt")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the jwt benchmarks for wasm: %v\n%s", err, out)
	}
	if out, err := exec.Command("go", "build", "-o", runner, "./cmd/wasirun").CombinedOutput(); err != nil {
		t.Fatalf("building wasirun: %v\n%s", err, out)
	}
	// Best of three: the slowest runs are the machine's other work.
	args := []string{wasm, "-test.run", "^$", "-test.bench", "^BenchmarkVerify/cold-(RS256|ES256|EdDSA|HS256)$", "-test.count", "3",
		"-test.benchtime", fmt.Sprintf("%ds", max(1, int(budget.Seconds())/20))}
	runs := map[string][]string{"wazero": append([]string{runner}, args...)}
	if node != "" {
		script, err := filepath.Abs("v8/wasi.mjs")
		if err != nil {
			t.Fatal(err)
		}
		runs["V8 TurboFan"] = append([]string{node, "--no-warnings", "--no-liftoff", script}, args...)
		runs["V8 default"] = append([]string{node, "--no-warnings", script}, args...)
	}
	out := map[string]map[string]float64{}
	for engine, argv := range runs {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = "../filters/jwt"
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, b)
		}
		out[engine] = map[string]float64{}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 4 && f[3] == "ns/op" && strings.HasPrefix(f[0], "BenchmarkVerify/cold-") {
				alg := strings.TrimSuffix(strings.TrimPrefix(f[0], "BenchmarkVerify/cold-"), "-2")
				if ns, err := strconv.ParseFloat(f[2], 64); err == nil && (out[engine][alg] == 0 || ns < out[engine][alg]) {
					out[engine][alg] = ns
				}
			}
		}
		t.Logf("bare verify in %s: %v", engine, out[engine])
	}
	return out
}

// floorScenarios are the host-call floors (floorScenario) of scenarios'
// apiguard streams, by the name of the scenario.
func floorScenarios(t testing.TB, scenarios []streamScenario) map[string]streamScenario {
	out := map[string]streamScenario{}
	for _, sc := range scenarios {
		if sc.module == "plugin.wasm" {
			out[sc.name], _, _ = floorScenario(t, sc)
		}
	}
	return out
}

// withFloors is scenarios with each one's floor right after it.
func withFloors(scenarios []streamScenario, floors map[string]streamScenario) []streamScenario {
	var out []streamScenario
	for _, sc := range scenarios {
		out = append(out, sc)
		if floor, ok := floors[sc.name]; ok {
			out = append(out, floor)
		}
	}
	return out
}

// writeFloorTable splits each apiguard stream's cost above the null plugin
// into the host calls it makes (its replay's cost above the null plugin)
// and its own work (the rest), p50 in each engine.
func writeFloorTable(w *bytes.Buffer, scenarios []streamScenario, wz, wzFloors []streamStats, runs []v8Run) {
	fmt.Fprintf(w, "\n## The host calls' floor\n\nEach apiguard stream recorded by the e2e host (host.VM.Record) and replayed by e2e/replayplugin, a module built like the others that makes the same host calls in the same callbacks with the same arguments, and nothing else (TestReplayMakesTheHostCallsOfTheStream checks the calls and the outcome are the same). p50 of a whole stream in µs; host calls alone × null is the least a stream making those calls costs in that engine, whatever the code around them; apiguard's own is its p50 minus the replay's: the routing, the checks and the decisions.\n\n")
	engines := streamEngines(append(slices.Clone(wz), wzFloors...), runs)
	fmt.Fprintf(w, "| scenario | proxy calls |")
	for _, e := range engines {
		fmt.Fprintf(w, " %s: null | host calls alone | × null | apiguard | × null | apiguard's own |", e.name)
	}
	fmt.Fprintf(w, "\n|---|---:|")
	for range engines {
		fmt.Fprintf(w, "---:|---:|---:|---:|---:|---:|")
	}
	fmt.Fprintln(w)
	for i, sc := range scenarios {
		if sc.module != "plugin.wasm" {
			continue
		}
		fmt.Fprintf(w, "| %s | %.1f |", sc.name, wz[i].HostCalls)
		null := scenarios[nullFor(scenarios, sc)].name
		for _, e := range engines {
			s, f, n := find(e.stats, sc.name), find(e.stats, sc.name+"-host-calls"), find(e.stats, null)
			if s == nil || f == nil || n == nil {
				fmt.Fprintf(w, " – | – | – | – | – | – |")
				continue
			}
			fmt.Fprintf(w, " %s | %s | %.2f | %s | %.2f | %s |", us(n.P50), us(f.P50), f.P50/n.P50, us(s.P50), s.P50/n.P50, us(s.P50-f.P50))
		}
		fmt.Fprintln(w)
	}
}

// writeVerifyTable compares each cold-verification stream with the bare
// verification of the same algorithm in the same engine.
func writeVerifyTable(w *bytes.Buffer, wz []streamStats, runs []v8Run, verify map[string]map[string]float64) {
	fmt.Fprintf(w, "\n## Cold verification: whole stream vs bare verify\n\nThe bare verify is filters/jwt's BenchmarkVerify (every check of the token and its signature, same key types and sizes) compiled to wasm and run in the same engine, best of three runs: wazero through e2e/cmd/wasirun, V8 through e2e/v8/wasi.mjs. The stream is a whole cold-token stream of the table above, and the cached one a whole stream whose token the cache holds (µs, p50): what a stream costs besides the verification, which bounds the ratio from below at 1 + cached ÷ verify.\n\n")
	fmt.Fprintf(w, "| algorithm | engine | cold stream | bare verify | stream ÷ verify | cached-token stream | 1 + cached ÷ verify |\n|---|---|---:|---:|---:|---:|---:|\n")
	engines := streamEngines(wz, runs)
	for _, alg := range []string{"RS256", "ES256", "EdDSA", "HS256"} {
		for _, e := range engines {
			s, cached, bare := find(e.stats, "apiguard-jwt-cold-"+alg), find(e.stats, "apiguard-jwt-cached"), verify[e.name][alg]
			if s == nil || cached == nil || bare == 0 {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f | %s | %.2f |\n", alg, e.name, us(s.P50), us(bare), s.P50/bare, us(cached.P50), 1+cached.P50/bare)
		}
	}
}

// runV8 runs the V8 host over the scenario file and reads its report.
func runV8(t *testing.T, node string, flags []string, file string, args ...string) v8Run {
	t.Helper()
	report := filepath.Join(t.TempDir(), "v8.json")
	cmd := exec.Command(node, append(append(flags, "v8/host.mjs", file, "--json", report), args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var r v8Run
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// nullFor is the null-plugin scenario a scenario's ratio is taken against:
// the one whose requests carry the same body size, else the first.
func nullFor(scenarios []streamScenario, sc streamScenario) int {
	first := -1
	for i, n := range scenarios {
		if n.module != "nullplugin.wasm" {
			continue
		}
		if first < 0 {
			first = i
		}
		if len(n.requests[0].Body) == len(sc.requests[0].Body) {
			return i
		}
	}
	return first
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s/%s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
}

// wazeroVersion is the version go.mod requires (a test binary's build
// information lists no dependencies).
func wazeroVersion() string {
	b, _ := os.ReadFile("../go.mod")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "github.com/tetratelabs/wazero" {
			return f[1]
		}
	}
	return "unknown"
}

func us(ns float64) string { return strconv.FormatFloat(ns/1000, 'f', 1, 64) }

// writeHeader is what the run was made on and how.
func writeHeader(w *bytes.Buffer, scenarios []streamScenario, nullRounds []float64, runs []v8Run, loadBefore, loadAfter string) {
	fmt.Fprintf(w, "# Benchmarks\n\nWritten by `make bench` (TestBenchmarkTable in e2e/benchtable_test.go); do not edit by hand.\n\n")
	fmt.Fprintf(w, "- Machine: %s; load average %s before, %s after. The machine is shared: compare ratios within one run, not absolute times across runs.\n", machine(), loadBefore, loadAfter)
	if len(nullRounds) > 0 {
		p50s := make([]string, len(nullRounds))
		for i, p := range nullRounds {
			p50s[i] = us(p)
		}
		lo, hi := slices.Min(nullRounds), slices.Max(nullRounds)
		fmt.Fprintf(w, "- Rounds: every stream scenario and its floor ran in %d interleaved rounds (each round a share of the streams of every one in turn), so a change in the machine's speed weighs on every row alike; p50 and p99 are the median of the rounds' own. %s's p50 in each round: %s µs (spread %.0f%%).", len(nullRounds), scenarios[0].name, strings.Join(p50s, ", "), 100*(hi/lo-1))
		if hi/lo > 1.1 {
			fmt.Fprintf(w, " **The machine's speed moved during the run**: the means and absolute times are not the machine's best; the ratios, measured across the same rounds, hold better.\n")
		} else {
			fmt.Fprintf(w, " Within a tenth: no sign that the machine's speed moved.\n")
		}
	}
	fmt.Fprintf(w, "- Go %s, wazero %s (compiler), plugin.wasm %d bytes, nullplugin.wasm %d bytes.\n", runtime.Version(), wazeroVersion(), fileSize("plugin.wasm"), fileSize("nullplugin.wasm"))
	if len(runs) > 0 {
		fmt.Fprintf(w, "- V8: Node %s; TurboFan = `node --no-liftoff`, default = Liftoff with tier-up (e2e/v8/host.mjs).\n", runs[0].Node)
	} else {
		fmt.Fprintf(w, "- V8: not measured (node is not installed).\n")
	}
	fmt.Fprintf(w, "- Per stream: a whole stream (context create, request headers [and body], response headers, log, done, delete), mean over the streams shown after a warm-up; p50/p99 from per-stream timings, the median of the rounds' own. × null is against the null plugin with the same body size. In plugin (wazero): the stream's time inside the module's callbacks, the host functions they call included, without the host's own modelling of Envoy around them (sanitizing the request, building header maps, the upstream, the result), which a whole stream counts for the null plugin too. Host calls are proxy_* and WASI calls, counted by the host. Guest allocations are the Go runtime's `runtime.mallocgc` calls and bytes (a wazero function listener reads the size from the Go stack), over 1,000 streams.\n\n")
}

// writeTable is the streams' table and the start-up phases'.
func writeTable(w *bytes.Buffer, scenarios []streamScenario, wz []streamStats, wzStartup []startupStats, startRuns int, runs []v8Run) {
	fmt.Fprintf(w, "## Per stream\n\nTimes in µs: mean, p50 and p99 of one stream; × null is the mean's ratio, then the p50's (steadier on a busy machine).\n\n")
	fmt.Fprintf(w, "| scenario | wazero streams | host calls | guest allocs | guest bytes | linear MiB | wazero mean | p50 | p99 | × null | × null p50 | in plugin mean | p50 | p99 | × null | × null p50 |")
	for _, r := range runs {
		fmt.Fprintf(w, " %s mean | p50 | p99 | × null | × null p50 |", engineName(r))
	}
	fmt.Fprintf(w, "\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for range runs {
		fmt.Fprintf(w, "---:|---:|---:|---:|---:|")
	}
	fmt.Fprintln(w)
	cells := func(s, base *streamStats) string {
		if s == nil || base == nil {
			return " – | – | – | – | – |"
		}
		return fmt.Sprintf(" %s | %s | %s | %.2f | %.2f |", us(s.NsPerStream), us(s.P50), us(s.P99), s.NsPerStream/base.NsPerStream, s.P50/base.P50)
	}
	for i, sc := range scenarios {
		s, null := wz[i], scenarios[nullFor(scenarios, sc)].name
		base := find(wz, null)
		plugin := fmt.Sprintf(" %s | %s | %s | %.2f | %.2f |", us(s.PluginNs), us(s.PluginP50), us(s.PluginP99), s.PluginNs/base.PluginNs, s.PluginP50/base.PluginP50)
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.0f | %.1f |%s%s", sc.name, s.Streams, s.HostCalls, s.Allocs, s.AllocBytes,
			float64(s.LinearBytes)/(1<<20), cells(&s, base), plugin)
		for _, r := range runs {
			fmt.Fprint(w, cells(find(r.Streams, sc.name), find(r.Streams, null)))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n## Start-up (ms)\n\nEach scenario in fresh VMs: in wazero, each phase is its median over %d VMs; in V8, one fresh node process. compile: wazero without its cache, V8's WebAssembly.compile; load (wazero): a new runtime and the module compiled from the cache, which wazero decodes and validates again for each VM, where Envoy loads a plugin once and clones it for each worker; initialize: instantiate + `_initialize`; vm_start and configure: `proxy_on_vm_start` and `proxy_on_configure`; first request: the first stream. A worker's start-up, which a deploy or a config push waits for, is initialize to first request.\n\n", startRuns)
	fmt.Fprintf(w, "| scenario | engine | compile | load | initialize | vm_start | configure | first request | linear MiB after start |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	phases := []string{"compile", "load", "initialize", "vm_start", "configure", "first_request"}
	row := func(name, engine string, s startupStats) {
		fmt.Fprintf(w, "| %s | %s |", name, engine)
		for _, p := range phases {
			if ms, ok := s.Ms[p]; ok {
				fmt.Fprintf(w, " %.2f |", ms)
			} else {
				fmt.Fprintf(w, " – |")
			}
		}
		fmt.Fprintf(w, " %.1f |\n", float64(s.LinearBytes)/(1<<20))
	}
	for _, s := range wzStartup {
		row(s.Name, "wazero", s)
		for _, r := range runs {
			for _, v := range r.Startup {
				if v.Name == s.Name {
					row(s.Name, engineName(r), v)
				}
			}
		}
	}
}

func engineName(r v8Run) string {
	if slices.Contains(r.Flags, "--no-liftoff") {
		return "V8 TurboFan"
	}
	return "V8 default"
}

func find(stats []streamStats, name string) *streamStats {
	for i := range stats {
		if stats[i].Name == name {
			return &stats[i]
		}
	}
	return nil
}

func fileSize(name string) int64 {
	fi, err := os.Stat("../build/" + name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// writeStartupCode is the code each start-up phase runs first
// (startupCode): what V8 compiles before the first request, whatever the
// machine's load.
func writeStartupCode(w *bytes.Buffer, code map[string]map[string]*phaseCode) {
	fmt.Fprintf(w, "\n### Code run for the first time, per phase (KB)\n\nThe bytes of the functions each phase runs for the first time (host.Config.TraceFirstCalls), which an engine that compiles lazily compiles then; the largest packages of `_initialize` and `proxy_on_configure`.\n\n")
	fmt.Fprintf(w, "| scenario | _initialize | vm_start | configure | first request | _initialize: largest | configure: largest |\n|---|---:|---:|---:|---:|---|---|\n")
	for _, su := range startupScenarios() {
		c := code[su.name]
		fmt.Fprintf(w, "| %s |", su.name)
		for _, p := range codePhases {
			fmt.Fprintf(w, " %.0f |", float64(c[p].Bytes)/1000)
		}
		fmt.Fprintf(w, " %s | %s |\n", c["_initialize"].largest(4), c["proxy_on_configure"].largest(4))
	}
}

// writeModuleSize is plugin.wasm's make-up (make size): sections, then the
// packages with the most code, next to the null plugin's.
func writeModuleSize(t *testing.T, w *bytes.Buffer) {
	plugin, err := wasmsize.Read(module(t, "plugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	null, err := wasmsize.Read(module(t, "nullplugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "\n## Module size (bytes)\n\n`make size` prints the whole list; `go run ./e2e/cmd/wasmsize -diff OLD.wasm NEW.wasm` what a change adds.\n\n")
	fmt.Fprintf(w, "| | plugin.wasm | nullplugin.wasm |\n|---|---:|---:|\n| module | %d | %d |\n", plugin.Size, null.Size)
	for _, s := range []string{"code", "data", "custom:name"} {
		fmt.Fprintf(w, "| %s section | %d | %d |\n", s, plugin.Section(s), null.Section(s))
	}
	fmt.Fprintf(w, "| of data: pclntab | %d | %d |\n\n", plugin.PCLNTab, null.PCLNTab)
	nullCode := map[string]int{}
	for _, p := range null.Packages() {
		nullCode[p.Path] = p.Code
	}
	fmt.Fprintf(w, "| package (code) | plugin.wasm | nullplugin.wasm |\n|---|---:|---:|\n")
	for _, p := range plugin.Packages()[:25] {
		name := p.Path
		if name == "" {
			name = "(generated)"
		}
		fmt.Fprintf(w, "| %s | %d | %d |\n", name, p.Code, nullCode[p.Path])
	}
}
