//go:build wasip1

// Command replayplugin is the host-call floor of the benchmarks: a module
// built exactly like plugin.wasm (same SDK, same binding) whose configuration
// is a stream that plugin.wasm ran, recorded by the e2e host (package
// replay). On every stream it makes the same host calls in the same
// callbacks, with the same arguments, and returns what the recorded
// callbacks returned; it decides nothing and parses nothing per stream.
package main

import (
	"encoding/json"
	"fmt"
	"unsafe"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/e2e/replay"
)

func init() { proxywasm.SetVMContext(&vm{}) }

// main never runs: a c-shared wasip1 reactor only runs init.
func main() {}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &pluginCtx{} }

type pluginCtx struct {
	types.DefaultPluginContext
	steps []step
}

// step is a replay.Step ready to run: its calls' arguments resolved.
type step struct {
	callback string
	result   types.Action
	calls    []call
}

type call struct {
	fn   hostFn
	ints []uint64
	ptrs []*byte
	lens []uint32
}

type hostFn int

const (
	fnLog hostFn = iota
	fnCurrentTime
	fnGetProperty
	fnSetProperty
	fnSendLocalResponse
	fnGetSharedData
	fnSetSharedData
	fnGetHeaderMapValue
	fnAddHeaderMapValue
	fnReplaceHeaderMapValue
	fnRemoveHeaderMapValue
	fnGetHeaderMapPairs
	fnSetHeaderMapPairs
	fnGetHeaderMapSize
	fnGetBufferStatus
	fnGetBufferBytes
	fnSetBufferBytes
	fnContinueStream
	fnIncrementMetric
	fnRecordMetric
	fnClockTimeGet
)

var hostFns = map[string]hostFn{
	"proxy_log": fnLog, "proxy_get_current_time_nanoseconds": fnCurrentTime,
	"proxy_get_property": fnGetProperty, "proxy_set_property": fnSetProperty,
	"proxy_send_local_response": fnSendLocalResponse,
	"proxy_get_shared_data":     fnGetSharedData, "proxy_set_shared_data": fnSetSharedData,
	"proxy_get_header_map_value": fnGetHeaderMapValue, "proxy_add_header_map_value": fnAddHeaderMapValue,
	"proxy_replace_header_map_value": fnReplaceHeaderMapValue, "proxy_remove_header_map_value": fnRemoveHeaderMapValue,
	"proxy_get_header_map_pairs": fnGetHeaderMapPairs, "proxy_set_header_map_pairs": fnSetHeaderMapPairs,
	"proxy_get_header_map_size": fnGetHeaderMapSize, "proxy_get_buffer_status": fnGetBufferStatus,
	"proxy_get_buffer_bytes": fnGetBufferBytes, "proxy_set_buffer_bytes": fnSetBufferBytes,
	"proxy_continue_stream": fnContinueStream, "proxy_increment_metric": fnIncrementMetric,
	"proxy_record_metric": fnRecordMetric, "clock_time_get": fnClockTimeGet,
}

