// Package wasmsize tells what a Go-built WebAssembly module is made of: its
// sections, and its code per Go package, so a change that adds a megabyte
// shows where it came from (`make size`).
//
// `go tool nm -size` does not read wasm modules, and the module's name
// section holds mangled names (the linker replaces every character but
// letters, digits, '_' and '.' with '_', so "crypto/x509" and a package
// named "crypto_x509" look alike). The Go runtime's own function table
// (pclntab, in the data section, which stack traces read) keeps the real
// names: Read finds it in the module's initial memory, reads it with
// debug/gosym, and maps each function body to its package through it.
package wasmsize

import (
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/apiguard/apiguard/e2e/wasmbin"
)

// Section is one section of the module, with its whole size in bytes
// (header included), so that the sections and the 8-byte preamble add up to
// the file's size.
type Section struct {
	// Name is "code", "data", ... for the known section ids, and
	// "custom:NAME" for a custom section.
	Name string
	Size int
}

// Func is one function body of the code section.
type Func struct {
	// Name is the Go symbol ("crypto/internal/fips140/bigmod.(*Nat).Exp").
	Name string
	// WasmName is the name section's, which engines and wazero's
	// api.FunctionDefinition report ("crypto_internal_fips140_bigmod.__Nat_.Exp").
	WasmName string
	// Package is the Go import path it belongs to; "" for what the compiler
	// and linker generate outside any package (type:.eq.*, go:buildid) and
	// for the assembly entry points the runtime's table does not list.
	Package string
	// Size is the body's encoded size, its length prefix included.
	Size int
}

// Module is what Read found.
type Module struct {
	Size     int
	Sections []Section
	Funcs    []Func
	// PCLNTab is the size of the runtime's function table in the data
	// section (names, files, line and stack-map tables), 0 if not found.
	PCLNTab int
}

// Package is the code one Go package contributes.
type Package struct {
	Path  string
	Funcs int
	Code  int
}

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount"}

// Read parses a module built by the Go toolchain (GOARCH=wasm). It needs
// the name section, which `-ldflags=-s` removes.
func Read(b []byte) (*Module, error) {
	sections, err := wasmbin.Sections(b)
	if err != nil {
		return nil, err
	}
	m := &Module{Size: len(b)}
	var (
		importedFuncs int
		code, data    []byte
		names         map[int]string
	)
	for _, s := range sections {
		name := fmt.Sprintf("unknown(%d)", s.ID)
		if int(s.ID) < len(sectionNames) {
			name = sectionNames[s.ID]
		}
		var err error
		switch s.ID {
		case wasmbin.Custom:
			var custom string
			var rest []byte
			custom, rest, err = wasmbin.CustomName(s)
			name = "custom:" + custom
			if custom == "name" && err == nil {
				names, err = readFunctionNames(rest)
			}
		case wasmbin.Import:
			importedFuncs, err = wasmbin.ImportedFuncs(s.Body)
		case wasmbin.Code:
			code = s.Body
		case wasmbin.Data:
			data = s.Body
		}
		if err != nil {
			return nil, fmt.Errorf("%s section: %w", name, err)
		}
		m.Sections = append(m.Sections, Section{Name: name, Size: s.Size})
	}
	if names == nil {
		return nil, errors.New("no function names: was the module linked with -ldflags=-s?")
	}
	segs, err := wasmbin.Segments(data)
	if err != nil {
		return nil, fmt.Errorf("data section: %w", err)
	}
	realNames, pclntab := goFuncNames(wasmbin.Image(segs))
	m.PCLNTab = pclntab

	r := wasmbin.Reader{B: code}
	n := r.U32()
	for i := range n {
		start := r.Off
		r.Bytes(r.U32())
		if r.Err != nil {
			return nil, fmt.Errorf("code section: body %d: %w", i, r.Err)
		}
		f := Func{Name: names[importedFuncs+i], WasmName: names[importedFuncs+i], Size: r.Off - start}
		if real, ok := realNames[f.Name]; ok {
			f.Name, f.Package = real, packageOf(real)
		}
		m.Funcs = append(m.Funcs, f)
	}
	return m, nil
}

// Section returns the size of the named section, 0 if absent.
func (m *Module) Section(name string) int {
	for _, s := range m.Sections {
		if s.Name == name {
			return s.Size
		}
	}
	return 0
}

// Packages sums the code per Go package, largest first.
func (m *Module) Packages() []Package {
	byPath := map[string]*Package{}
	for _, f := range m.Funcs {
		p := byPath[f.Package]
		if p == nil {
			p = &Package{Path: f.Package}
			byPath[f.Package] = p
		}
		p.Funcs++
		p.Code += f.Size
	}
	out := make([]Package, 0, len(byPath))
	for _, p := range byPath {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Code != out[j].Code {
			return out[i].Code > out[j].Code
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// packageOf is the import path of a Go symbol; "" for what the compiler
// generates outside any package ("type:.eq.[2]string", "go:buildid").
func packageOf(symbol string) string {
	if strings.HasPrefix(symbol, "type:") || strings.HasPrefix(symbol, "go:") {
		return ""
	}
	return (&gosym.Sym{Name: symbol}).PackageName()
}

// mangle is what cmd/link does to a symbol name for the name section.
var mangle = regexp.MustCompile(`[^\w.]`)

// goFuncNames reads the runtime's function table out of the module's
// initial memory and maps each mangled name to the real one. Two real names
// that mangle alike keep the first: they differ only in punctuation, so in
// practice they share a package. It returns no names if the table is not
// found (another toolchain, another layout): the caller then leaves every
// function without a package.
func goFuncNames(image []byte) (map[string]string, int) {
	at, table, ok := wasmbin.PCLNTab(image)
	if !ok {
		return nil, 0
	}
	names := make(map[string]string, len(table.Funcs))
	for _, f := range table.Funcs {
		k := mangle.ReplaceAllString(f.Name, "_")
		if _, dup := names[k]; !dup {
			names[k] = f.Name
		}
	}
	return names, pclntabSize(image[at:])
}

// pclntabSize is the table's extent. Its header (runtime.pcHeader) points
// at its parts; the function descriptors (runtime._func) come last, in
// the functab's order, each a fixed part then npcdata and nfuncdata 4-byte
// offsets.
func pclntabSize(t []byte) int {
	le := binary.LittleEndian
	nfunc := int(le.Uint64(t[8:]))
	pclnOffset := int(le.Uint64(t[8+7*8:]))
	lastFunc := pclnOffset + int(le.Uint32(t[pclnOffset+8*(nfunc-1)+4:]))
	const funcFixed = 44
	npcdata := int(le.Uint32(t[lastFunc+28:]))
	nfuncdata := int(t[lastFunc+funcFixed-1])
	return lastFunc + funcFixed + 4*(npcdata+nfuncdata)
}

func readFunctionNames(b []byte) (map[int]string, error) {
	r := wasmbin.Reader{B: b}
	for r.Off < len(b) && r.Err == nil {
		id := r.Byte()
		sub := wasmbin.Reader{B: r.Bytes(r.U32())}
		if id != 1 || r.Err != nil {
			continue
		}
		n := sub.U32()
		names := make(map[int]string, n)
		for i := 0; i < n && sub.Err == nil; i++ {
			idx := sub.U32()
			names[idx] = string(sub.Bytes(sub.U32()))
		}
		return names, sub.Err
	}
	return nil, r.Err
}
