package host

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func metric(env *Env, name string) uint64 {
	v, _ := env.Metric(name)
	return v
}

// TestCanaryStartsAndIsKilledWithoutShutdown follows WasmHandleBase::canary:
// the whole start sequence in a throwaway VM, then kill() without on_done.
func TestCanaryStartsAndIsKilledWithoutShutdown(t *testing.T) {
	env, err := NewEnv(Config{Module: readModule(t, "probe.wasm")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	if err := env.Canary(); err != nil {
		t.Fatal(err)
	}
	if starts, done := metric(env, "probe.starts"), metric(env, "probe.done"); starts != 1 || done != 0 {
		t.Errorf("after the canary: %d starts, %d done; want 1 and 0", starts, done)
	}
	env, err = NewEnv(Config{Module: readModule(t, "probe.wasm"), Configuration: []byte("reject")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	if err := env.Canary(); err == nil || !strings.Contains(err.Error(), "canary: proxy_on_configure returned false") {
		t.Errorf("canary of a refused configuration: %v", err)
	}
}

// TestConfigurationUpdateAddsARootContext: a second root context in the same
// VM serves new streams; the old one is shut down (on_done, on_delete) once
// its last stream ends.
func TestConfigurationUpdateAddsARootContext(t *testing.T) {
	env, vms := startProbe(t, Config{}, 1)
	vm := vms[0]
	old, err := vm.NewStream(StreamInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.UpdateConfiguration([]byte("reject")); err == nil || vm.RootContexts() != 1 {
		t.Fatalf("a refused update: err %v, %d root contexts; want an error and no change", err, vm.RootContexts())
	}
	if err := env.UpdateConfiguration([]byte("tick_ms=1000")); err != nil {
		t.Fatal(err)
	}
	// Starts: the first worker, the refused canary, the canary, the new root.
	if starts, roots := metric(env, "probe.starts"), vm.RootContexts(); starts != 4 || roots != 2 {
		t.Fatalf("after the update: %d starts, %d root contexts; want 4 and 2 (the old one drains)", starts, roots)
	}
	if res := vm.RoundTrip(probe(""), okUpstream); res.Err != nil || res.Status != 200 {
		t.Fatalf("a stream under the new configuration: %d %v", res.Status, res.Err)
	}
	if done := metric(env, "probe.done"); done != 0 {
		t.Fatalf("the old root context was shut down while a stream still used it")
	}
	if err := old.Finish(); err != nil {
		t.Fatal(err)
	}
	if done, roots := metric(env, "probe.done"), vm.RootContexts(); done != 1 || roots != 1 {
		t.Errorf("after the old configuration's last stream: %d done, %d root contexts; want 1 and 1", done, roots)
	}
}

// TestPluginConfigurationIsReadableOnlyInOnConfigure: Envoy's getBuffer gives
// the plugin configuration only while temp_plugin_ is set.
func TestPluginConfigurationIsReadableOnlyInOnConfigure(t *testing.T) {
	_, vms := startProbe(t, Config{Configuration: []byte("tick_ms=0")}, 1)
	res := vms[0].RoundTrip(probe("read-config"), okUpstream)
	if got, _ := res.Upstream.Headers.Get("x-probe-config"); !strings.Contains(got, "not found") {
		t.Errorf("reading the configuration in a stream: %q, want NOT_FOUND", got)
	}
}

func newProbeStream(t *testing.T, vm *VM, action string) *Stream {
	t.Helper()
	s, err := vm.NewStream(StreamInfo{})
	if err != nil {
		t.Fatal(err)
	}
	h := Headers{{":method", "GET"}, {":path", "/probe"}, {":authority", "a"}, {":scheme", "http"}, {"x-probe-action", action}}
	if _, err := s.RequestHeaders(h, true); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestResponseBodyPausedAtTheEndStalls: a pause at end of stream holds the
// response until continue_stream, here from the next tick.
func TestResponseBodyPausedAtTheEndStalls(t *testing.T) {
	env, vms := startProbe(t, Config{Configuration: []byte("tick_ms=1000"), Clock: NewFakeClock(time.Unix(1_700_000_000, 0))}, 1)
	s := newProbeStream(t, vms[0], "hold-response")
	defer s.Finish()
	if act, err := s.ResponseHeaders(Headers{{":status", "200"}}, false); act != Continue || err != nil {
		t.Fatalf("response headers: %v %v", act, err)
	}
	if _, act, err := s.ResponseBody([]byte("body"), true); act != Pause || err != nil {
		t.Fatalf("response body at end of stream: %v %v, want the plugin's pause to hold", act, err)
	}
	if _, err := s.Wait(50 * time.Millisecond); !errors.Is(err, ErrStalled) {
		t.Fatalf("a held response was released without continue_stream: %v", err)
	}
	env.Advance(time.Second)
	if act, err := s.Wait(time.Second); act != Continue || err != nil {
		t.Fatalf("after the tick resumed it: %v %v", act, err)
	}
	if got := string(s.TakeResponseBody()); got != "body" {
		t.Errorf("released body %q", got)
	}
}

// TestTrapFailsOnlyTheCurrentStream: the trapping stream gets 503; another
// paused stream is never answered (it waits for its timeout) and the failed
// VM gets no more ticks.
func TestTrapFailsOnlyTheCurrentStream(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	// Registered before the Env, so it runs after env.Close cancels the call.
	t.Cleanup(slow.Close)
	env, vms := startProbe(t, Config{Configuration: []byte("tick_ms=1000"), Clock: NewFakeClock(time.Unix(1_700_000_000, 0)),
		Clusters: map[string]string{"slow": slow.URL}}, 1)
	held := newProbeStream(t, vms[0], "hold")
	calling := pausedCall(t, vms[0], "slow", "0")
	if res := vms[0].RoundTrip(probe("panic"), okUpstream); res.Status != 503 || res.Err == nil {
		t.Fatalf("trapping stream: %d %v", res.Status, res.Err)
	}
	if _, err := held.Wait(50 * time.Millisecond); !errors.Is(err, ErrStalled) {
		t.Fatalf("the other paused stream: %v, want it left waiting", err)
	}
	env.Advance(3 * time.Second)
	if got := metric(env, "probe.ticks"); got != 0 {
		t.Errorf("a failed VM got %d ticks", got)
	}
	if _, err := held.Wait(50 * time.Millisecond); !errors.Is(err, ErrStalled) {
		t.Errorf("the other paused stream was answered after the trap: %v", err)
	}
	close(release)
	vms[0].WaitHTTPCalls()
	if _, err := calling.Wait(50 * time.Millisecond); !errors.Is(err, ErrStalled) {
		t.Errorf("the stream waiting for a call was answered after the trap: %v", err)
	}
}

// TestAStalledStreamGetsTheIdleTimeout: Envoy's stream idle timeout answers
// 408 "stream timeout" through the filter chain.
func TestAStalledStreamGetsTheIdleTimeout(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	s := newProbeStream(t, vms[0], "hold")
	defer s.Finish()
	_, err := s.Wait(10 * time.Millisecond)
	res := s.failedResult(err)
	if !errors.Is(res.Err, ErrStalled) || res.Status != 408 || string(res.Body) != "stream timeout" {
		t.Fatalf("got %d %q %v", res.Status, res.Body, res.Err)
	}
	if seen, _ := res.Headers.Get("x-probe-response-seen"); seen != "1" {
		t.Error("the timeout's reply did not pass the plugin's response callbacks")
	}
}

// TestAClosedVMTakesNoMoreWork: a stream or a tick that reaches a VM after
// it closed (a gateway shutting down while its ticker fires) is refused;
// it never runs the module, whose memory is gone.
func TestAClosedVMTakesNoMoreWork(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	vm := vms[0]
	vm.Close()
	vm.fireDueTicks(time.Now().Add(time.Hour))
	if res := vm.RoundTrip(Request{Method: "GET", Path: "/"}, func(*UpstreamRequest) *Response { return &Response{Status: 200} }); res.Err == nil || res.Upstream != nil {
		t.Fatalf("a closed VM served a stream: status %d, err %v", res.Status, res.Err)
	}
}
