package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
)

// BenchmarkConfigure is proxy_on_configure for 1,000 routes in wazero, in a
// fresh VM as a worker starting and after a configuration push (the second
// root context, with the first one's pipeline still live until it is shut
// down, as in Envoy): configure-ms is the callback's wall time, with its
// host calls (one per counter defined); start-ms a worker's whole start,
// instantiate + _initialize + vm_start + configure (issue 26's target:
// 30 ms), of which instantiate-ms is wazero instantiating the compiled
// module (its data segments and start function); linear-MiB the VM's
// memory after the push. "plain" are public routes (the start-up scenario
// apiguard-1000-routes), "authz" token routes with role and claim
// conditions (the stream scenario apiguard-jwt-cached-authz-1000-routes).
// Each iteration instantiates a VM too, which the metrics leave out.
func BenchmarkConfigure(b *testing.B) {
	for _, bc := range configureScenarios() {
		b.Run(bc.name, func(b *testing.B) {
			var first, start, inst, push time.Duration
			var calls int
			var mem uint32
			for b.Loop() {
				env := configuredEnv(b, bc.config)
				vm, err := env.StartVM()
				if err != nil {
					env.WriteLogs(os.Stderr)
					b.Fatal(err)
				}
				su := vm.Startup()
				first += su.Configure
				start += su.Instantiate + su.Initialize + su.VMStart + su.Configure
				inst += su.Instantiate
				calls += vm.HostCalls("proxy_on_configure")
				if err := env.UpdateConfiguration([]byte(bc.config + "\n")); err != nil {
					b.Fatal(err)
				}
				push += vm.Startup().Configure
				mem = max(mem, vm.MemorySize())
				env.Close()
			}
			ms := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 / float64(b.N) }
			b.ReportMetric(ms(first), "configure-ms")
			b.ReportMetric(ms(start), "start-ms")
			b.ReportMetric(ms(inst), "instantiate-ms")
			b.ReportMetric(ms(push), "push-configure-ms")
			b.ReportMetric(float64(calls)/float64(b.N), "host-calls")
			b.ReportMetric(float64(mem)/(1<<20), "linear-MiB")
		})
	}
}

// configureScenarios are BenchmarkConfigure's policies, which make profile
// samples too (start-NAME, configure-NAME).
func configureScenarios() []struct{ name, config string } {
	return []struct{ name, config string }{
		{name: "plain-1000-routes", config: manyRoutes(1000)},
		{name: "authz-1000-routes", config: authzRoutes(1000)},
	}
}

// configuredEnv is an Envoy with apiguard configured with config, and no
// VM yet; the caller closes it.
func configuredEnv(tb testing.TB, config string) *host.Env {
	tb.Helper()
	env, err := host.NewEnv(host.Config{Module: module(tb, "plugin.wasm"), Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: []byte(config), Clock: host.NewFakeClock(benchNow)})
	if err != nil {
		tb.Fatal(err)
	}
	return env
}
