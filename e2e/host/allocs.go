package host

import (
	"context"
	"encoding/binary"
	"maps"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// guestMalloc is the Go runtime's one allocation entry point: new objects,
// slices, strings and maps all reach it with their size in bytes.
const guestMalloc = "runtime.mallocgc"

// allocCounting is the function listener of Config.CountGuestAllocations. A
// Go function compiled to wasm takes its arguments on the Go stack in linear
// memory, not as wasm parameters: global 0 is the stack pointer, which at
// entry points at the return address, with the first argument (size
// uintptr, 8 bytes on GOARCH=wasm) after it.
//
// One listener serves every counting VM and finds the VM by its module
// instance.
var allocCounting allocCounter

type allocCounter struct{ vms sync.Map } // api.Module → *VM

func (c *allocCounter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.Name() != guestMalloc {
		return nil
	}
	return experimental.FunctionListenerFunc(func(_ context.Context, mod api.Module, _ api.FunctionDefinition, _ []uint64, stack experimental.StackIterator) {
		v, ok := c.vms.Load(mod)
		im, isInternal := mod.(experimental.InternalModule)
		if !ok || !isInternal || im.NumGlobal() == 0 {
			return
		}
		sp := uint32(im.Global(0).Get())
		if b, ok := mod.Memory().Read(sp+8, 8); ok {
			vm := v.(*VM)
			vm.guestAllocs++
			vm.guestAllocBytes += binary.LittleEndian.Uint64(b)
			if vm.guestAllocSites == nil {
				vm.guestAllocSites = map[string]uint64{}
			}
			vm.guestAllocSites[allocSite(stack)]++
		}
	})
}

// allocSite names the guest function an allocation was made for: the first
// caller outside the runtime's allocation functions (runtime.newobject,
// growslice, ...), which say only how.
func allocSite(stack experimental.StackIterator) string {
	for stack.Next() {
		name := stack.Function().Definition().DebugName()
		_, fn, _ := strings.Cut(name, ".") // the module's name first
		if !strings.HasPrefix(fn, "runtime.") {
			return fn
		}
	}
	return "runtime"
}

// GuestAllocationSites counts the guest's allocations by allocSite; nil
// unless Config.CountGuestAllocations is set.
func (vm *VM) GuestAllocationSites() map[string]uint64 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return maps.Clone(vm.guestAllocSites)
}

// GuestAllocations is how many objects and bytes the guest's Go runtime
// allocated so far; zero unless Config.CountGuestAllocations is set.
func (vm *VM) GuestAllocations() (objects, bytes uint64) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.guestAllocs, vm.guestAllocBytes
}
