package main

import (
	"runtime/debug"
	_ "unsafe" // for go:linkname
)

// loadMemoryLimit bounds what a configuration may take to load while the
// collector is held back.
const loadMemoryLimit = 64 << 20

// holdCollector turns the collector off until the VM's memory reaches
// loadMemoryLimit, for a configuration to load, and returns what turns it
// back on. Most of what loading allocates is the new policy, which
// survives; at a push the old pipeline is live too, and every cycle during
// the load marked both again (a third of configure for 1,000 authz routes).
// endLoad decides when what the load left as garbage goes. A VM already
// past the limit collects as the limit makes it, within the runtime's cap
// on the collector's share of the CPU.
func holdCollector() (release func()) {
	// Turning GOGC off waits for a cycle that is marking, and must not
	// wait (see assistCollector).
	finishCollection()
	limit := debug.SetMemoryLimit(loadMemoryLimit)
	gc := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}

// writeBarrier is the runtime's flag that a collection is marking: the
// compiler checks it before every pointer write. The runtime exports it
// for linkname (go.dev/issue/67401); Go has no other way to ask whether a
// cycle is under way.
//
//go:linkname writeBarrier runtime.writeBarrier
var writeBarrier struct {
	enabled bool
	pad     [3]byte
	alignme uint64
}

// finishCollection runs a collection that is marking to its end before the
// callback returns to the host: the end of each stream and of each
// configuration's load calls it (endLoad), so a cycle started in any
// callback ends there or at the next of those. Elsewhere, background mark
// workers finish a cycle on their own threads; in a wasip1 module Go runs
// other goroutines only while the callback's own waits, so a cycle that an
// allocation started advances only by the assists of later allocations.
// Warm streams allocate nothing: the cycle stayed marking for as long as
// they came, and every pointer write of every stream paid the write
// barrier, which nearly doubled the stream of 1,000 routes.
func finishCollection() {
	if writeBarrier.enabled {
		assistCollector(true)
	}
}

// replacing is set once the VM has loaded a configuration: a later load
// is a push, whose new root context replaces a pipeline.
var replacing bool

// endLoad ends a configuration's load. The VM's first load leaves its
// garbage to the collector's first goal, as the runtime would without
// holdCollector: an allocation tests the heap against the trigger (an
// 8 KiB object fills its span, so allocating one always takes a new span,
// which tests it), and a cycle that starts ends here. Collecting anyway
// marked the whole new pipeline (3 ms of the 15 for 1,000 plain routes in
// wazero) and made V8 compile the collector during on_configure, for a
// cycle that warm streams, which allocate nothing, might never need. A
// push collects at once: the pipeline it replaced is garbage, and the
// collector's goal, twice the heap the last cycle left, still counts both,
// so thirty pushes without a collection grew the VM to 22 MiB.
func endLoad() {
	if replacing {
		assistCollector(false)
		return
	}
	replacing = true
	assistSink = new([8 << 10]byte)
	assistSink = nil
	finishCollection()
}

// assistCollector runs the collector on this goroutine until a cycle ends:
// the one marking, or else a new one. It must not wait for the mark, as
// runtime.GC and debug.SetGCPercent(-1) do: while the callback's goroutine
// waits, the scheduler also runs the scavenger, which a cycle's start wakes
// and which then sleeps on a timer; from then on every stop of the world
// polls the network, and Envoy 1.33's poll_oneoff fails the VM. It
// allocates instead, with GOGC 1 so that the goal is as near as the runtime
// allows: an allocation starts a cycle once the heap is past the trigger,
// and each one owes the cycle as much mark work as the runway left allows.
func assistCollector(marking bool) {
	gc := debug.SetGCPercent(1)
	// Setting GOGC puts the goal at least a megabyte (the runtime's least
	// distance for sweeping) above the heap, and the assists are spread
	// over that runway: starting and ending a cycle takes up to a megabyte
	// of allocations, garbage at the next cycle; ending one a stream started
	// takes a few. The bound keeps a runtime that skips assists (its
	// collector CPU limiter) from looping; a cycle still marking then ends
	// with a later callback.
	for range 256 {
		if writeBarrier.enabled {
			marking = true
		} else if marking {
			break
		}
		assistSink = new([8 << 10]byte)
	}
	assistSink = nil
	debug.SetGCPercent(gc)
}

// assistSink keeps assistCollector's allocations from being optimized out.
var assistSink *[8 << 10]byte
