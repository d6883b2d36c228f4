// Command wasmprof prints the instructions a guest ran per Go function (and,
// with -blocks, per wazero block), from a callgrind run of wasirun built
// with its perf map. README, "Start-up", shows the run:
//
//	go build -tags perfmap -o W ./e2e/cmd/wasirun
//	GOOS=wasip1 GOARCH=wasm go test -c -o T.wasm ./filters/PKG
//	GOGC=off GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --dump-instr=yes \
//	  --callgrind-out-file=CG W T.wasm -test.run '^$' -test.bench B -test.benchtime Nx
//	wasmprof -map /tmp/perf-PID.map -runs N CG
//
// -runs divides the counts by the benchmark's iterations; the run's set-up
// (the test binary's start, the benchmark's first call) is in them too, so
// compare runs of the same N.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/apiguard/apiguard/e2e/wasmprof"
)

func main() {
	mapFile := flag.String("map", "", "the perf map wasirun -tags perfmap wrote (/tmp/perf-PID.map)")
	runs := flag.Uint64("runs", 1, "divide the counts by this many iterations")
	top := flag.Int("top", 40, "functions to list")
	blocks := flag.Int("blocks", 0, "also list the N costliest blocks")
	flag.Parse()
	if *mapFile == "" || flag.NArg() != 1 || *runs == 0 {
		fmt.Fprintln(os.Stderr, "usage: wasmprof -map PERF.map [-runs N] [-top N] [-blocks N] CALLGRIND.out")
		os.Exit(2)
	}
	if err := run(*mapFile, flag.Arg(0), *runs, *top, *blocks); err != nil {
		fmt.Fprintln(os.Stderr, "wasmprof:", err)
		os.Exit(1)
	}
}

func run(mapFile, cgFile string, runs uint64, top, blocks int) error {
	syms, err := readFile(mapFile, wasmprof.ReadMap)
	if err != nil {
		return err
	}
	costs, err := readFile(cgFile, wasmprof.SelfCosts)
	if err != nil {
		return err
	}
	funcs, byBlock := wasmprof.Attribute(syms, costs)
	var total uint64
	for _, f := range funcs {
		total += f.Instructions
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%d\t100.0%%\t  guest instructions per run\n", total/runs)
	list := func(counts []wasmprof.Count, n int) {
		for _, c := range counts[:min(n, len(counts))] {
			fmt.Fprintf(w, "%d\t%.1f%%\t  %s\n", c.Instructions/runs, 100*float64(c.Instructions)/float64(max(total, 1)), c.Name)
		}
	}
	list(funcs, top)
	if blocks > 0 {
		fmt.Fprintf(w, "\t\t  blocks:\n")
		list(byBlock, blocks)
	}
	return w.Flush()
}

// readFile reads file with read.
func readFile[T any](file string, read func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(file)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return read(f)
}
