package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/e2e/wasmprof"
)

// TestProfileStream attributes a stream's time to the guest's Go functions
// and packages, the host's code and the kernel: `make profile
// PROFILE=scenario-regexp` (BenchmarkStream's scenario names). wazero
// built with the perfmap tag writes /tmp/perf-PID.map, where perf finds
// the name of each compiled wasm function (the Go function it came from);
// perf samples the whole process while streams of a warm VM run, so
// nothing is added to the code measured. A listener-based profile would
// add a call into Go on every guest function entry and exit, more than
// most of these functions cost. The same regexp picks a worker's start-up
// ("start-plain-1000-routes") and a configuration push
// ("configure-authz-1000-routes") of BenchmarkConfigure's policies,
// APIGUARD_PROFILE_STREAMS/1000 of them.
func TestProfileStream(t *testing.T) {
	pattern := os.Getenv("APIGUARD_PROFILE")
	if pattern == "" {
		t.Skip("profiles the BenchmarkStream scenarios APIGUARD_PROFILE matches (make profile)")
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Fatal(err)
	}
	perf, err := exec.LookPath("perf")
	if err != nil {
		t.Fatal("make profile needs perf (Debian: linux-perf)")
	}
	streams := envInt(t, "APIGUARD_PROFILE_STREAMS", 50000)
	for _, sc := range streamScenarios() {
		if !re.MatchString(sc.name) {
			continue
		}
		p := profileScenario(t, perf, sc, streams)
		fmt.Print(p.report(sc.name))
		fmt.Print(streamCalls(t, sc))
	}
	for _, c := range configureScenarios() {
		if re.MatchString("start-" + c.name) {
			fmt.Print(profileStart(t, perf, c.config, streams/1000+1).report("start-" + c.name))
		}
		if re.MatchString("configure-" + c.name) {
			fmt.Print(profileConfigure(t, perf, c.config, streams/1000+1).report("configure-" + c.name))
		}
	}
}

// profileStart samples n workers starting with one policy: a VM
// instantiated, initialized and configured.
func profileStart(t *testing.T, perf, config string, n int) profile {
	env := configuredEnv(t, config)
	t.Cleanup(env.Close)
	start := func(int) {
		vm, err := env.StartVM()
		if err != nil {
			env.WriteLogs(os.Stderr)
			t.Fatal(err)
		}
		vm.Close()
	}
	start(0)
	p := record(t, perf, n, start)
	p.unit = "start"
	return p
}

