// Command wasmsize prints what a Go-built WebAssembly module is made of:
// its sections, then its code per Go package, largest first (`make size`).
// With two modules it prints the second's change against the first, per
// section and per package, to measure what a change adds or saves.
//
//	wasmsize [-top N] [-funcs N] FILE.wasm
//	wasmsize -diff OLD.wasm NEW.wasm
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/apiguard/apiguard/e2e/wasmsize"
)

func main() {
	top := flag.Int("top", 40, "packages to list (0: all)")
	funcs := flag.Int("funcs", 0, "also list the N largest functions")
	diff := flag.Bool("diff", false, "compare two modules: OLD.wasm NEW.wasm")
	flag.Parse()
	var err error
	switch {
	case *diff && flag.NArg() == 2:
		err = printDiff(os.Stdout, flag.Arg(0), flag.Arg(1), *top)
	case !*diff && flag.NArg() == 1:
		err = printModule(os.Stdout, flag.Arg(0), *top, *funcs)
	default:
		fmt.Fprintln(os.Stderr, "usage: wasmsize [-top N] [-funcs N] FILE.wasm | wasmsize -diff OLD.wasm NEW.wasm")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wasmsize:", err)
		os.Exit(1)
	}
}

func read(path string) (*wasmsize.Module, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := wasmsize.Read(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func label(path string) string {
	if path == "" {
		return "(compiler-generated, assembly)"
	}
	return path
}

func printModule(out io.Writer, path string, top, nfuncs int) error {
	m, err := read(path)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s\t%d bytes\t\n", path, m.Size)
	for _, s := range m.Sections {
		fmt.Fprintf(w, "  section %s\t%d\t\n", s.Name, s.Size)
	}
	fmt.Fprintf(w, "  of data: the runtime's function table (pclntab)\t%d\t\n", m.PCLNTab)
	w.Flush()

	code := m.Section("code")
	fmt.Fprintf(out, "\ncode per package (%d functions, %d bytes):\n", len(m.Funcs), code)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "bytes\t%%\tfuncs\t package\n")
	pkgs := m.Packages()
	var rest rest
	for i, p := range pkgs {
		if top > 0 && i >= top {
			rest.add(p)
			continue
		}
		fmt.Fprintf(w, "%d\t%.1f\t%d\t %s\n", p.Code, 100*float64(p.Code)/float64(code), p.Funcs, label(p.Path))
	}
	if rest.pkgs > 0 {
		fmt.Fprintf(w, "%d\t%.1f\t%d\t (%d more packages)\n", rest.code, 100*float64(rest.code)/float64(code), rest.funcs, rest.pkgs)
	}
	w.Flush()

	if nfuncs > 0 {
		fs := append([]wasmsize.Func(nil), m.Funcs...)
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].Size > fs[j].Size })
		fmt.Fprintf(out, "\nlargest functions:\n")
		w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, f := range fs[:min(nfuncs, len(fs))] {
			fmt.Fprintf(w, "%d\t %s\n", f.Size, f.Name)
		}
		w.Flush()
	}
	return nil
}

// rest sums the packages a listing leaves out.
type rest struct{ pkgs, funcs, code int }

func (r *rest) add(p wasmsize.Package) { r.pkgs++; r.funcs += p.Funcs; r.code += p.Code }

func printDiff(out io.Writer, oldPath, newPath string, top int) error {
	a, err := read(oldPath)
	if err != nil {
		return err
	}
	b, err := read(newPath)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\t%s\t%s\tchange\t\n", filepath.Base(oldPath), filepath.Base(newPath))
	fmt.Fprintf(w, "module\t%d\t%d\t%+d\t\n", a.Size, b.Size, b.Size-a.Size)
	seen := map[string]bool{}
	for _, s := range append(append([]wasmsize.Section(nil), a.Sections...), b.Sections...) {
		if seen[s.Name] {
			continue
		}
		seen[s.Name] = true
		fmt.Fprintf(w, "  %s\t%d\t%d\t%+d\t\n", s.Name, a.Section(s.Name), b.Section(s.Name), b.Section(s.Name)-a.Section(s.Name))
	}
	fmt.Fprintf(w, "  pclntab (in data)\t%d\t%d\t%+d\t\n", a.PCLNTab, b.PCLNTab, b.PCLNTab-a.PCLNTab)
	w.Flush()

	type change struct {
		path       string
		old, new   int
		oldF, newF int
	}
	byPath := map[string]*change{}
	get := func(path string) *change {
		c := byPath[path]
		if c == nil {
			c = &change{path: path}
			byPath[path] = c
		}
		return c
	}
	for _, p := range a.Packages() {
		c := get(p.Path)
		c.old, c.oldF = p.Code, p.Funcs
	}
	for _, p := range b.Packages() {
		c := get(p.Path)
		c.new, c.newF = p.Code, p.Funcs
	}
	var cs []*change
	for _, c := range byPath {
		if c.old != c.new {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		di, dj := abs(cs[i].new-cs[i].old), abs(cs[j].new-cs[j].old)
		if di != dj {
			return di > dj
		}
		return cs[i].path < cs[j].path
	})
	fmt.Fprintf(out, "\ncode per package, largest changes first:\n")
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "%s\t%s\tchange\tfuncs\t package\n", filepath.Base(oldPath), filepath.Base(newPath))
	for i, c := range cs {
		if top > 0 && i >= top {
			fmt.Fprintf(w, "\t\t\t\t (%d more packages changed)\n", len(cs)-top)
			break
		}
		fmt.Fprintf(w, "%d\t%d\t%+d\t%+d\t %s\n", c.old, c.new, c.new-c.old, c.newF-c.oldF, label(c.path))
	}
	return w.Flush()
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
