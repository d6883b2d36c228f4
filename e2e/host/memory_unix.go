//go:build unix

package host

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// maxLinearMemory is V8's cap on a module's memory in Envoy: growing past it fails.
const maxLinearMemory = 1 << 30

// reservedMemory reserves the whole address range once and commits pages as the
// module grows, so memory.grow never copies. wazero's default allocator copies the
// whole memory on every grow, which stalls a stream for 10-88 ms on a Go module.
type reservedMemory struct {
	buf []byte
}

func newReservedMemory(_, max uint64) experimental.LinearMemory {
	if max > maxLinearMemory {
		max = maxLinearMemory
	}
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	return &reservedMemory{buf: buf[:0]}
}

func (m *reservedMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(m.buf)) {
		return nil
	}
	if size > uint64(len(m.buf)) {
		if err := syscall.Mprotect(m.buf[len(m.buf):size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
	}
	m.buf = m.buf[:size]
	return m.buf
}

func (m *reservedMemory) Free() {
	if m.buf != nil {
		_ = syscall.Munmap(m.buf[:cap(m.buf)])
		m.buf = nil
	}
}