// profileConfigure samples n configuration pushes of one policy to a
// running VM, as Envoy makes them: a canary VM instantiated and
// configured, then on_configure in the worker's VM.
func profileConfigure(t *testing.T, perf, config string, n int) profile {
	env := configuredEnv(t, config)
	t.Cleanup(env.Close)
	if _, err := env.StartVM(); err != nil {
		env.WriteLogs(os.Stderr)
		t.Fatal(err)
	}
	push := func(int) {
		if err := env.UpdateConfiguration([]byte(config)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		push(i)
	}
	p := record(t, perf, n, push)
	p.unit = "configure"
	return p
}

// streamCalls lists the host calls of a stream, and the guest's
// allocations by the function that made them, per stream over 1,000
// streams of a warm VM.
func streamCalls(t *testing.T, sc streamScenario) string {
	vm := sc.start(t, func(c *host.Config) { c.CountGuestAllocations = true })
	for i := 0; i < 100; i++ {
		sc.roundTrip(t, vm, i)
	}
	calls0, sites0 := vm.HostCallsByName(), vm.GuestAllocationSites()
	const n = 1000
	for i := 0; i < n; i++ {
		sc.roundTrip(t, vm, 100+i)
	}
	var b strings.Builder
	diff := func(title string, now, before map[string]uint64) {
		d := map[string]int{}
		for k, v := range now {
			if v > before[k] {
				d[k] = int(v - before[k])
			}
		}
		fmt.Fprintf(&b, "  %s per stream:\n", title)
		for _, k := range sortedByCount(d) {
			fmt.Fprintf(&b, "    %-96s %6.2f\n", k, float64(d[k])/n)
		}
	}
	diff("host calls", vm.HostCallsByName(), calls0)
	diff("guest allocations by site", vm.GuestAllocationSites(), sites0)
	return b.String()
}

// profile is the samples perf took while streams ran, by function.
type profile struct {
	// streams is how many rounds of the unit ran: streams, or configure calls.
	streams int
	unit    string
	// cpu is the process's CPU time over the streams (every thread).
	cpu     time.Duration
	samples map[string]int
	total   int
}

func profileScenario(t *testing.T, perf string, sc streamScenario, streams int) profile {
	vm := sc.start(t, nil)
	for i := 0; i < 2000; i++ {
		sc.roundTrip(t, vm, i)
	}
	return record(t, perf, streams, func(i int) { sc.roundTrip(t, vm, i) })
}

// record runs n rounds of work while perf samples the process.
func record(t *testing.T, perf string, n int, work func(i int)) profile {
	if !perfMapHasGuest() {
		t.Fatalf("/tmp/perf-%d.map names no guest function: build the test with -tags perfmap and without a compilation cache (make profile)", os.Getpid())
	}
	data := filepath.Join(t.TempDir(), "perf.data")
	rec := exec.Command(perf, "record", "-q", "-F", "5000", "-p", strconv.Itoa(os.Getpid()), "-o", data)
	rec.Stderr = os.Stderr
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	// perf attaches to the running process in its own time; it takes no
	// sample while the process sleeps.
	time.Sleep(time.Second)
	cpu0 := processCPU()
	for i := 0; i < n; i++ {
		work(i)
	}
	cpu := processCPU() - cpu0
	if err := rec.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// perf writes its data, then dies of the signal it was stopped with.
	if err := rec.Wait(); err != nil && !strings.Contains(err.Error(), "interrupt") {
		t.Fatalf("perf record: %v", err)
	}
	out, err := exec.Command(perf, "script", "-i", data, "-F", "ip,sym,dso").Output()
	if err != nil {
		t.Fatalf("perf script: %v", err)
	}
	p := profile{streams: n, unit: "stream", cpu: cpu, samples: map[string]int{}}
	sc2 := bufio.NewScanner(bytes.NewReader(out))
	sc2.Buffer(nil, 1<<20)
	for sc2.Scan() {
		p.samples[sampleName(sc2.Text())]++
		p.total++
	}
	return p
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func perfMapHasGuest() bool {
	b, err := os.ReadFile(fmt.Sprintf("/tmp/perf-%d.map", os.Getpid()))
	return err == nil && bytes.Contains(b, []byte("].runtime."))
}

// sampleName is a sample's function, "guest " or "host " first; a line of
// `perf script -F ip,sym,dso` is "address symbol (dso)".
func sampleName(line string) string {
	_, line, _ = strings.Cut(strings.TrimSpace(line), " ")
	line = strings.TrimSpace(line)
	sym, dso := line, ""
	if i := strings.LastIndex(line, " ("); i >= 0 {
		sym, dso = line[:i], line[i+2:len(line)-1]
	}
	switch {
	case strings.Contains(dso, "kernel"):
		return "kernel"
	case strings.HasPrefix(filepath.Base(dso), "perf-"):
		if fn, ok := wasmprof.GuestFunction(sym); ok {
			return "guest " + fn
		}
		// Trampolines into host functions and entry preambles.
		return "wazero " + strings.SplitN(sym, ":", 2)[0]
	}
	return "host " + sym
}

// category groups a function for the breakdown: the guest's runtime split
// into allocation, GC and the rest, its other code by package; the host's
// by what it does.
func category(name string) string {
	kind, fn, _ := strings.Cut(name, " ")
	switch kind {
	case "kernel":
		return "kernel (host)"
	case "wazero":
		return "wazero trampolines (host calls, entries)"
	case "host":
		switch {
		case strings.HasPrefix(fn, "github.com/apiguard/apiguard/e2e/host."):
			return "host functions (e2e/host)"
		case strings.HasPrefix(fn, "github.com/tetratelabs/wazero"):
			return "wazero runtime (calls in and out)"
		case strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/runtime"):
			return "host Go runtime"
		}
		return "host other (test loop, strings, ...)"
	}
	pkg := guestPackage(fn)
	if pkg == "runtime" {
		switch {
		case guestGC.MatchString(fn):
			return "guest runtime: GC"
		case guestMalloc.MatchString(fn):
			return "guest runtime: allocation"
		}
		return "guest runtime: other"
	}
	return "guest " + pkg
}

var (
	guestGC     = regexp.MustCompile(`^runtime\.(gc|_*gcWork|mark|scan|greyobject|shade|sweep|_*mspan_\.sweep|bgsweep|bgscavenge|scavenge|wbBuf|_*wbBuf|bulkBarrier|findObject|heapBits|typePointers|_*mheap_\.(alloc|reclaim)|wasmWrite|gcWriteBarrier)`)
	guestMalloc = regexp.MustCompile(`^runtime\.(malloc|newobject|newarray|makeslice|growslice|rawstring|rawbyteslice|concatstring|slicebytetostring|nextFreeFast|_*mcache|_*mcentral|_*mspan_\.(nextFree|init)|memclr|deductAssistCredit|publicationBarrier|makemap|mapassign|newstack)`)
)

// part is what a function does for the stream, for the README's breakdown:
// the host's side, the guest's header (de)serialization, its host-call
// and callback glue, allocation, GC, the rest of its runtime, and each
// stage by the packages that make it.
func part(name string) string {
	c := category(name)
	_, fn, _ := strings.Cut(name, " ")
	switch {
	case c == "host functions (e2e/host)" || strings.HasPrefix(c, "wazero"):
		return "host: host functions and the calls in and out of wasm"
	case !strings.HasPrefix(c, "guest "):
		return "host: its model of Envoy around the plugin, its Go runtime, the kernel"
	case c == "guest runtime: allocation":
		return "guest: allocation"
	case c == "guest runtime: GC" || fn == "gcWriteBarrier":
		return "guest: garbage collection"
	}
	for _, g := range guestParts {
		for _, prefix := range g.prefixes {
			if strings.HasPrefix(fn, prefix) {
				return "guest: " + g.name
			}
		}
	}
	return "guest: runtime and standard library (maps, memequal, ...)"
}

// guestParts name the guest's functions by prefix, first match wins.
var guestParts = []struct {
	name     string
	prefixes []string
}{
	{"headers (de)serialized", []string{"main.parsePairs", "main.appendPairs", "main.headerPairs", "main.__headerMap_",
		"github.com_tetratelabs_proxy_wasm_go_sdk_proxywasm_internal.SerializeMap", "github.com_tetratelabs_proxy_wasm_go_sdk_proxywasm_internal.DeserializeMap"}},
	{"header edits (checked and applied)", []string{"main.editHeaders", "main.editList", "main.deleteHeader", "main.hasHeader", "main.hasOnly", "main.removes",
		"main.applyEdits", "main.applyResponseEdits", "main.__httpContext_.preEdit"}},
	{"denial reply (problem body, headers)", []string{"main.problemBody", "main.__httpContext_.sendProblem", "main.sendLocalResponse", "main.challenge",
		"github.com_apiguard_apiguard_filters_verdict"}},
	{"SDK and glue: callbacks, contexts, host-call wrappers, metrics", []string{"main.", "github.com_tetratelabs_proxy_wasm_go_sdk"}},
	{"stage: route (authority, path, match)", []string{"github.com_apiguard_apiguard_filters_route", "github.com_apiguard_apiguard_filters_pipeline", "github.com_apiguard_apiguard_filters_stage"}},
	{"stage: authentication (token, cache, claim headers)", []string{"github.com_apiguard_apiguard_filters_authn", "github.com_apiguard_apiguard_filters_jwt",
		"github.com_tidwall_gjson", "crypto", "math_big", "golang.org_x_crypto"}},
	{"stage: authorization", []string{"github.com_apiguard_apiguard_filters_authz", "github.com_apiguard_apiguard_filters_claims"}},
	{"stage: rate limit", []string{"github.com_apiguard_apiguard_filters_ratelimit", "github.com_dchest_siphash", "net_netip"}},
	{"stage: hardening, CORS, peer, validation", []string{"github.com_apiguard_apiguard_filters_harden", "github.com_apiguard_apiguard_filters_cors",
		"github.com_apiguard_apiguard_filters_peer", "github.com_apiguard_apiguard_filters_spiffe", "github.com_apiguard_apiguard_filters_validate",
		"github.com_apiguard_apiguard_filters_schema"}},
}

// guestPackage is the Go package of a guest function name, with "_" for
// "/" as wasm names spell it ("github.com_x_y.F" is github.com_x_y).
func guestPackage(fn string) string {
	rest, prefix := fn, ""
	for _, host := range []string{"github.com_", "golang.org_", "gopkg.in_"} {
		if strings.HasPrefix(fn, host) {
			prefix, rest = host, fn[len(host):]
			break
		}
	}
	pkg, _, _ := strings.Cut(rest, ".")
	return prefix + pkg
}

// report prints the profile: µs per stream and share by category, then the
// functions that took the most.
func (p profile) report(name string) string {
	var b strings.Builder
	perStream := func(n int) float64 {
		return float64(p.cpu.Nanoseconds()) * float64(n) / float64(p.total) / float64(p.streams) / 1000
	}
	fmt.Fprintf(&b, "\n%s: %d %ss, %.1f µs of process CPU per %s, %d samples\n", name, p.streams, p.unit, float64(p.cpu.Nanoseconds())/float64(p.streams)/1000, p.unit, p.total)
	cats := map[string]int{}
	side := map[string]int{}
	for fn, n := range p.samples {
		c := category(fn)
		cats[c] += n
		if strings.HasPrefix(c, "guest ") {
			side["guest"] += n
		} else {
			side["host"] += n
		}
	}
	fmt.Fprintf(&b, "  guest %.2f µs, host %.2f µs (host functions, wazero, the host's Go runtime and the test loop)\n", perStream(side["guest"]), perStream(side["host"]))
	parts := map[string]int{}
	for fn, n := range p.samples {
		parts[part(fn)] += n
	}
	fmt.Fprintf(&b, "  by part of the stream:\n")
	for _, c := range sortedByCount(parts) {
		fmt.Fprintf(&b, "    %-60s %6.2f µs %5.1f%%\n", c, perStream(parts[c]), 100*float64(parts[c])/float64(p.total))
	}
	fmt.Fprintf(&b, "  by package:\n")
	for _, c := range sortedByCount(cats) {
		fmt.Fprintf(&b, "  %-48s %6.2f µs %5.1f%%\n", c, perStream(cats[c]), 100*float64(cats[c])/float64(p.total))
	}
	// The guest's own list too: where the host's side is large (wazero
	// decodes and validates the module for each new VM), it would crowd
	// the guest out.
	for _, list := range []struct {
		title string
		keep  func(string) bool
	}{
		{"top functions", func(string) bool { return true }},
		{"top guest functions", func(fn string) bool { return strings.HasPrefix(fn, "guest ") }},
	} {
		fmt.Fprintf(&b, "  %s:\n", list.title)
		n := 0
		for _, fn := range sortedByCount(p.samples) {
			if n == 60 {
				break
			}
			if list.keep(fn) {
				n++
				fmt.Fprintf(&b, "  %-100s %6.2f µs %5.1f%%\n", fn, perStream(p.samples[fn]), 100*float64(p.samples[fn])/float64(p.total))
			}
		}
	}
	return b.String()
}

func sortedByCount(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	return keys
}
