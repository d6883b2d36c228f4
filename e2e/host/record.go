package host

import (
	"fmt"

	"github.com/apiguard/apiguard/e2e/replay"
)

// Record runs f, which drives one stream through vm, and returns the host
// calls the module made in it, callback by callback, for e2e/replayplugin to
// make again (package replay). It fails if a call cannot be replayed.
func (vm *VM) Record(f func()) (replay.Script, error) {
	r := &recording{metrics: map[*stat]int{}}
	vm.mu.Lock()
	vm.recording = r
	vm.mu.Unlock()
	f()
	vm.mu.Lock()
	vm.recording = nil
	vm.mu.Unlock()
	if r.err == nil && len(r.open) > 0 {
		r.err = fmt.Errorf("%d callbacks did not return", len(r.open))
	}
	return r.script, r.err
}

// recording is a Record in progress.
type recording struct {
	script replay.Script
	// open are the callbacks running, innermost last.
	open    []replay.Step
	metrics map[*stat]int
	err     error
}

func (r *recording) enter() { r.open = append(r.open, replay.Step{}) }

// callback ends the innermost callback, named name, which returned result.
func (r *recording) callback(name string, result uint32) {
	if len(r.open) == 0 {
		return
	}
	st := r.open[len(r.open)-1]
	r.open = r.open[:len(r.open)-1]
	st.Callback, st.Result = name, result
	switch {
	case replay.StreamCallbacks[name]:
		r.script.Steps = append(r.script.Steps, st)
	case len(st.Calls) > 0 && r.err == nil:
		r.err = fmt.Errorf("%s made %d host calls: a replay makes calls only in stream callbacks", name, len(st.Calls))
	}
}

// hostCall records the call of host function fn with its parameters.
func (r *recording) hostCall(vm *VM, fn string, params []uint64) {
	if len(r.open) == 0 {
		return
	}
	layout, ok := replay.Params[fn]
	if !ok {
		if r.err == nil {
			r.err = fmt.Errorf("%s cannot be replayed", fn)
		}
		return
	}
	c := replay.Call{Fn: fn}
	k := 0
	for _, p := range layout {
		switch p {
		case 'i':
			c.Ints = append(c.Ints, params[k])
			k++
		case 'b':
			b, _ := vm.read(u32(params[k]), u32(params[k+1]))
			c.Bytes = append(c.Bytes, append([]byte{}, b...))
			k += 2
		case 'o':
			k++
		}
	}
	switch fn {
	case "proxy_increment_metric", "proxy_record_metric":
		st := vm.metricIDs.ids[u32(params[0])]
		if st == nil {
			r.err = fmt.Errorf("%s of an undefined metric %d", fn, params[0])
			return
		}
		i, seen := r.metrics[st]
		if !seen {
			i = len(r.script.Metrics)
			r.metrics[st] = i
			r.script.Metrics = append(r.script.Metrics, replay.Metric{Kind: st.kind, Name: st.name})
		}
		c.Ints[0] = uint64(i)
	case "proxy_set_shared_data":
		c.Ints[0] = 0
	}
	top := &r.open[len(r.open)-1]
	top.Calls = append(top.Calls, c)
}
