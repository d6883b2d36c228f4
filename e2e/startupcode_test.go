package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/e2e/wasmsize"
)

// phaseCode is the code a start-up phase runs for the first time: what an
// engine that compiles each function on its first call (V8: TurboFan under
// --no-liftoff, Liftoff by default) compiles during that phase. Unlike a
// timing, it does not depend on the machine's load.
type phaseCode struct {
	Funcs, Bytes int
	// Packages is the bytes per Go package.
	Packages map[string]int
}

// The phases of startupCode, in order; "first request" gathers every
// callback of the first stream.
var codePhases = []string{"_initialize", "proxy_on_vm_start", "proxy_on_configure", "first request"}

// startupCode starts a VM for su with host.Config.TraceFirstCalls, sends
// its first request, and sums the code each phase ran first. The root
// context's creation counts with vm_start, and proxy_on_memory_allocate
// with the callback it serves.
func startupCode(t testing.TB, su startupScenario) map[string]*phaseCode {
	t.Helper()
	m, err := wasmsize.Read(module(t, su.module))
	if err != nil {
		t.Fatal(err)
	}
	funcs := make(map[string]wasmsize.Func, len(m.Funcs))
	for _, f := range m.Funcs {
		funcs[f.WasmName] = f
	}
	env, err := host.NewEnv(host.Config{Module: module(t, su.module), Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: []byte(su.config), Clock: host.NewFakeClock(benchNow), TraceFirstCalls: true})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	vm, err := env.StartVM()
	if err != nil {
		env.WriteLogs(testWriter{t})
		t.Fatalf("%s: %v", su.name, err)
	}
	started := len(vm.FirstCalls())
	if res := vm.RoundTrip(su.request, upstream); res.Err != nil || res.Status != su.status {
		t.Fatalf("%s: first request: status %d (want %d), %v", su.name, res.Status, su.status, res.Err)
	}
	out := map[string]*phaseCode{}
	for _, p := range codePhases {
		out[p] = &phaseCode{Packages: map[string]int{}}
	}
	phase := "_initialize"
	for i, c := range vm.FirstCalls() {
		switch {
		case i >= started:
			phase = "first request"
		case c.Callback == "_initialize" || c.Callback == "proxy_on_configure":
			phase = c.Callback
		case c.Callback == "proxy_on_vm_start" || c.Callback == "proxy_on_context_create":
			phase = "proxy_on_vm_start"
		}
		f, ok := funcs[c.Function]
		if !ok {
			t.Fatalf("%s: %s ran, but the module has no such function", su.name, c.Function)
		}
		pc := out[phase]
		pc.Funcs++
		pc.Bytes += f.Size
		pc.Packages[f.Package] += f.Size
	}
	return out
}

// testWriter sends the host's logs to the test's.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// largest lists a phase's n largest packages, "runtime 368 KB, ...", ours
// without the module path.
func (pc *phaseCode) largest(n int) string {
	var pkgs []string
	for p := range pc.Packages {
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool {
		if pc.Packages[pkgs[i]] != pc.Packages[pkgs[j]] {
			return pc.Packages[pkgs[i]] > pc.Packages[pkgs[j]]
		}
		return pkgs[i] < pkgs[j]
	})
	var parts []string
	for _, p := range pkgs[:min(n, len(pkgs))] {
		name := strings.TrimPrefix(p, "github.com/apiguard/apiguard/")
		if p == "" {
			name = "(generated)"
		}
		parts = append(parts, fmt.Sprintf("%s %.0f KB", name, float64(pc.Packages[p])/1000))
	}
	return strings.Join(parts, ", ")
}

// initializeBudget is how much more code plugin.wasm's _initialize may run
// than the null plugin's (the Go runtime's own start): package-level
// initializers only, which every worker pays before its first request. It
// was 386 KB with two package-level regexps (the regexp compiler and its
// Unicode tables) and the 5xx bodies built in harden's init, 209 KB with
// protowire's errors (formatted with fmt); it is 183 KB, nearly all the
// standard library's own initializers for what the plugin links: regexp's
// Unicode tables (66 KB), edwards25519's constants, the FIPS self-test
// registrations, net/netip's unique handles.
const initializeBudget = 190_000

// TestStartupRunsLittleCode: plugin.wasm's _initialize runs at most
// initializeBudget bytes of code beyond the null plugin's. A package-level
// regexp, table or map built with code shows up here before it shows up as
// a slower start in V8. The test logs each start-up scenario's code per
// phase, with its largest packages.
func TestStartupRunsLittleCode(t *testing.T) {
	initBytes := map[string]int{}
	for _, su := range startupScenarios() {
		code := startupCode(t, su)
		initBytes[su.module] = code["_initialize"].Bytes
		for _, p := range codePhases {
			pc := code[p]
			t.Logf("%s %s: %d functions, %d bytes: %s", su.name, p, pc.Funcs, pc.Bytes, pc.largest(6))
		}
	}
	null, plugin := initBytes["nullplugin.wasm"], initBytes["plugin.wasm"]
	if null == 0 || plugin == 0 {
		t.Fatalf("_initialize ran %d bytes of the null plugin, %d of plugin.wasm", null, plugin)
	}
	if plugin-null > initializeBudget {
		t.Errorf("plugin.wasm's _initialize runs %d bytes of code, %d more than the null plugin's (budget %d): see the log for its packages", plugin, plugin-null, initializeBudget)
	}
}
