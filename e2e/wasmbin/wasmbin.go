// Package wasmbin reads and writes as much of the WebAssembly binary format
// as apiguard's module tools need (wasmsize, wasmshrink): sections, LEB128
// integers, active data segments and the memory they lay out, and where the
// Go runtime's function table (pclntab) lies in that memory.
package wasmbin

import (
	"bytes"
	"debug/gosym"
	"errors"
	"fmt"
)

// Magic is the preamble of a WebAssembly 1.0 module.
const Magic = "\x00asm\x01\x00\x00\x00"

// Section ids (WebAssembly 2.0, section 5.5.2).
const (
	Custom byte = iota
	Type
	Import
	Function
	Table
	Memory
	Global
	Export
	Start
	Element
	Code
	Data
	DataCount
)

// Section is one section of a module.
type Section struct {
	ID   byte
	Body []byte
	// Size is the whole section's size in the file, id and length included.
	Size int
}

// Sections splits a module into its sections, in file order.
func Sections(b []byte) ([]Section, error) {
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return nil, errors.New("not a WebAssembly 1.0 module")
	}
	var out []Section
	for r := (Reader{B: b, Off: len(Magic)}); r.Off < len(b); {
		start := r.Off
		id := r.Byte()
		body := r.Bytes(r.U32())
		if r.Err != nil {
			return nil, fmt.Errorf("section at offset %d: %w", start, r.Err)
		}
		out = append(out, Section{ID: id, Body: body, Size: r.Off - start})
	}
	return out, nil
}

// Encode writes sections back into a module.
func Encode(sections []Section) []byte {
	b := []byte(Magic)
	for _, s := range sections {
		b = append(b, s.ID)
		b = AppendU32(b, uint32(len(s.Body)))
		b = append(b, s.Body...)
	}
	return b
}

// CustomName is a custom section's name, and the rest of its body.
func CustomName(s Section) (string, []byte, error) {
	r := Reader{B: s.Body}
	name := r.Bytes(r.U32())
	return string(name), s.Body[r.Off:], r.Err
}

// ImportedFuncs counts the functions an import section imports: they take
// the first function indices, before the module's own.
func ImportedFuncs(body []byte) (int, error) {
	r := Reader{B: body}
	n := r.U32()
	funcs := 0
	for i := 0; i < n && r.Err == nil; i++ {
		r.Bytes(r.U32()) // module
		r.Bytes(r.U32()) // field
		switch kind := r.Byte(); kind {
		case 0: // function: type index
			r.U32()
			funcs++
		case 1: // table: reference type and limits
			r.Byte()
			r.limits()
		case 2: // memory
			r.limits()
		case 3: // global: value type and mutability
			r.Byte()
			r.Byte()
		default:
			return 0, fmt.Errorf("import %d: unknown kind %d", i, kind)
		}
	}
	return funcs, r.Err
}

// Segment is an active data segment of memory 0: Data is copied to At
// when the module is instantiated.
type Segment struct {
	At   int
	Data []byte
}

// Segments reads a data section. Go's linker writes only active segments
// of memory 0 at constant offsets; anything else is an error.
func Segments(data []byte) ([]Segment, error) {
	r := Reader{B: data}
	n := r.U32()
	// A segment takes at least five bytes (flags, i32.const, offset, end,
	// length): a count beyond that is a lie, not a size to allocate.
	segs := make([]Segment, 0, min(n, len(data)/5))
	for i := 0; i < n && r.Err == nil; i++ {
		if flags := r.U32(); flags != 0 {
			return nil, fmt.Errorf("segment %d: flags %d: only active segments of memory 0 are supported", i, flags)
		}
		if op := r.Byte(); op != 0x41 { // i32.const
			return nil, fmt.Errorf("segment %d: offset expression starts with opcode %#x, not i32.const", i, op)
		}
		at := r.S32()
		if r.Byte() != 0x0b {
			return nil, fmt.Errorf("segment %d: offset expression is not one constant", i)
		}
		s := Segment{At: at, Data: r.Bytes(r.U32())}
		if at < 0 {
			return nil, fmt.Errorf("segment %d: negative offset %d", i, at)
		}
		segs = append(segs, s)
	}
	return segs, r.Err
}

// EncodeSegments writes a data section's body.
func EncodeSegments(segs []Segment) []byte {
	b := AppendU32(nil, uint32(len(segs)))
	for _, s := range segs {
		b = append(b, 0, 0x41)
		b = AppendS32(b, int32(s.At))
		b = append(b, 0x0b)
		b = AppendU32(b, uint32(len(s.Data)))
		b = append(b, s.Data...)
	}
	return b
}

// Image lays segments out as the memory a module starts with, up to the
// end of the last one.
func Image(segs []Segment) []byte {
	end := 0
	for _, s := range segs {
		end = max(end, s.At+len(s.Data))
	}
	image := make([]byte, end)
	for _, s := range segs {
		copy(image[s.At:], s.Data)
	}
	return image
}

// pclntabMagic starts the Go 1.20+ function table on a little-endian
// 64-bit target: magic 0xfffffff1, two pad bytes, minimum instruction size
// 1, pointer size 8.
var pclntabMagic = []byte{0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8}

// PCLNTab finds the Go runtime's function table (runtime.pcHeader and what
// follows it) in a module's initial memory: its address and the table
// debug/gosym reads from it. ok is false if there is none (another
// toolchain, another layout).
func PCLNTab(image []byte) (at int, table *gosym.Table, ok bool) {
	for off := 0; ; off += 8 {
		i := bytes.Index(image[off:], pclntabMagic)
		if i < 0 {
			return 0, nil, false
		}
		off += i &^ 7
		if i&7 != 0 {
			continue
		}
		table, err := gosym.NewTable(nil, gosym.NewLineTable(image[off:], 0))
		if err != nil || len(table.Funcs) == 0 {
			continue
		}
		return off, table, true
	}
}
