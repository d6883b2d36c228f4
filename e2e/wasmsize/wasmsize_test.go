package wasmsize

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// nullPlugin is the smallest Go module the build makes (make build).
func nullPlugin(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../build/nullplugin.wasm")
	if err != nil {
		t.Fatalf("%v: run `make build` first", err)
	}
	return b
}

// TestReadAccountsForEveryByte: the sections add up to the file, the
// function bodies to the code section, and the runtime's table is found.
func TestReadAccountsForEveryByte(t *testing.T) {
	b := nullPlugin(t)
	m, err := Read(b)
	if err != nil {
		t.Fatal(err)
	}
	sections := 8 // magic and version
	for _, s := range m.Sections {
		sections += s.Size
	}
	if sections != len(b) || m.Size != len(b) {
		t.Errorf("sections add up to %d bytes, Size %d, file %d", sections, m.Size, len(b))
	}
	bodies := 0
	for _, f := range m.Funcs {
		bodies += f.Size
	}
	// The code section's own header: id, size and count, LEB128.
	if code := m.Section("code"); bodies >= code || code-bodies > 1+5+5 {
		t.Errorf("function bodies add up to %d bytes, code section %d", bodies, code)
	}
	if m.PCLNTab <= 0 || m.PCLNTab >= m.Section("data") {
		t.Errorf("pclntab %d bytes, data section %d", m.PCLNTab, m.Section("data"))
	}
}

// TestFunctionsBelongToTheirPackages: names come from the runtime's table,
// unmangled, and their import paths keep slashes and dots that the name
// section turns into underscores.
func TestFunctionsBelongToTheirPackages(t *testing.T) {
	m, err := Read(nullPlugin(t))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Func{}
	for _, f := range m.Funcs {
		byName[f.Name] = f
	}
	tests := []struct {
		name, function, pkg, wasmName string
	}{
		{name: "runtime", function: "runtime.mallocgc", pkg: "runtime", wasmName: "runtime.mallocgc"},
		{name: "a path with slashes", function: "internal/runtime/maps.NewMap", pkg: "internal/runtime/maps", wasmName: "internal_runtime_maps.NewMap"},
		{name: "a method", function: "sync.(*Pool).pinSlow", pkg: "sync", wasmName: "sync.__Pool_.pinSlow"},
		{name: "a module path with dots and dashes", function: "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal.exportOnMemoryAllocate",
			pkg: "github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/internal", wasmName: "github.com_tetratelabs_proxy_wasm_go_sdk_proxywasm_internal.exportOnMemoryAllocate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ok := byName[tc.function]
			if !ok {
				t.Fatalf("%s not found", tc.function)
			}
			if f.Package != tc.pkg || f.WasmName != tc.wasmName || f.Size <= 0 {
				t.Errorf("%s: package %q, wasm name %q, %d bytes; want %q, %q", tc.function, f.Package, f.WasmName, f.Size, tc.pkg, tc.wasmName)
			}
		})
	}
	var generated int
	for _, f := range m.Funcs {
		if strings.HasPrefix(f.Name, "type:") {
			generated++
			if f.Package != "" {
				t.Errorf("%s: package %q, want none", f.Name, f.Package)
			}
		}
	}
	if generated == 0 {
		t.Error("no compiler-generated function (type:.eq.*) found")
	}
}

// TestPackagesSumTheCode: the per-package view loses no function, largest
// first.
func TestPackagesSumTheCode(t *testing.T) {
	m, err := Read(nullPlugin(t))
	if err != nil {
		t.Fatal(err)
	}
	pkgs := m.Packages()
	funcs, code := 0, 0
	for i, p := range pkgs {
		funcs += p.Funcs
		code += p.Code
		if i > 0 && p.Code > pkgs[i-1].Code {
			t.Errorf("%s (%d bytes) listed after %s (%d bytes)", p.Path, p.Code, pkgs[i-1].Path, pkgs[i-1].Code)
		}
	}
	want := 0
	for _, f := range m.Funcs {
		want += f.Size
	}
	if funcs != len(m.Funcs) || code != want {
		t.Errorf("packages hold %d functions, %d bytes; module %d, %d", funcs, code, len(m.Funcs), want)
	}
	if pkgs[0].Path != "runtime" {
		t.Errorf("largest package %q, want runtime", pkgs[0].Path)
	}
}

// TestReadRefuses: what Read cannot account for is an error, not a silent
// partial answer.
func TestReadRefuses(t *testing.T) {
	b := nullPlugin(t)
	// The name section is the module's last: cut it off, as -ldflags=-s does.
	i := bytes.LastIndex(b, []byte("\x04name"))
	if i < 0 {
		t.Fatal("no name section")
	}
	start := i - 1 // the section's size, one LEB128 byte or more
	for b[start-1]&0x80 != 0 {
		start--
	}
	stripped := b[:start-1]
	tests := []struct {
		name   string
		module []byte
		want   string
	}{
		{name: "not a module", module: []byte("\x7fELF\x02\x01\x01\x00"), want: "not a WebAssembly 1.0 module"},
		{name: "truncated", module: b[:len(b)/2], want: "truncated"},
		{name: "no name section", module: stripped, want: "-ldflags=-s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Read(tc.module); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
