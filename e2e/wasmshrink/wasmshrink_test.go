package wasmshrink

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/apiguard/apiguard/e2e/wasmbin"
)

// hello builds testdata/hello for wasip1.
func hello(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "hello.wasm")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/hello")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// instantiate runs the module's start section and, if run, its _start; it
// returns the memory and what the program printed.
func instantiate(t *testing.T, module []byte, run bool) ([]byte, string) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	var stdout bytes.Buffer
	cfg := wazero.NewModuleConfig().WithStdout(&stdout).WithStartFunctions()
	if run {
		cfg = cfg.WithStartFunctions("_start")
	}
	m, err := rt.InstantiateWithConfig(ctx, module, cfg)
	if err != nil && (!run || !strings.Contains(err.Error(), "exit_code(0)")) {
		t.Fatal(err)
	}
	if run {
		return nil, stdout.String()
	}
	mem, ok := m.Memory().Read(0, m.Memory().Size())
	if !ok {
		t.Fatal("memory not readable")
	}
	return bytes.Clone(mem), stdout.String()
}

// TestShrunkModuleStartsWithTheSameMemory: once its start function has
// run, the rewritten module's memory is the original's, byte for byte,
// and the program finds its functions as before.
func TestShrunkModuleStartsWithTheSameMemory(t *testing.T) {
	orig := hello(t)
	shrunk, res, err := Shrink(orig)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Segments == 0 || res.After != len(shrunk) || res.After >= res.Before {
		t.Errorf("%+v: nothing shrunk", res)
	}
	before, _ := instantiate(t, orig, false)
	after, _ := instantiate(t, shrunk, false)
	if len(before) != len(after) {
		t.Fatalf("memory of %d bytes, was %d", len(after), len(before))
	}
	if i := firstDifference(before, after); i >= 0 {
		t.Fatalf("memory differs at %#x (findfunctab at %#x, %d buckets): %d, was %d", i, res.Table, res.Buckets, after[i], before[i])
	}
	want, got := runOutput(t, orig), runOutput(t, shrunk)
	if !strings.HasPrefix(want, "main.main ") || got != want {
		t.Errorf("shrunk module printed %q, the original %q", got, want)
	}
	checkStartIsNamed(t, shrunk)
}

// checkStartIsNamed reads the start section and the function names as
// proxy-wasm-cpp-host reads them for its backtraces (BytecodeUtil::
// getFunctionNameIndex, which refuses a subsection whose entries do not end
// where its size says): the start function is named StartName.
func checkStartIsNamed(t *testing.T, module []byte) {
	t.Helper()
	sections, err := wasmbin.Sections(module)
	if err != nil {
		t.Fatal(err)
	}
	start, names := -1, map[int]string{}
	for _, s := range sections {
		switch name, rest, _ := wasmbin.CustomName(s); {
		case s.ID == wasmbin.Start:
			r := wasmbin.Reader{B: s.Body}
			start = r.U32()
		case s.ID == wasmbin.Custom && name == "name":
			r := wasmbin.Reader{B: rest}
			for r.Off < len(rest) && r.Err == nil {
				id := r.Byte()
				sub := wasmbin.Reader{B: r.Bytes(r.U32())}
				if id != 1 {
					continue
				}
				for n := sub.U32(); n > 0; n-- {
					i := sub.U32()
					names[i] = string(sub.Bytes(sub.U32()))
				}
				if sub.Err != nil || sub.Off != len(sub.B) {
					t.Fatalf("function names end at %d of %d bytes: %v", sub.Off, len(sub.B), sub.Err)
				}
			}
		}
	}
	if start < 0 || names[start] != StartName {
		t.Errorf("start function %d is named %q, want %q", start, names[start], StartName)
	}
}

func runOutput(t *testing.T, module []byte) string {
	_, out := instantiate(t, module, true)
	return out
}

func firstDifference(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestShrinkRefuses: a table that is not the pattern the start function
// writes, and a module already rewritten, are errors, not a wrong module.
func TestShrinkRefuses(t *testing.T) {
	orig := hello(t)
	shrunk, res, err := Shrink(orig)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Shrink(shrunk); err == nil || !strings.Contains(err.Error(), "start function already") {
		t.Errorf("shrinking twice: %v", err)
	}

	// Bucket 17's function index, 1, becomes 2.
	sections, err := wasmbin.Sections(orig)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sections {
		if s.ID != wasmbin.Data {
			continue
		}
		segs, err := wasmbin.Segments(s.Body)
		if err != nil {
			t.Fatal(err)
		}
		at := res.Table + 17*bucketSize
		found := false
		for k := range segs {
			if segs[k].At == at && binary.LittleEndian.Uint16(append(segs[k].Data, 0)) == 1 {
				segs[k].Data = []byte{2}
				found = true
			}
		}
		if !found {
			t.Fatalf("no segment holds bucket 17 at %#x", at)
		}
		sections[i].Body = wasmbin.EncodeSegments(segs)
	}
	if _, _, err := Shrink(wasmbin.Encode(sections)); err == nil || !strings.Contains(err.Error(), "findfunctab bucket 17 byte 0 is 2, not 1") {
		t.Errorf("a table off the pattern: %v", err)
	}
}
