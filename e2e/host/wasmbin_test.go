package host

// A minimal WebAssembly binary encoder, so tests can build modules that
// misbehave in ways our Go-built modules never do (importing what Envoy lacks,
// calling restricted host functions during _initialize).

type wasmFunc struct {
	typ  []byte // encoded functype
	code []byte // body without locals and end
}

type wasmModule struct {
	imports []struct {
		module, name string
		typ          []byte
	}
	funcs   []wasmFunc
	exports map[string]int // function index (imports first)
}

func functype(params, results []byte) []byte {
	b := []byte{0x60, byte(len(params))}
	b = append(b, params...)
	b = append(b, byte(len(results)))
	return append(b, results...)
}

const wasmI32 = 0x7f

func uleb(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func wasmName(s string) []byte { return append(uleb(uint32(len(s))), s...) }

func section(id byte, items [][]byte) []byte {
	body := uleb(uint32(len(items)))
	for _, it := range items {
		body = append(body, it...)
	}
	return append(append([]byte{id}, uleb(uint32(len(body)))...), body...)
}

func (m *wasmModule) encode() []byte {
	var types [][]byte
	typeIndex := func(t []byte) byte {
		for i, x := range types {
			if string(x) == string(t) {
				return byte(i)
			}
		}
		types = append(types, t)
		return byte(len(types) - 1)
	}
	var imports, funcs, codes, exports [][]byte
	for _, im := range m.imports {
		e := append(wasmName(im.module), wasmName(im.name)...)
		imports = append(imports, append(e, 0x00, typeIndex(im.typ)))
	}
	for _, f := range m.funcs {
		funcs = append(funcs, []byte{typeIndex(f.typ)})
		body := append([]byte{0x00}, f.code...) // no locals
		body = append(body, 0x0b)
		codes = append(codes, append(uleb(uint32(len(body))), body...))
	}
	for name, idx := range m.exports {
		exports = append(exports, append(wasmName(name), 0x00, byte(idx)))
	}
	exports = append(exports, append(wasmName("memory"), 0x02, 0x00))
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	out = append(out, section(1, types)...)
	out = append(out, section(2, imports)...)
	out = append(out, section(3, funcs)...)
	out = append(out, section(5, [][]byte{{0x00, 0x01}})...)
	out = append(out, section(7, exports)...)
	return append(out, section(10, codes)...)
}

// minimalPlugin is a module with the exports Envoy requires; initCode is the
// body of _initialize, which may call import 0.
func minimalPlugin(importModule, importName string, importType []byte, initCode []byte) []byte {
	i32ToI32 := functype([]byte{wasmI32}, []byte{wasmI32})
	void := functype(nil, nil)
	m := &wasmModule{exports: map[string]int{}}
	m.imports = append(m.imports, struct {
		module, name string
		typ          []byte
	}{importModule, importName, importType})
	m.funcs = []wasmFunc{
		{typ: void, code: initCode},
		{typ: i32ToI32, code: []byte{0x41, 0x80, 0x08}}, // i32.const 1024
		{typ: functype([]byte{wasmI32, wasmI32}, nil)},
		{typ: void},
	}
	m.exports["_initialize"] = 1
	m.exports["proxy_on_memory_allocate"] = 2
	m.exports["proxy_on_context_create"] = 3
	m.exports["proxy_abi_version_0_2_0"] = 4
	return m.encode()
}
