// Command probe is a test module for the e2e host itself, built like
// plugin.wasm: each request's x-probe-action header makes it exercise one part
// of the ABI (shared data CAS, http calls, local replies, properties, traps),
// so the host's Envoy semantics are tested independently of apiguard's policy.
// The "calls" action runs a script of raw host calls (calls.go) in the request
// headers, and the x-probe-body-calls, x-probe-response-calls and
// x-probe-log-calls scripts in the later callbacks; each callback's answers are
// stored as filter state for the test to read.
package main

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func init() { proxywasm.SetVMContext(&vm{}) }

func main() {}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &root{} }

type root struct {
	types.DefaultPluginContext
	ticks proxywasm.MetricCounter
	// gaps adds up the milliseconds between ticks (from start for the first),
	// as the guest's clock shows them.
	gaps     proxywasm.MetricCounter
	lastTick time.Time
	// held are streams paused until the next tick.
	held []held
	// metricIDs are the ids the scripts' define calls got, by name.
	metricIDs map[string]uint32
}

type held struct {
	id       uint32
	response bool
}

// OnPluginStart takes a configuration of "tick_ms=N" or "reject".
func (r *root) OnPluginStart(int) types.OnPluginStartStatus {
	cfg, _ := proxywasm.GetPluginConfiguration()
	r.ticks = proxywasm.DefineCounterMetric("probe.ticks")
	r.gaps = proxywasm.DefineCounterMetric("probe.tick_gaps_ms")
	r.lastTick = time.Now()
	proxywasm.DefineCounterMetric("probe.starts").Increment(1)
	if string(cfg) == "reject" {
		proxywasm.LogCritical("probe: configuration rejected")
		return types.OnPluginStartStatusFailed
	}
	if ms, ok := strings.CutPrefix(string(cfg), "tick_ms="); ok {
		n, _ := strconv.Atoi(ms)
		_ = proxywasm.SetTickPeriodMilliSeconds(uint32(n))
	}
	return types.OnPluginStartStatusOK
}

func (r *root) OnTick() {
	r.ticks.Increment(1)
	now := time.Now()
	r.gaps.Increment(uint64(now.Sub(r.lastTick).Milliseconds()))
	r.lastTick = now
	r.resumeHeld()
}

func (r *root) NewHttpContext(id uint32) types.HttpContext { return &stream{id: id, root: r} }

type stream struct {
	types.DefaultHttpContext
	id   uint32
	root *root
	// onResponse is the lifecycle action to take on the response.
	onResponse string
	// action is the request's x-probe-action; bodySizes and trailers are what
	// the body and trailer callbacks saw.
	action    string
	bodySizes []string
	trailers  []string
	// The scripts for the later callbacks, read with the request headers.
	bodyCalls, responseCalls, logCalls string
}

// run runs a script and stores its answers as filter state under key.
func (s *stream) run(script, key string) {
	if script == "" {
		return
	}
	if s.root.metricIDs == nil {
		s.root.metricIDs = map[string]uint32{}
	}
	_ = proxywasm.SetProperty([]string{key}, []byte(runCalls(script, s.root.metricIDs)))
}

