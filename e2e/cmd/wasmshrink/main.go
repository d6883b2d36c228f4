// Command wasmshrink writes a module built by Go's wasm port anew, with the
// runtime's findfunctab written by a start function rather than by tens of
// thousands of data segments (package wasmshrink):
//
//	wasmshrink LINKED.wasm OUT.wasm
//
// `make build` runs it on every module it links, the null plugin too, so
// that their start-up compares like with like.
package main

import (
	"fmt"
	"os"

	"github.com/apiguard/apiguard/e2e/wasmshrink"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: wasmshrink LINKED.wasm OUT.wasm")
		os.Exit(2)
	}
	if err := shrink(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "wasmshrink: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func shrink(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	shrunk, res, err := wasmshrink.Shrink(b)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, shrunk, 0o644); err != nil {
		return err
	}
	fmt.Printf("wasmshrink: %s: %d -> %d bytes (findfunctab: %d buckets written by the start function, %d data segments dropped)\n",
		out, res.Before, res.After, res.Buckets, res.Segments)
	return nil
}
