package host

import (
	"context"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// FirstCall is a module function's first run in a VM (Config.TraceFirstCalls).
type FirstCall struct {
	// Function is the function's name in the module's name section.
	Function string
	// Callback is what the host was running: "_initialize" or a proxy_on_*
	// export. A function's first run is where an engine that compiles
	// lazily (V8: TurboFan under --no-liftoff, Liftoff by default) pays for
	// compiling it, so the calls first made by _initialize, vm_start and
	// configure are the code a worker compiles before its first request.
	Callback string
}

// firstCalling is the function listener of Config.TraceFirstCalls: it is
// called on every guest function's entry, records the first one per
// function, and finds the VM by its module instance, like allocCounting.
var firstCalling firstCallTracer

type firstCallTracer struct{ vms sync.Map } // api.Module → *VM

func (c *firstCallTracer) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.GoFunction() != nil {
		return nil
	}
	return experimental.FunctionListenerFunc(func(_ context.Context, mod api.Module, def api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
		v, ok := c.vms.Load(mod)
		if !ok {
			return
		}
		vm := v.(*VM)
		vm.firstMu.Lock()
		defer vm.firstMu.Unlock()
		if vm.called == nil {
			vm.called = map[uint32]bool{}
		}
		if vm.called[def.Index()] {
			return
		}
		vm.called[def.Index()] = true
		callback := fnNames[vm.running]
		if vm.phase == phaseInitialize {
			callback = "_initialize"
		}
		vm.firstCalls = append(vm.firstCalls, FirstCall{Function: def.Name(), Callback: callback})
	})
}

// FirstCalls lists the module's functions in the order of their first run,
// with the callback that ran each; nil unless Config.TraceFirstCalls is set.
func (vm *VM) FirstCalls() []FirstCall {
	vm.firstMu.Lock()
	defer vm.firstMu.Unlock()
	return append([]FirstCall(nil), vm.firstCalls...)
}

// listenerSet is which function listeners a VM's module is compiled with.
type listenerSet uint8

const (
	listenAllocs listenerSet = 1 << iota
	listenFirstCalls
	numListenerSets = 1 << iota
)

func (e *Env) listeners() listenerSet {
	var s listenerSet
	if e.cfg.CountGuestAllocations {
		s |= listenAllocs
	}
	if e.cfg.TraceFirstCalls {
		s |= listenFirstCalls
	}
	return s
}

func (s listenerSet) factory() experimental.FunctionListenerFactory {
	var fs []experimental.FunctionListenerFactory
	if s&listenAllocs != 0 {
		fs = append(fs, &allocCounting)
	}
	if s&listenFirstCalls != 0 {
		fs = append(fs, &firstCalling)
	}
	return experimental.MultiFunctionListenerFactory(fs...)
}

// listenerCaches hold the code compiled for each set of listeners: code
// compiled with listeners differs from code without, and wazero's cache
// keys do not tell them apart.
var listenerCaches [numListenerSets]func() wazero.CompilationCache

func init() {
	for i := range listenerCaches {
		listenerCaches[i] = sync.OnceValue(wazero.NewCompilationCache)
	}
}

func (s listenerSet) cache() wazero.CompilationCache { return listenerCaches[s]() }
