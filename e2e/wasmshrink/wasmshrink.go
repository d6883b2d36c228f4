// Package wasmshrink makes a module built by Go's wasm port smaller and
// quicker to instantiate without changing what it runs: the runtime's
// findfunctab, which the linker writes as tens of thousands of tiny data
// segments, is written at instantiation by a start function instead.
//
// findfunctab maps a PC to its function for stack walks: one 20-byte
// bucket (a function index and 16 sub-bucket deltas) per 4 KiB of PC
// space. The wasm port gives each function 64 Ki PCs (function index << 16),
// so the table is 16 identical buckets per function: bucket k holds k/16
// and zeros. For plugin.wasm that is 1.3 MB of memory, which the linker
// splits at every run of zeros longer than a segment header: 65,000
// segments of one or two bytes, 0.7 MB of the file, each copied by the
// engine on every instantiation. The start function's loop writes the
// same bytes in a fraction of that time, in 36 bytes of code.
//
// Shrink checks the table against that pattern byte for byte and refuses
// a module whose table differs (a linker that lays PCs out otherwise).
package wasmshrink

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apiguard/apiguard/e2e/wasmbin"
)

// StartName is the start function's name in the name section.
const StartName = "wasmshrink.findfunctab"

// Layout of the runtime's tables (Go 1.20+, 64-bit pointers): the offsets
// of runtime.moduledata's fields ftab ([]functab), findfunctab, minpc and
// maxpc, runtime.pcHeader's nfunc, and findfunctab's geometry
// (cmd/link/internal/ld/pcln.go, internal/abi.FuncTabBucketSize).
const (
	mdFtab        = 8 + 5*24
	mdFindfunctab = mdFtab + 24
	mdMinPC       = mdFindfunctab + 8
	mdMaxPC       = mdMinPC + 8
	pcHeaderNfunc = 8

	bucketPCs    = 4096
	subbucketPCs = 256
	subbuckets   = bucketPCs / subbucketPCs
	bucketSize   = 4 + subbuckets
	// funcPCs is the PC space the wasm port gives each function.
	funcPCs = 1 << 16
)

// Result says what Shrink changed.
type Result struct {
	// Segments is how many data segments were dropped, Buckets how many
	// buckets the start function writes at Table.
	Segments, Buckets, Table int
	// Before and After are the module's sizes.
	Before, After int
}

