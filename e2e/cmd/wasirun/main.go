// Command wasirun runs a wasip1 command module (such as a test binary built
// with GOOS=wasip1 GOARCH=wasm) in wazero with full WASI, so that filter
// benchmarks can be measured in the same engine the e2e host uses:
//
//	GOOS=wasip1 GOARCH=wasm go test -exec "go run ./e2e/cmd/wasirun" -bench . ./filters/route/
//
// WASIRUN_CACHE names a directory for wazero's compiled code, so that a
// run under valgrind's callgrind, which counts instructions where a busy
// machine's timings drift, does not count the compiler too.
//
// It is a development tool, not the Envoy-faithful host (see e2e/host).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: wasirun MODULE.wasm [args...]")
		os.Exit(2)
	}
	os.Exit(run(os.Args[1], os.Args[2:]))
}

func run(path string, args []string) int {
	ctx := context.Background()
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rc := wazero.NewRuntimeConfig()
	if dir := os.Getenv("WASIRUN_CACHE"); dir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		rc = rc.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	wd, _ := os.Getwd()
	cfg := wazero.NewModuleConfig().
		WithArgs(append([]string{path}, args...)...).
		WithStdout(os.Stdout).WithStderr(os.Stderr).WithStdin(os.Stdin).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().WithRandSource(nil).
		WithFSConfig(wazero.NewFSConfig().WithDirMount(wd, "/").WithDirMount(wd, wd))
	for _, kv := range os.Environ() {
		if k, v, ok := cut(kv); ok {
			cfg = cfg.WithEnv(k, v)
		}
	}
	_, err = rt.InstantiateWithConfig(ctx, b, cfg)
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return int(exit.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func cut(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}
