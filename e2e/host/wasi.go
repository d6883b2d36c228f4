package host

import (
	"bytes"
	"crypto/rand"
	"sort"

	"github.com/tetratelabs/wazero/api"
)

// WASI errno values Envoy returns.
const (
	errnoSuccess = 0
	errnoBadf    = 8
	errnoInval   = 28
	errnoNoent   = 44
	errnoNosys   = 52
)

const maxRandomGet = 64 << 10

// wasiFunctions is Envoy's WASI (proxy-wasm-cpp-host src/wasm.cc): 18 functions,
// each with the behaviour documented in ../shared/ENVOY-HOST.md.
func wasiFunctions(p Profile) []hostFunc {
	return []hostFunc{
		{"fd_write", i32s(4), oneI32, func(vm *VM, s []uint64) {
			fd, iovs, n, nwritten := u32(s[0]), u32(s[1]), u32(s[2]), u32(s[3])
			if fd != 1 && fd != 2 {
				s[0] = errnoBadf
				return
			}
			var msg []byte
			for i := uint32(0); i < n; i++ {
				ptr, ok1 := vm.mem.ReadUint32Le(iovs + 8*i)
				size, ok2 := vm.mem.ReadUint32Le(iovs + 8*i + 4)
				b, ok3 := vm.read(ptr, size)
				if !ok1 || !ok2 || !ok3 {
					s[0] = errnoInval
					return
				}
				msg = append(msg, b...)
			}
			vm.stdio(fd, msg)
			vm.mem.WriteUint32Le(nwritten, uint32(len(msg)))
			s[0] = errnoSuccess
		}},
		{"fd_read", i32s(4), oneI32, func(_ *VM, s []uint64) { s[0] = errnoNosys }},
		{"fd_seek", []api.ValueType{i32, i64, i32, i32}, oneI32, func(vm *VM, s []uint64) {
			vm.env.log(vm.worker, 4, "wasi: fd_seek is not supported")
			s[0] = errnoSuccess
		}},
		{"fd_close", i32s(1), oneI32, func(vm *VM, s []uint64) {
			vm.env.log(vm.worker, 4, "wasi: fd_close is not supported")
			s[0] = errnoSuccess
		}},
		{"fd_fdstat_get", i32s(2), oneI32, func(vm *VM, s []uint64) {
			fd, buf := u32(s[0]), u32(s[1])
			if fd != 1 && fd != 2 {
				s[0] = errnoBadf
				return
			}
			vm.mem.Write(buf, make([]byte, 24))
			s[0] = errnoSuccess
		}},
		{"fd_fdstat_set_flags", i32s(2), oneI32, func(_ *VM, s []uint64) { s[0] = errnoNosys }},
		{"environ_get", i32s(2), oneI32, func(vm *VM, s []uint64) {
			environ, buf := u32(s[0]), u32(s[1])
			for _, kv := range vm.environ() {
				vm.mem.WriteUint32Le(environ, buf)
				vm.mem.Write(buf, append([]byte(kv), 0))
				environ += 4
				buf += uint32(len(kv)) + 1
			}
			s[0] = errnoSuccess
		}},
		{"environ_sizes_get", i32s(2), oneI32, func(vm *VM, s []uint64) {
			env := vm.environ()
			size := 0
			for _, kv := range env {
				size += len(kv) + 1
			}
			vm.mem.WriteUint32Le(u32(s[0]), uint32(len(env)))
			vm.mem.WriteUint32Le(u32(s[1]), uint32(size))
			s[0] = errnoSuccess
		}},
		{"args_get", i32s(2), oneI32, func(_ *VM, s []uint64) { s[0] = errnoSuccess }},
		{"args_sizes_get", i32s(2), oneI32, func(vm *VM, s []uint64) {
			vm.mem.WriteUint32Le(u32(s[0]), 0)
			vm.mem.WriteUint32Le(u32(s[1]), 0)
			s[0] = errnoSuccess
		}},
		{"clock_time_get", []api.ValueType{i32, i64, i32}, oneI32, func(vm *VM, s []uint64) {
			var t int64
			switch u32(s[0]) {
			case 0:
				t = vm.env.clock.Now().UnixNano()
			case 1:
				t = vm.env.clock.Monotonic()
			default:
				s[0] = 58 // ENOTSUP
				return
			}
			vm.mem.WriteUint64Le(u32(s[2]), uint64(t))
			s[0] = errnoSuccess
		}},
		{"random_get", i32s(2), oneI32, func(vm *VM, s []uint64) {
			buf, n := u32(s[0]), u32(s[1])
			if n > maxRandomGet {
				s[0] = errnoInval
				return
			}
			b, ok := vm.read(buf, n)
			if !ok {
				s[0] = errnoInval
				return
			}
			_, _ = rand.Read(b)
			s[0] = errnoSuccess
		}},
		{"sched_yield", nil, oneI32, func(_ *VM, s []uint64) { s[0] = errnoSuccess }},
		{"poll_oneoff", i32s(4), oneI32, func(vm *VM, s []uint64) {
			vm.pollOneoffCalls++
			if p == CppHostCurrent {
				vm.mem.WriteUint32Le(u32(s[3]), 0)
				s[0] = errnoSuccess
				return
			}
			s[0] = errnoNosys
		}},
		{"proc_exit", i32s(1), nil, func(vm *VM, s []uint64) {
			vm.env.log(vm.worker, 4, "wasi: proc_exit is not supported")
		}},
		{"path_open", []api.ValueType{i32, i32, i32, i32, i32, i64, i64, i32, i32}, oneI32, func(_ *VM, s []uint64) {
			s[0] = errnoNoent
		}},
		{"fd_prestat_get", i32s(2), oneI32, func(_ *VM, s []uint64) { s[0] = errnoBadf }},
		{"fd_prestat_dir_name", i32s(3), oneI32, func(_ *VM, s []uint64) { s[0] = errnoNosys }},
	}
}

// environ is vm_config.environment_variables as KEY=VALUE, sorted for stability.
func (vm *VM) environ() []string {
	out := make([]string, 0, len(vm.env.cfg.Environment))
	for k, v := range vm.env.cfg.Environment {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// stdio logs what the module writes to stdout (info) and stderr (error). Envoy
// logs each fd_write; the Go runtime writes a panic a few bytes at a time, so
// lines are assembled first to keep crash reports readable.
func (vm *VM) stdio(fd uint32, msg []byte) {
	level, buf := LogLevel(2), &vm.stdout
	if fd == 2 {
		level, buf = 4, &vm.stderr
	}
	*buf = append(*buf, msg...)
	for {
		i := bytes.IndexByte(*buf, '\n')
		if i < 0 {
			break
		}
		vm.env.log(vm.worker, level, string((*buf)[:i]))
		*buf = (*buf)[i+1:]
	}
	if len(*buf) == 0 {
		*buf = nil
	}
}

// flushStdio logs an unterminated last line, e.g. before a trap.
func (vm *VM) flushStdio() {
	if len(vm.stdout) > 0 {
		vm.env.log(vm.worker, 2, string(vm.stdout))
	}
	if len(vm.stderr) > 0 {
		vm.env.log(vm.worker, 4, string(vm.stderr))
	}
	vm.stdout, vm.stderr = nil, nil
}
