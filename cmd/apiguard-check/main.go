// Command apiguard-check lints policy files, for CI: it loads each through
// pipeline.Load, the very function plugin.wasm calls at start, and prints
// every error as "file: json.path: message" (exit 1 if any) and every warning
// as "file: json.path: warning: message" (warnings do not fail the check).
//
// It runs natively rather than through plugin.wasm in the e2e host: the
// host side (e2e/) never imports the policy packages, and errors read from a
// Go value cannot drift the way errors scraped from the plugin's log can.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/apiguard/apiguard/filters/pipeline"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: apiguard-check POLICY.json...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		raw, err := os.ReadFile(path)
		if err == nil {
			err = check(os.Stdout, path, raw)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "apiguard-check:", err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// check lints one policy file's contents, one line per error or warning, as
// compilers and linters print them.
func check(out io.Writer, path string, raw []byte) error {
	p, errs := pipeline.Load(raw)
	for _, e := range errs {
		fmt.Fprintf(out, "%s: %s: %s\n", path, e.Path, e.Message)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %d error(s); the plugin would refuse to start", path, len(errs))
	}
	warnings := p.Warnings()
	for _, w := range warnings {
		fmt.Fprintf(out, "%s: %s: warning: %s\n", path, w.Path, w.Message)
	}
	if len(warnings) > 0 {
		fmt.Fprintf(out, "%s: ok, %d warning(s)\n", path, len(warnings))
		return nil
	}
	fmt.Fprintf(out, "%s: ok\n", path)
	return nil
}
