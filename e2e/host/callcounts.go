package host

import (
	"context"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// callCounting is the function listener of Config.CountCalls: it counts
// each run of the module's own functions, and finds the VM by its module
// instance, like allocCounting.
var callCounting = callCounter{rank: map[uint32]int{}}

type callCounter struct {
	vms sync.Map // api.Module → *VM
	// rank numbers the counted functions by function index, in the order
	// wazero asks for their listeners (index order): the same module
	// gets the same ranks in every process.
	mu   sync.Mutex
	rank map[uint32]int
}

// ownFunction reports whether a function of a Go module's name section is
// the module's own code rather than the Go runtime's or the standard
// library's: package main, or a package whose path starts with a domain
// ("github.com/apiguard/apiguard/filters/route.Normalize").
func ownFunction(name string) bool {
	if strings.HasPrefix(name, "main.") {
		return true
	}
	first, _, ok := strings.Cut(name, "/")
	return ok && strings.Contains(first, ".")
}

func (c *callCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.GoFunction() != nil || !ownFunction(def.Name()) {
		return nil
	}
	c.mu.Lock()
	rank, ok := c.rank[def.Index()]
	if !ok {
		rank = len(c.rank)
		c.rank[def.Index()] = rank
	}
	c.mu.Unlock()
	return experimental.FunctionListenerFunc(func(_ context.Context, mod api.Module, _ api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
		v, ok := c.vms.Load(mod)
		if !ok {
			return
		}
		vm := v.(*VM)
		if rank >= len(vm.calls) {
			vm.calls = append(vm.calls, make([]uint32, rank+1-len(vm.calls))...)
		}
		vm.calls[rank]++
	})
}

// TakeCallCounts returns how many times each of the module's own functions
// ran since the last call (Config.CountCalls), indexed by the function's
// rank among them (the same in every process for one module), and resets
// the counts. A fuzzer feeds them to its coverage: the guest's branches are
// invisible to Go's instrumentation.
func (vm *VM) TakeCallCounts() []uint32 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	out := append([]uint32(nil), vm.calls...)
	clear(vm.calls)
	return out
}
