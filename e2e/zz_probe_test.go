package e2e

import (
	"fmt"
	"os"
	"sort"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

func TestZZCallCounts(t *testing.T) {
	for _, c := range configureScenarios() {
		env, err := host.NewEnv(host.Config{Module: module(t, "plugin.wasm"), Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
			Configuration: []byte(c.config), CountCalls: []string{""}})
		if err != nil {
			t.Fatal(err)
		}
		vm, err := env.StartVM()
		if err != nil {
			env.WriteLogs(os.Stderr)
			t.Fatal(err)
		}
		vm.TakeCallCountsByName()
		if err := env.UpdateConfiguration([]byte(c.config + " ")); err != nil {
			t.Fatal(err)
		}
		n := vm.TakeCallCountsByName()
		type kv struct {
			k string
			v uint32
		}
		var all []kv
		var total uint64
		for k, v := range n {
			all = append(all, kv{k, v})
			total += uint64(v)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
		fmt.Printf("== %s: %d calls in a push\n", c.name, total)
		for _, e := range all[:60] {
			fmt.Printf("%9d %s\n", e.v, e.k)
		}
		env.Close()
	}
}
