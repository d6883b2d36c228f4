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
	"bytes"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
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
	if len(b) < 8 || !bytes.Equal(b[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly 1.0 module")
	}
	m := &Module{Size: len(b)}
	var (
		importedFuncs int
		code, data    []byte
		names         map[int]string
	)
	for r := (reader{b: b, off: 8}); r.off < len(b); {
		start := r.off
		id := r.byte()
		size := r.u32()
		body := r.bytes(size)
		if r.err != nil {
			return nil, fmt.Errorf("section at offset %d: %w", start, r.err)
		}
		name := fmt.Sprintf("unknown(%d)", id)
		if int(id) < len(sectionNames) {
			name = sectionNames[id]
		}
		var err error
		switch id {
		case 0:
			sr := reader{b: body}
			custom := string(sr.bytes(sr.u32()))
			name = "custom:" + custom
			if custom == "name" && sr.err == nil {
				names, err = readFunctionNames(body[sr.off:])
			}
		case 2:
			importedFuncs, err = countImportedFuncs(body)
		case 10:
			code = body
		case 11:
			data = body
		}
		if err != nil {
			return nil, fmt.Errorf("%s section: %w", name, err)
		}
		m.Sections = append(m.Sections, Section{Name: name, Size: r.off - start})
	}
	if names == nil {
		return nil, errors.New("no function names: was the module linked with -ldflags=-s?")
	}
	image, err := initialMemory(data)
	if err != nil {
		return nil, fmt.Errorf("data section: %w", err)
	}
	realNames, pclntab := goFuncNames(image)
	m.PCLNTab = pclntab

	r := reader{b: code}
	n := r.u32()
	for i := range n {
		start := r.off
		r.bytes(r.u32())
		if r.err != nil {
			return nil, fmt.Errorf("code section: body %d: %w", i, r.err)
		}
		f := Func{Name: names[importedFuncs+i], WasmName: names[importedFuncs+i], Size: r.off - start}
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

// pclntabMagic starts the Go 1.20+ function table on a little-endian
// 64-bit target: magic 0xfffffff1, two pad bytes, minimum instruction size
// 1, pointer size 8.
var pclntabMagic = []byte{0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8}

// goFuncNames reads the runtime's function table out of the module's
// initial memory and maps each mangled name to the real one. Two real names
// that mangle alike keep the first: they differ only in punctuation, so in
// practice they share a package. It returns no names if the table is not
// found (another toolchain, another layout): the caller then leaves every
// function without a package.
func goFuncNames(image []byte) (map[string]string, int) {
	for off := 0; ; off += 8 {
		i := bytes.Index(image[off:], pclntabMagic)
		if i < 0 {
			return nil, 0
		}
		off += i &^ 7
		if i&7 != 0 {
			continue
		}
		table, err := gosym.NewTable(nil, gosym.NewLineTable(image[off:], 0))
		if err != nil || len(table.Funcs) == 0 {
			continue
		}
		names := make(map[string]string, len(table.Funcs))
		for _, f := range table.Funcs {
			k := mangle.ReplaceAllString(f.Name, "_")
			if _, dup := names[k]; !dup {
				names[k] = f.Name
			}
		}
		return names, pclntabSize(image[off:])
	}
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

// initialMemory lays the data section's active segments out as the memory
// the module starts with.
func initialMemory(data []byte) ([]byte, error) {
	type segment struct {
		at   int
		data []byte
	}
	var segs []segment
	r := reader{b: data}
	n := r.u32()
	end := 0
	for i := 0; i < n && r.err == nil; i++ {
		if flags := r.u32(); flags != 0 {
			return nil, fmt.Errorf("segment %d: flags %d: only active segments of memory 0 are supported", i, flags)
		}
		if op := r.byte(); op != 0x41 { // i32.const
			return nil, fmt.Errorf("segment %d: offset expression starts with opcode %#x, not i32.const", i, op)
		}
		at := r.s32()
		if r.byte() != 0x0b {
			return nil, fmt.Errorf("segment %d: offset expression is not one constant", i)
		}
		s := segment{at: at, data: r.bytes(r.u32())}
		if at < 0 {
			return nil, fmt.Errorf("segment %d: negative offset %d", i, at)
		}
		end = max(end, at+len(s.data))
		segs = append(segs, s)
	}
	if r.err != nil {
		return nil, r.err
	}
	image := make([]byte, end)
	for _, s := range segs {
		copy(image[s.at:], s.data)
	}
	return image, nil
}

func countImportedFuncs(body []byte) (int, error) {
	r := reader{b: body}
	n := r.u32()
	funcs := 0
	for i := 0; i < n && r.err == nil; i++ {
		r.bytes(r.u32()) // module
		r.bytes(r.u32()) // field
		switch kind := r.byte(); kind {
		case 0: // function: type index
			r.u32()
			funcs++
		case 1: // table: reference type and limits
			r.byte()
			r.limits()
		case 2: // memory
			r.limits()
		case 3: // global: value type and mutability
			r.byte()
			r.byte()
		default:
			return 0, fmt.Errorf("import %d: unknown kind %d", i, kind)
		}
	}
	return funcs, r.err
}

func readFunctionNames(b []byte) (map[int]string, error) {
	r := reader{b: b}
	for r.off < len(b) && r.err == nil {
		id := r.byte()
		sub := reader{b: r.bytes(r.u32())}
		if id != 1 || r.err != nil {
			continue
		}
		n := sub.u32()
		names := make(map[int]string, n)
		for i := 0; i < n && sub.err == nil; i++ {
			idx := sub.u32()
			names[idx] = string(sub.bytes(sub.u32()))
		}
		return names, sub.err
	}
	if r.err != nil {
		return nil, r.err
	}
	return nil, nil
}

// reader decodes the module's LEB128 integers and byte vectors; the first
// error sticks and makes every later read return zero values.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated %s at offset %d", what, r.off)
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail("byte")
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) u32() int {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int(v)
		}
	}
	r.fail("LEB128 u32")
	return 0
}

func (r *reader) s32() int {
	var v int64
	shift := 0
	for ; shift < 35; shift += 7 {
		c := r.byte()
		v |= int64(c&0x7f) << shift
		if c < 0x80 {
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return int(int32(v))
		}
	}
	r.fail("LEB128 s32")
	return 0
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b)-r.off {
		r.fail("vector")
		return nil
	}
	r.off += n
	return r.b[r.off-n : r.off]
}

func (r *reader) limits() {
	if r.byte()&1 != 0 {
		r.u32()
	}
	r.u32()
}
