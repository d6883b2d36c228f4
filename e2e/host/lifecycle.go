package host

import (
	"errors"
	"fmt"
)

// Canary loads the current configuration into a throwaway VM first, as
// Envoy's main thread does for each new plugin configuration before any
// worker gets it (WasmHandleBase::canary in proxy-wasm-cpp-host src/wasm.cc):
// clone, _initialize, the root context, proxy_on_vm_start, proxy_on_configure;
// a failure rejects the configuration. The canary is then killed: kill()
// drops the WasmBase without startShutdown, so unlike a configuration update
// it gets neither proxy_on_done nor proxy_on_delete, its pending http calls
// are cancelled (Envoy's ~Context) and its timer never fires. What it left in
// shared data and metrics stays, as in Envoy. Its logs carry worker -1.
func (e *Env) Canary() error {
	return e.canary(e.configuration())
}

func (e *Env) canary(config []byte) error {
	vm, err := e.newVM(-1)
	if err == nil {
		vm.mu.Lock()
		_, err = vm.startRoot(config)
		vm.mu.Unlock()
	}
	if vm != nil {
		vm.Close()
	}
	if err != nil {
		return fmt.Errorf("canary: %w", err)
	}
	return nil
}

// UpdateConfiguration applies a new plugin configuration as Envoy applies a
// filter config update that keeps the VM (same vm_id, vm configuration and
// code): a canary first, then in every worker's VM a second root context
// (proxy_on_context_create, proxy_on_vm_start and proxy_on_configure again)
// that new streams use. The old root context is shut down once its last
// stream ends (PluginHandleBase's destructor calls WasmBase::startShutdown):
// proxy_on_done, then proxy_on_delete, or later if on_done returned false and
// the plugin calls proxy_done. A configuration the canary refuses changes
// nothing.
func (e *Env) UpdateConfiguration(config []byte) error {
	if err := e.canary(config); err != nil {
		return err
	}
	e.mu.Lock()
	e.config = config
	vms := append([]*VM(nil), e.vms...)
	e.mu.Unlock()
	var errs []error
	for _, vm := range vms {
		if err := vm.updateConfiguration(config); err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", vm.worker, err))
		}
	}
	return errors.Join(errs...)
}

func (vm *VM) updateConfiguration(config []byte) error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.failed != nil {
		return ErrVMFailed
	}
	old := vm.roots[vm.rootID]
	if _, err := vm.startRoot(config); err != nil {
		return err
	}
	if old != nil {
		old.retiring = true
		vm.maybeRetire(old)
	}
	return nil
}

// maybeRetire shuts a replaced root context down once no stream uses it
// (WasmBase::startShutdown(plugin_key)).
func (vm *VM) maybeRetire(root *rootContext) {
	if !root.retiring || root.streams > 0 || root.pendingDone {
		return
	}
	done, err := vm.call(fnDone, uint64(root.id))
	if err != nil {
		return
	}
	if done == 0 {
		root.pendingDone = true
		return
	}
	vm.deleteRoot(root)
}

func (vm *VM) deleteRoot(root *rootContext) {
	delete(vm.roots, root.id)
	_, _ = vm.call(fnDelete, uint64(root.id))
	for _, calls := range []map[uint32]*pendingCall{vm.httpCalls, vm.grpcCalls} {
		for token, c := range calls {
			if c.root == root.id {
				// ~Context cancels the calls of a deleted root context.
				c.cancel()
				delete(calls, token)
			}
		}
	}
}

// proxyDone is proxy_done: a root context whose on_done returned false says it
// finished; it is deleted after the current callback (WasmBase::done).
func (vm *VM) proxyDone() status {
	root := vm.roots[vm.rootOf(vm.effective)]
	if root == nil || !root.pendingDone {
		return statusNotFound
	}
	root.pendingDone = false
	vm.deletes = append(vm.deletes, root)
	return statusOK
}

// rootOf returns the root context id of a context id.
func (vm *VM) rootOf(id uint32) uint32 {
	if s := vm.streams[id]; s != nil {
		return s.root
	}
	return id
}

// RootContexts is how many root contexts the VM holds (the current
// configuration's and replaced ones still draining), for tests.
func (vm *VM) RootContexts() int {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return len(vm.roots)
}

func (e *Env) configuration() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.config
}
