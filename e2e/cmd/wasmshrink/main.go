// Command wasmshrink rewrites a module built by Go's wasm port in place so
// that the runtime's findfunctab is written by a start function rather than
// by tens of thousands of data segments (package wasmshrink). `make build`
// runs it on every module it builds, the null plugin too, so that their
// start-up compares like with like.
package main

import (
	"fmt"
	"os"

	"github.com/apiguard/apiguard/e2e/wasmshrink"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: wasmshrink FILE.wasm")
		os.Exit(2)
	}
	if err := shrink(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "wasmshrink: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func shrink(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, res, err := wasmshrink.Shrink(b)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return err
	}
	fmt.Printf("wasmshrink: %s: %d -> %d bytes (findfunctab: %d buckets written by the start function, %d data segments dropped)\n",
		path, res.Before, res.After, res.Buckets, res.Segments)
	return nil
}
