package pipeline

import (
	"unsafe"

	"github.com/apiguard/apiguard/filters/stage"
)

// roles are the optional interfaces of package stage that a stage
// implements, besides stage.Stage.
type roles uint8

const (
	routeStage roles = 1 << iota
	paramStage
	responder
	earlyStage
	preflightStage
	lastStage
)

// stageTypes remembers the roles of the stage types a configuration's
// routes have met. Go's wasm port keeps no cache of type assertions: each
// one, and the five in six that fail, looks its pair up in the runtime's
// itab table, about 1,250 instructions, seven times a route, 7% of loading
// 1,000 plain routes. A configuration has a handful of stage types.
type stageTypes struct {
	known [16]struct {
		itab  unsafe.Pointer
		roles roles
	}
	n int
}

// of returns the roles of st's dynamic type. An interface value's first
// word is its itab, one per (interface, dynamic type) pair, so for a
// stage.Stage it names the dynamic type.
func (t *stageTypes) of(st stage.Stage) roles {
	itab := *(*unsafe.Pointer)(unsafe.Pointer(&st))
	for i := range t.n {
		if t.known[i].itab == itab {
			return t.known[i].roles
		}
	}
	var r roles
	if _, ok := st.(stage.RouteStage); ok {
		r |= routeStage
	}
	if _, ok := st.(stage.ParamStage); ok {
		r |= paramStage
	}
	if _, ok := st.(stage.ResponseHeadersStage); ok {
		r |= responder
	}
	if _, ok := st.(stage.EarlyStage); ok {
		r |= earlyStage
	}
	if _, ok := st.(stage.PreflightStage); ok {
		r |= preflightStage
	}
	if _, ok := st.(stage.LastStage); ok {
		r |= lastStage
	}
	if t.n < len(t.known) {
		t.known[t.n].itab, t.known[t.n].roles = itab, r
		t.n++
	}
	return r
}
