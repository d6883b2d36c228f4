package wasmprof

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

// A perf map as wazero writes it: trampolines, then each function's blocks,
// a label of size 0 sharing its start with its block.
const perfMap = `1000 40 memory_grow_trampoline
2000 10 [1/2].main.f:::::L0
2010 0 [1/2].main.f:::::L3
2010 20 [1/2].main.f:::::L2
2040 30 [2/2].pkg.__T_.g:::::L0
`

// A callgrind record with instruction and line positions: absolute,
// relative and repeated positions, a call whose inclusive cost must not
// count, and host code outside the map.
const callgrind = `version: 1
positions: instr line
events: Ir
fn=(1) 0x2000
0x2000 0 5
+4 0 7
* 0 1
cfn=(2) 0x2040
calls=3 0x2040 0
+2 0 900
fn=(3) 0x2010
0x2010 0 11
+31 0 2
fn=(2)
0x2040 0 13
fn=(4) runtime.host
0x500 0 1000
`

func TestCountsByFunctionAndBlock(t *testing.T) {
	syms, err := ReadMap(strings.NewReader(perfMap))
	if err != nil {
		t.Fatal(err)
	}
	costs, err := SelfCosts(strings.NewReader(callgrind))
	if err != nil {
		t.Fatal(err)
	}
	funcs, blocks := Attribute(syms, costs)
	want := []Count{{"main.f", 5 + 7 + 1 + 11 + 2}, {"pkg.__T_.g", 13}}
	if len(funcs) != len(want) || funcs[0] != want[0] || funcs[1] != want[1] {
		t.Errorf("functions %v, want %v", funcs, want)
	}
	wantBlocks := map[string]uint64{"[1/2].main.f:::::L0": 13, "[1/2].main.f:::::L2": 13, "[2/2].pkg.__T_.g:::::L0": 13}
	for _, b := range blocks {
		if wantBlocks[b.Name] != b.Instructions {
			t.Errorf("block %s: %d, want %d", b.Name, b.Instructions, wantBlocks[b.Name])
		}
		delete(wantBlocks, b.Name)
	}
	if len(wantBlocks) != 0 {
		t.Errorf("blocks missing: %v", wantBlocks)
	}
}

func TestGuestFunction(t *testing.T) {
	for _, tc := range []struct {
		name, fn string
		ok       bool
	}{
		{"[12/4426].github.com_apiguard_apiguard_filters_schema.__checker_.members:::::L113", "github.com_apiguard_apiguard_filters_schema.__checker_.members", true},
		{"[6/4426].memeqbody", "memeqbody", true},
		{"[1/2].a:b:::::L0", "a:b", true},
		{"memory_grow_trampoline", "", false},
		{"[x/2].f", "", false},
		{"[1/].f", "", false},
		{"[12].f", "", false},
	} {
		if fn, ok := GuestFunction(tc.name); fn != tc.fn || ok != tc.ok {
			t.Errorf("GuestFunction(%q) = %q, %v; want %q, %v", tc.name, fn, ok, tc.fn, tc.ok)
		}
	}
}

func TestSelfCostsNeedsInstructionPositions(t *testing.T) {
	if _, err := SelfCosts(strings.NewReader("positions: line\nevents: Ir\n")); err == nil {
		t.Error("a record without --dump-instr=yes was read")
	}
}

// FuzzSelfCosts: whatever it reads, the costs it returns read back the same
// when written out again with absolute positions.
func FuzzSelfCosts(f *testing.F) {
	f.Add([]byte(callgrind))
	f.Fuzz(func(t *testing.T, b []byte) {
		costs, err := SelfCosts(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		var out strings.Builder
		out.WriteString("positions: instr\nevents: Ir\n")
		for addr, c := range costs {
			fmt.Fprintf(&out, "%#x %d\n", addr, c)
		}
		again, err := SelfCosts(strings.NewReader(out.String()))
		if err != nil || !maps.Equal(again, costs) {
			t.Fatalf("%v read back as %v (%v)", costs, again, err)
		}
	})
}
