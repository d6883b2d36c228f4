//go:build unix

package host

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// measured runs a callback on a locked thread and adds the thread's CPU
// time it took to the VM's guest time: wall time would count the moments
// the scheduler gave the CPU to the goroutines serving a callout.
func (vm *VM) measured(call func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &before)
	err := call()
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &after)
	vm.guest.Add(after.Nano() - before.Nano())
	return err
}
