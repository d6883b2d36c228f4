// Command wasmcheck fails when a built module would not load in Envoy: it must
// export the proxy-wasm callbacks (a build that skipped the ABI patch exports
// only _initialize) and import nothing Envoy lacks.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/e2e/host"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: wasmcheck FILE.wasm")
		os.Exit(2)
	}
	if err := check(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "wasmcheck: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func check(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	m, err := rt.CompileModule(ctx, b)
	if err != nil {
		return err
	}
	exports := m.ExportedFunctions()
	for _, name := range host.ProxyCallbacks {
		if _, ok := exports[name]; !ok {
			return fmt.Errorf("missing export %s: was the SDK patched (plugin/_abi)?", name)
		}
	}
	return host.CheckModule(m, host.Envoy133)
}