// Shrink returns the module with findfunctab written by a start function.
func Shrink(module []byte) ([]byte, Result, error) {
	res := Result{Before: len(module)}
	sections, err := wasmbin.Sections(module)
	if err != nil {
		return nil, res, err
	}
	idx := map[byte]int{}
	for i, s := range sections {
		if s.ID != wasmbin.Custom {
			idx[s.ID] = i
		}
	}
	for _, id := range []byte{wasmbin.Type, wasmbin.Function, wasmbin.Code, wasmbin.Data} {
		if _, ok := idx[id]; !ok {
			return nil, res, fmt.Errorf("no section %d", id)
		}
	}
	if _, ok := idx[wasmbin.Start]; ok {
		return nil, res, errors.New("the module has a start function already: shrunk twice?")
	}
	if _, ok := idx[wasmbin.DataCount]; ok {
		return nil, res, errors.New("the module has a data count section, which Go's linker does not write")
	}
	segs, err := wasmbin.Segments(sections[idx[wasmbin.Data]].Body)
	if err != nil {
		return nil, res, fmt.Errorf("data section: %w", err)
	}
	table, size, buckets, err := findfunctab(wasmbin.Image(segs))
	if err != nil {
		return nil, res, err
	}
	res.Table, res.Buckets = table, buckets
	var kept []wasmbin.Segment
	end := table + size
	for _, s := range segs {
		switch {
		case s.At >= table && s.At+len(s.Data) <= end:
			res.Segments++
		case s.At < end && s.At+len(s.Data) > table:
			return nil, res, fmt.Errorf("data segment at %#x (%d bytes) straddles findfunctab [%#x, %#x)", s.At, len(s.Data), table, end)
		default:
			kept = append(kept, s)
		}
	}

	imported := 0
	if i, ok := idx[wasmbin.Import]; ok {
		if imported, err = wasmbin.ImportedFuncs(sections[i].Body); err != nil {
			return nil, res, fmt.Errorf("import section: %w", err)
		}
	}
	types, err := appendToVector(sections[idx[wasmbin.Type]].Body, []byte{0x60, 0, 0}) // func () -> ()
	if err != nil {
		return nil, res, fmt.Errorf("type section: %w", err)
	}
	typeIndex := vectorLen(sections[idx[wasmbin.Type]].Body)
	funcs, err := appendToVector(sections[idx[wasmbin.Function]].Body, wasmbin.AppendU32(nil, uint32(typeIndex)))
	if err != nil {
		return nil, res, fmt.Errorf("function section: %w", err)
	}
	funcIndex := imported + vectorLen(sections[idx[wasmbin.Function]].Body)
	body := fillBody(table, buckets)
	code, err := appendToVector(sections[idx[wasmbin.Code]].Body, append(wasmbin.AppendU32(nil, uint32(len(body))), body...))
	if err != nil {
		return nil, res, fmt.Errorf("code section: %w", err)
	}
	sections[idx[wasmbin.Type]].Body = types
	sections[idx[wasmbin.Function]].Body = funcs
	sections[idx[wasmbin.Code]].Body = code
	sections[idx[wasmbin.Data]].Body = wasmbin.EncodeSegments(kept)
	for i, s := range sections {
		if s.ID != wasmbin.Custom {
			continue
		}
		if name, rest, err := wasmbin.CustomName(s); err == nil && name == "name" {
			if sections[i].Body, err = nameFunction(s.Body[:len(s.Body)-len(rest)], rest, funcIndex, StartName); err != nil {
				return nil, res, fmt.Errorf("name section: %w", err)
			}
		}
	}
	// The start section goes where the format orders it: after exports,
	// before elements, code and data.
	at := len(sections)
	for i, s := range sections {
		if s.ID == wasmbin.Element || s.ID == wasmbin.Code {
			at = i
			break
		}
	}
	start := wasmbin.Section{ID: wasmbin.Start, Body: wasmbin.AppendU32(nil, uint32(funcIndex))}
	sections = append(sections[:at], append([]wasmbin.Section{start}, sections[at:]...)...)
	out := wasmbin.Encode(sections)
	res.After = len(out)
	return out, res, nil
}

// findfunctab finds the table through runtime.moduledata, whose first word
// points at the function table, and checks that it is the pattern the start
// function writes. It returns the table's address, size and bucket count:
// as the linker sizes it, the last bucket's sub-buckets stop at the last PC.
func findfunctab(image []byte) (table, size, buckets int, err error) {
	pclntab, _, ok := wasmbin.PCLNTab(image)
	if !ok {
		return 0, 0, 0, errors.New("no Go function table (pclntab) in the module's data")
	}
	le := binary.LittleEndian
	nfunc := le.Uint64(image[pclntab+pcHeaderNfunc:])
	var want [8]byte
	le.PutUint64(want[:], uint64(pclntab))
	for md := 0; md+mdMaxPC+8 <= len(image); md += 8 {
		if [8]byte(image[md:md+8]) != want || le.Uint64(image[md+mdFtab+8:]) != nfunc+1 {
			continue
		}
		at := le.Uint64(image[md+mdFindfunctab:])
		minpc, maxpc := le.Uint64(image[md+mdMinPC:]), le.Uint64(image[md+mdMaxPC:])
		if minpc >= maxpc || minpc%funcPCs != 0 || maxpc-minpc > 1<<40 {
			return 0, 0, 0, fmt.Errorf("moduledata at %#x: PCs [%#x, %#x) are not the wasm port's", md, minpc, maxpc)
		}
		buckets = int((maxpc - minpc + bucketPCs - 1) / bucketPCs)
		size = 4*buckets + int((maxpc-minpc+subbucketPCs-1)/subbucketPCs)
		if at == 0 || at >= uint64(len(image)) || uint64(size) > uint64(len(image))-at {
			return 0, 0, 0, fmt.Errorf("moduledata at %#x: findfunctab at %#x (%d bytes) is outside the data", md, at, size)
		}
		if err := checkPattern(image[at:at+uint64(size)], buckets); err != nil {
			return 0, 0, 0, err
		}
		return int(at), size, buckets, nil
	}
	return 0, 0, 0, errors.New("no runtime.moduledata pointing at the function table")
}