func (s *stream) OnHttpRequestHeaders(n int, eos bool) types.Action {
	_ = proxywasm.SetProperty([]string{"probe_eos"}, []byte(strconv.FormatBool(eos)))
	_ = proxywasm.SetProperty([]string{"probe_headers"}, []byte(strconv.Itoa(n)))
	action, _ := proxywasm.GetHttpRequestHeader("x-probe-action")
	s.action = action
	switch action {
	case "count":
		_ = proxywasm.ReplaceHttpRequestHeader("x-probe-count", strconv.FormatUint(incrementShared("probe.count"), 10))
	case "reply":
		_ = proxywasm.SendHttpResponse(418, [][2]string{{"x-probe", "reply"}}, []byte("short and stout"), -1)
		return types.ActionPause
	case "property":
		name, _ := proxywasm.GetHttpRequestHeader("x-probe-property")
		v, err := proxywasm.GetProperty(strings.Split(name, "."))
		switch {
		case err != nil:
			_ = proxywasm.ReplaceHttpRequestHeader("x-probe-value", "error: "+err.Error())
		case len(v) == 8 && strings.HasSuffix(name, "port"):
			_ = proxywasm.ReplaceHttpRequestHeader("x-probe-value", strconv.FormatUint(binary.LittleEndian.Uint64(v), 10))
		default:
			_ = proxywasm.ReplaceHttpRequestHeader("x-probe-value", string(v))
		}
	case "call":
		return s.call()
	case "calls":
		s.bodyCalls, _ = proxywasm.GetHttpRequestHeader("x-probe-body-calls")
		s.responseCalls, _ = proxywasm.GetHttpRequestHeader("x-probe-response-calls")
		s.logCalls, _ = proxywasm.GetHttpRequestHeader("x-probe-log-calls")
		script, _ := proxywasm.GetHttpRequestHeader("x-probe-calls")
		s.run(script, "probe_result")
		if pause, _ := proxywasm.GetHttpRequestHeader("x-probe-pause"); pause != "" {
			return types.ActionPause
		}
	case "panic":
		panic("probe: panic requested")
	case "garbage":
		kb, _ := proxywasm.GetHttpRequestHeader("x-probe-kb")
		n, _ := strconv.Atoi(kb)
		sink := make([][]byte, 0, n)
		for i := 0; i < n; i++ {
			sink = append(sink, make([]byte, 1024))
		}
		_ = proxywasm.ReplaceHttpRequestHeader("x-probe-garbage", strconv.Itoa(len(sink)))
	default:
		if act, ok := s.lifecycle(action); ok {
			return act
		}
	}
	return types.ActionContinue
}

// incrementShared adds one to a shared-data counter with a CAS loop, as every
// worker-shared counter must.
func incrementShared(key string) uint64 {
	for {
		v, cas, err := proxywasm.GetSharedData(key)
		var n uint64
		if err == nil && len(v) == 8 {
			n = binary.LittleEndian.Uint64(v)
		}
		n++
		if cas == 0 {
			// On an absent key Envoy creates it whatever the cas, so two
			// first writers would both succeed: a version no entry has
			// makes the second one's write mismatch instead.
			cas = math.MaxUint32
		}
		if err := proxywasm.SetSharedData(key, binary.LittleEndian.AppendUint64(nil, n), cas); err == nil {
			return n
		}
	}
}

func (s *stream) call() types.Action {
	cluster, _ := proxywasm.GetHttpRequestHeader("x-probe-cluster")
	headers := [][2]string{{":method", "GET"}, {":path", "/probe"}, {":authority", "probe.internal"}}
	timeout := uint32(5000)
	if v, err := proxywasm.GetHttpRequestHeader("x-probe-timeout"); err == nil {
		n, _ := strconv.Atoi(v)
		timeout = uint32(n)
	}
	_, err := proxywasm.DispatchHttpCall(cluster, headers, nil, nil, timeout, func(nh, size, _ int) {
		_ = proxywasm.SetEffectiveContext(s.id)
		if nh == 0 {
			_ = proxywasm.SendHttpResponse(502, nil, []byte("callout failed"), -1)
			return
		}
		body, _ := proxywasm.GetHttpCallResponseBody(0, size)
		status, via := "", []string(nil)
		if hs, err := proxywasm.GetHttpCallResponseHeaders(); err == nil {
			for _, h := range hs {
				switch h[0] {
				case ":status":
					status = h[1]
				case "via":
					via = append(via, h[1])
				}
			}
		}
		_ = proxywasm.ReplaceHttpRequestHeader("x-probe-call", status+" "+string(body))
		// Each via entry the plugin saw, separated by "|".
		_ = proxywasm.ReplaceHttpRequestHeader("x-probe-call-via", strings.Join(via, "|"))
		_ = proxywasm.ResumeHttpRequest()
	})
	if err != nil {
		_ = proxywasm.SendHttpResponse(503, nil, []byte("dispatch: "+err.Error()), -1)
	}
	return types.ActionPause
}

func (s *stream) OnHttpResponseHeaders(int, bool) types.Action {
	_ = proxywasm.AddHttpResponseHeader("x-probe-response-seen", "1")
	s.run(s.responseCalls, "probe_response_result")
	if s.onResponse == "reply-on-response" {
		_ = proxywasm.SendHttpResponse(451, nil, []byte("unavailable for legal reasons"), -1)
		return types.ActionPause
	}
	return types.ActionContinue
}
