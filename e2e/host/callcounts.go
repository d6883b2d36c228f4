package host

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// callCounter is the function listener of Config.CountCalls, one per list
// of prefixes and process, like allocCounting: wazero's compilation cache
// keeps the listeners a module was first compiled with, so every Env
// counting the same functions shares them. It counts each run of the
// functions whose names start with one of its prefixes, and finds the VM
// by its module instance.
type callCounter struct {
	prefixes []string
	vms      sync.Map // api.Module → *VM
	// rank numbers the counted functions by function index, in the order
	// wazero asks for their listeners (index order): one module gets the
	// same ranks in every process.
	mu   sync.Mutex
	rank map[uint32]int
	// names are the counted functions' names by rank.
	names []string
	// caches hold the code compiled with this counter, by the other
	// listeners it is compiled with.
	caches [numListenerSets]func() wazero.CompilationCache
}

var callCounters sync.Map // the prefixes joined by NUL → *callCounter

func callCounterFor(prefixes []string) *callCounter {
	if len(prefixes) == 0 {
		return nil
	}
	c := &callCounter{prefixes: prefixes, rank: map[uint32]int{}}
	for i := range c.caches {
		c.caches[i] = sync.OnceValue(wazero.NewCompilationCache)
	}
	v, _ := callCounters.LoadOrStore(strings.Join(prefixes, "\x00"), c)
	return v.(*callCounter)
}

func (c *callCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	name := def.Name()
	if def.GoFunction() != nil || !slices.ContainsFunc(c.prefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
		return nil
	}
	c.mu.Lock()
	rank, ok := c.rank[def.Index()]
	if !ok {
		rank = len(c.rank)
		c.rank[def.Index()] = rank
		c.names = append(c.names, name)
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

func (c *callCounter) cache(s listenerSet) wazero.CompilationCache { return c.caches[s]() }

// TakeCallCounts returns how many times each counted function ran since
// the last call (Config.CountCalls), indexed by the function's rank among
// them (the same in every process for one module), and resets the counts.
// A fuzzer feeds them to its coverage: the guest's branches are invisible
// to Go's instrumentation.
func (vm *VM) TakeCallCounts() []uint32 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	out := append([]uint32(nil), vm.calls...)
	clear(vm.calls)
	return out
}

// TakeCallCountsByName is TakeCallCounts by the functions' names, those
// that did not run left out.
func (vm *VM) TakeCallCountsByName() map[string]uint32 {
	counts := vm.TakeCallCounts()
	c := vm.env.calls
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]uint32{}
	for rank, n := range counts {
		if n > 0 {
			out[c.names[rank]] += n
		}
	}
	return out
}