func (p *pluginCtx) OnPluginStart(int) types.OnPluginStartStatus {
	raw, err := proxywasm.GetPluginConfiguration()
	if err == nil {
		p.steps, err = load(raw)
	}
	if err != nil {
		proxywasm.LogCriticalf("replayplugin: %v", err)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

// load resolves a script: metrics defined, bytes pinned, functions numbered.
func load(raw []byte) ([]step, error) {
	var s replay.Script
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	ids := make([]uint32, len(s.Metrics))
	for i, m := range s.Metrics {
		if st := proxyDefineMetric(m.Kind, unsafe.StringData(m.Name), uint32(len(m.Name)), &ids[i]); st != 0 {
			return nil, fmt.Errorf("metrics[%d]: define %q: status %d", i, m.Name, st)
		}
	}
	steps := make([]step, len(s.Steps))
	for i, st := range s.Steps {
		steps[i] = step{callback: st.Callback, result: types.Action(st.Result)}
		for j, c := range st.Calls {
			fn, ok := hostFns[c.Fn]
			if !ok || len(c.Ints)+len(c.Bytes) != countArgs(replay.Params[c.Fn]) {
				return nil, fmt.Errorf("steps[%d].calls[%d]: %s with %d integers and %d byte strings", i, j, c.Fn, len(c.Ints), len(c.Bytes))
			}
			rc := call{fn: fn, ints: c.Ints}
			for _, b := range c.Bytes {
				var ptr *byte
				if len(b) > 0 {
					ptr = &b[0]
				}
				rc.ptrs, rc.lens = append(rc.ptrs, ptr), append(rc.lens, uint32(len(b)))
			}
			if fn == fnIncrementMetric || fn == fnRecordMetric {
				if rc.ints[0] >= uint64(len(ids)) {
					return nil, fmt.Errorf("steps[%d].calls[%d]: metric %d of %d", i, j, rc.ints[0], len(ids))
				}
				rc.ints = []uint64{uint64(ids[rc.ints[0]]), rc.ints[1]}
			}
			steps[i].calls = append(steps[i].calls, rc)
		}
	}
	return steps, nil
}

// countArgs is how many integers and byte strings a layout takes.
func countArgs(layout string) int {
	n := 0
	for _, p := range layout {
		if p != 'o' {
			n++
		}
	}
	return n
}

func (p *pluginCtx) NewHttpContext(uint32) types.HttpContext { return &stream{steps: p.steps} }

// stream replays the steps in order; a callback out of order is a stream
// the recording does not describe, and traps.
type stream struct {
	types.DefaultHttpContext
	steps []step
	next  int
}

func (s *stream) run(callback string) types.Action {
	if s.next >= len(s.steps) || s.steps[s.next].callback != callback {
		panic(fmt.Sprintf("replayplugin: %s is not step %d of the recording", callback, s.next))
	}
	st := &s.steps[s.next]
	s.next++
	for i := range st.calls {
		st.calls[i].make()
	}
	return st.result
}

func (s *stream) OnHttpRequestHeaders(int, bool) types.Action {
	return s.run("proxy_on_request_headers")
}
func (s *stream) OnHttpRequestBody(int, bool) types.Action { return s.run("proxy_on_request_body") }
func (s *stream) OnHttpRequestTrailers(int) types.Action   { return s.run("proxy_on_request_trailers") }
func (s *stream) OnHttpResponseHeaders(int, bool) types.Action {
	return s.run("proxy_on_response_headers")
}
func (s *stream) OnHttpResponseBody(int, bool) types.Action { return s.run("proxy_on_response_body") }
func (s *stream) OnHttpResponseTrailers(int) types.Action   { return s.run("proxy_on_response_trailers") }
func (s *stream) OnHttpStreamDone()                         { s.run("proxy_on_log") }

// The answers the host writes, never read.
var ret1, ret2, ret3 uint32
var ret64 uint64

// make makes the call; its status is ignored, as the recorded one is what
// the host answers again.
func (c *call) make() {
	i, p, n := c.ints, c.ptrs, c.lens
	switch c.fn {
	case fnLog:
		proxyLog(uint32(i[0]), p[0], n[0])
	case fnCurrentTime:
		proxyGetCurrentTimeNanoseconds(&ret64)
	case fnGetProperty:
		proxyGetProperty(p[0], n[0], &ret1, &ret2)
	case fnSetProperty:
		proxySetProperty(p[0], n[0], p[1], n[1])
	case fnSendLocalResponse:
		proxySendLocalResponse(uint32(i[0]), p[0], n[0], p[1], n[1], p[2], n[2], int32(i[1]))
	case fnGetSharedData:
		proxyGetSharedData(p[0], n[0], &ret1, &ret2, &ret3)
	case fnSetSharedData:
		proxySetSharedData(p[0], n[0], p[1], n[1], uint32(i[0]))
	case fnGetHeaderMapValue:
		proxyGetHeaderMapValue(uint32(i[0]), p[0], n[0], &ret1, &ret2)
	case fnAddHeaderMapValue:
		proxyAddHeaderMapValue(uint32(i[0]), p[0], n[0], p[1], n[1])
	case fnReplaceHeaderMapValue:
		proxyReplaceHeaderMapValue(uint32(i[0]), p[0], n[0], p[1], n[1])
	case fnRemoveHeaderMapValue:
		proxyRemoveHeaderMapValue(uint32(i[0]), p[0], n[0])
	case fnGetHeaderMapPairs:
		proxyGetHeaderMapPairs(uint32(i[0]), &ret1, &ret2)
	case fnSetHeaderMapPairs:
		proxySetHeaderMapPairs(uint32(i[0]), p[0], n[0])
	case fnGetHeaderMapSize:
		proxyGetHeaderMapSize(uint32(i[0]), &ret1)
	case fnGetBufferStatus:
		proxyGetBufferStatus(uint32(i[0]), &ret1, &ret2)
	case fnGetBufferBytes:
		proxyGetBufferBytes(uint32(i[0]), uint32(i[1]), uint32(i[2]), &ret1, &ret2)
	case fnSetBufferBytes:
		proxySetBufferBytes(uint32(i[0]), uint32(i[1]), uint32(i[2]), p[0], n[0])
	case fnContinueStream:
		proxyContinueStream(uint32(i[0]))
	case fnIncrementMetric:
		proxyIncrementMetric(uint32(i[0]), int64(i[1]))
	case fnRecordMetric:
		proxyRecordMetric(uint32(i[0]), i[1])
	case fnClockTimeGet:
		clockTimeGet(uint32(i[0]), i[1], &ret64)
	}
}
