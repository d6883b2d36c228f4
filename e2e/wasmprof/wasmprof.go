// Package wasmprof counts the instructions a guest ran per Go function and
// per wazero block, from callgrind's record of a run of wasirun built with
// its perf map (-tags perfmap): callgrind counts every executed instruction
// of the JIT-compiled code by address, and the perf map names each address
// range, per function and per block label. Unlike sampling, the counts are
// the same from run to run, so a change of a few percent shows.
package wasmprof

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Symbol is a named range of JIT code from a perf map.
type Symbol struct {
	Start, Size uint64
	Name        string
}

// ReadMap reads a perf map (START SIZE NAME, hexadecimal), sorted by start.
func ReadMap(r io.Reader) ([]Symbol, error) {
	var syms []Symbol
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		f := strings.SplitN(sc.Text(), " ", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("perf map line %d: want START SIZE NAME", line)
		}
		start, err1 := strconv.ParseUint(f[0], 16, 64)
		size, err2 := strconv.ParseUint(f[1], 16, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("perf map line %d: START and SIZE must be hexadecimal", line)
		}
		syms = append(syms, Symbol{start, size, f[2]})
	}
	// A label of size 0 may share its start with the block it names: the
	// larger sorts last, where Attribute looks.
	sort.SliceStable(syms, func(i, j int) bool {
		if syms[i].Start != syms[j].Start {
			return syms[i].Start < syms[j].Start
		}
		return syms[i].Size < syms[j].Size
	})
	return syms, sc.Err()
}

// SelfCosts reads a callgrind output file written with --dump-instr=yes
// and returns each instruction address's own cost (the first event, Ir):
// the inclusive costs of calls are left out.
func SelfCosts(r io.Reader) (map[uint64]uint64, error) {
	costs := map[uint64]uint64{}
	positions := 1
	var addr uint64
	call := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		switch {
		case strings.HasPrefix(text, "positions:"):
			f := strings.Fields(strings.TrimPrefix(text, "positions:"))
			if len(f) == 0 || f[0] != "instr" {
				return nil, fmt.Errorf("callgrind line %d: positions %q: record with --dump-instr=yes", line, f)
			}
			positions = len(f)
			continue
		case strings.HasPrefix(text, "calls="):
			call = true
			continue
		case text == "" || !strings.ContainsRune("0123456789+-*", rune(text[0])):
			continue
		}
		f := strings.Fields(text)
		if len(f) < positions {
			return nil, fmt.Errorf("callgrind line %d: %d positions expected", line, positions)
		}
		a, err := position(f[0], addr)
		if err != nil {
			return nil, fmt.Errorf("callgrind line %d: %w", line, err)
		}
		addr = a
		if call {
			// The cost line after calls= is the call's inclusive cost.
			call = false
			continue
		}
		if len(f) > positions {
			c, err := strconv.ParseUint(f[positions], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("callgrind line %d: cost %q", line, f[positions])
			}
			costs[addr] += c
		}
	}
	return costs, sc.Err()
}

// position decodes an instruction position: absolute (0x...), relative to
// the last (+N, -N) or the same (*).
func position(s string, last uint64) (uint64, error) {
	switch {
	case s == "*":
		return last, nil
	case s[0] == '+' || s[0] == '-':
		n, err := strconv.ParseUint(s[1:], 0, 64)
		if err != nil {
			return 0, fmt.Errorf("position %q", s)
		}
		if s[0] == '-' {
			return last - n, nil
		}
		return last + n, nil
	}
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, fmt.Errorf("position %q", s)
	}
	return n, nil
}

// Count is the instructions of one function or block.
type Count struct {
	Name         string
	Instructions uint64
}

// Attribute adds up costs by the symbol whose range holds each address:
// by Go function (GuestFunction; wazero's own code by its name) and by
// block (the names as they are). wazero's perf map covers its code block by
// block; addresses outside every symbol are the host's, and are left out.
func Attribute(syms []Symbol, costs map[uint64]uint64) (funcs, blocks []Count) {
	byFunc, byBlock := map[string]uint64{}, map[string]uint64{}
	for addr, c := range costs {
		i := sort.Search(len(syms), func(i int) bool { return syms[i].Start > addr }) - 1
		if i < 0 || addr >= syms[i].Start+syms[i].Size {
			continue
		}
		byBlock[syms[i].Name] += c
		fn, ok := GuestFunction(syms[i].Name)
		if !ok {
			fn, _, _ = strings.Cut(syms[i].Name, ":")
		}
		byFunc[fn] += c
	}
	return sorted(byFunc), sorted(byBlock)
}

// GuestFunction is the Go function that a name in wazero's perf map names:
// "[index/count]." then the function's name (its "/" written "_") and, for
// a block, ":::::Lk". ok is false for wazero's own code (trampolines, entry
// preambles).
func GuestFunction(name string) (fn string, ok bool) {
	rest, ok := strings.CutPrefix(name, "[")
	if !ok {
		return "", false
	}
	index, rest, ok := strings.Cut(rest, "].")
	if !ok {
		return "", false
	}
	i, n, ok := strings.Cut(index, "/")
	if !ok || !digits(i) || !digits(n) {
		return "", false
	}
	fn, _, _ = strings.Cut(rest, ":::::")
	return fn, true
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func sorted(m map[string]uint64) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Instructions != out[j].Instructions {
			return out[i].Instructions > out[j].Instructions
		}
		return out[i].Name < out[j].Name
	})
	return out
}