// checkPattern reports the first byte where the table differs from what
// the start function writes: bucket k's function index k/16, and zeros.
func checkPattern(t []byte, buckets int) error {
	var want [bucketSize]byte
	for k := range buckets {
		binary.LittleEndian.PutUint32(want[:], uint32(k/subbuckets))
		b := t[k*bucketSize : min(len(t), (k+1)*bucketSize)]
		for i := range b {
			if b[i] != want[i] {
				return fmt.Errorf("findfunctab bucket %d byte %d is %d, not %d: this linker does not give every function %d PCs", k, i, b[i], want[i], funcPCs)
			}
		}
	}
	return nil
}

// fillBody is the start function: a loop that stores k/16 at table+20k for
// every bucket k. Memory starts zeroed, so the sub-buckets need no store.
func fillBody(table, buckets int) []byte {
	b := []byte{
		1, 1, 0x7f, // one local, k: i32
		0x03, 0x40, // loop
		0x20, 0, 0x41, bucketSize, 0x6c, // k*20
		0x20, 0, 0x41, 4, 0x76, // k>>4, k/subbuckets
		0x36, 2, // i32.store align=4 offset=table
	}
	b = wasmbin.AppendU32(b, uint32(table))
	b = append(b,
		0x20, 0, 0x41, 1, 0x6a, 0x22, 0, // k = k+1
		0x41) // i32.const buckets
	b = wasmbin.AppendS32(b, int32(buckets))
	return append(b,
		0x49, 0x0d, 0, // br_if k < buckets
		0x0b, // end loop
		0x0b) // end function
}

// vectorLen is the count that starts a vector's encoding.
func vectorLen(body []byte) int {
	r := wasmbin.Reader{B: body}
	return r.U32()
}

// appendToVector adds one encoded element to a section that is one vector.
func appendToVector(body, elem []byte) ([]byte, error) {
	r := wasmbin.Reader{B: body}
	n := r.U32()
	if r.Err != nil {
		return nil, r.Err
	}
	out := wasmbin.AppendU32(nil, uint32(n+1))
	out = append(out, body[r.Off:]...)
	return append(out, elem...), nil
}

// nameFunction adds a function's name to the name section's function
// names (subsection 1), which list indices in increasing order; index is
// the highest, so it goes last. head is the section's own name.
func nameFunction(head, subsections []byte, index int, name string) ([]byte, error) {
	out := append([]byte(nil), head...)
	r := wasmbin.Reader{B: subsections}
	named := false
	for r.Off < len(subsections) {
		id := r.Byte()
		sub := r.Bytes(r.U32())
		if r.Err != nil {
			return nil, r.Err
		}
		if id == 1 {
			entry := wasmbin.AppendU32(nil, uint32(index))
			entry = wasmbin.AppendU32(entry, uint32(len(name)))
			var err error
			if sub, err = appendToVector(sub, append(entry, name...)); err != nil {
				return nil, err
			}
			named = true
		}
		out = append(out, id)
		out = wasmbin.AppendU32(out, uint32(len(sub)))
		out = append(out, sub...)
	}
	if !named {
		return nil, errors.New("no function names")
	}
	return out, nil
}
