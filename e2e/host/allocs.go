package host

import (
	"context"
	"encoding/binary"
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
	return experimental.FunctionListenerFunc(func(_ context.Context, mod api.Module, _ api.FunctionDefinition, _ []uint64, _ experimental.StackIterator) {
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
		}
	})
}

// GuestAllocations is how many objects and bytes the guest's Go runtime
// allocated so far; zero unless Config.CountGuestAllocations is set.
func (vm *VM) GuestAllocations() (objects, bytes uint64) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.guestAllocs, vm.guestAllocBytes
}
