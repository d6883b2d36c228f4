package host

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func readModule(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../build/" + name)
	if err != nil {
		t.Fatalf("%v: run `make build` first", err)
	}
	return b
}

func startProbe(t testing.TB, cfg Config, workers int) (*Env, []*VM) {
	t.Helper()
	cfg.Module = readModule(t, "probe.wasm")
	if cfg.Name == "" {
		cfg.Name, cfg.RootID = "probe", "probe_root"
	}
	env, err := NewEnv(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	var vms []*VM
	for i := 0; i < workers; i++ {
		vm, err := env.StartVM()
		if err != nil {
			env.WriteLogs(os.Stderr)
			t.Fatal(err)
		}
		vms = append(vms, vm)
	}
	return env, vms
}

func okUpstream(u *UpstreamRequest) *Response {
	return &Response{Status: 200, Headers: Headers{{"content-type", "text/plain"}}, Body: []byte("upstream")}
}

func probe(action string, extra ...[2]string) Request {
	return Request{Method: "GET", Path: "/probe", Headers: append(Headers{{"x-probe-action", action}}, extra...)}
}

func TestBuiltModulesLoadInEnvoy(t *testing.T) {
	for _, name := range []string{"plugin.wasm", "nullplugin.wasm", "probe.wasm"} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewEnv(Config{Module: readModule(t, name)}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestImportEnvoyLacksFailsTheLoad(t *testing.T) {
	mod := minimalPlugin("wasi_snapshot_preview1", "fd_readdir",
		functype([]byte{wasmI32, wasmI32, wasmI32, 0x7e, wasmI32}, []byte{wasmI32}), nil)
	_, err := NewEnv(Config{Module: mod})
	if err == nil || !strings.Contains(err.Error(), "wasi_snapshot_preview1.fd_readdir is not provided by Envoy") {
		t.Fatalf("NewEnv error = %v, want fd_readdir refused", err)
	}
}

func TestImportOfAnotherABIVersionFailsTheLoad(t *testing.T) {
	mod := minimalPlugin("env", "proxy_get_log_level", functype([]byte{wasmI32}, []byte{wasmI32}), nil)
	_, err := NewEnv(Config{Module: mod})
	if err == nil || !strings.Contains(err.Error(), "env.proxy_get_log_level is not provided by Envoy") {
		t.Fatalf("NewEnv error = %v: Envoy registers proxy_get_log_level only for ABI 0.2.1 modules", err)
	}
}

func TestRestrictedCallDuringInitializeTraps(t *testing.T) {
	// _initialize: proxy_set_tick_period_milliseconds(1000); drop
	init := []byte{0x41, 0xe8, 0x07, 0x10, 0x00, 0x1a}
	mod := minimalPlugin("env", "proxy_set_tick_period_milliseconds", functype([]byte{wasmI32}, []byte{wasmI32}), init)
	env, err := NewEnv(Config{Module: mod})
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.StartVM()
	if err == nil || !strings.Contains(err.Error(), "restricted_callback: proxy_set_tick_period_milliseconds called during _initialize") {
		t.Fatalf("StartVM error = %v, want restricted_callback", err)
	}
}

func TestAllocatorAndBooleansAtTheBoundary(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	vm := vms[0]
	vm.mu.Lock()
	zero := vm.guestAlloc(0)
	a, b := vm.guestAlloc(16), vm.guestAlloc(16)
	done, err := vm.call(fnDone, uint64(vm.rootID))
	vm.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if zero == 0 || a == 0 || b == 0 || a == b {
		t.Errorf("allocations: size 0 -> %#x, 16 -> %#x and %#x; want non-null, distinct", zero, a, b)
	}
	if done != 1 {
		t.Errorf("proxy_on_done returned %d, want 1 (true)", done)
	}

	tests := []struct {
		name    string
		body    []byte
		wantEOS string
	}{
		{name: "headers only is end of stream", wantEOS: "true"},
		{name: "headers before a body are not", body: []byte("x"), wantEOS: "false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := vm.NewStream(StreamInfo{})
			if err != nil {
				t.Fatal(err)
			}
			h := Headers{{":method", "POST"}, {":path", "/"}, {":authority", "a"}, {":scheme", "http"}}
			if _, err := s.RequestHeaders(h, tc.body == nil); err != nil {
				t.Fatal(err)
			}
			vm.mu.Lock()
			eos, n := string(s.filterState["probe_eos"]), string(s.filterState["probe_headers"])
			vm.mu.Unlock()
			if eos != tc.wantEOS || n != "4" {
				t.Errorf("plugin saw end_of_stream=%s headers=%s, want %s and 4", eos, n, tc.wantEOS)
			}
			_ = s.Finish()
		})
	}
}

func TestTwoWorkersShareDataWithCAS(t *testing.T) {
	env, vms := startProbe(t, Config{VMID: "shared"}, 2)
	const perWorker = 300
	counts := make(chan string, 2*perWorker)
	var wg sync.WaitGroup
	for _, vm := range vms {
		wg.Add(1)
		go func(vm *VM) {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				res := vm.RoundTrip(probe("count"), okUpstream)
				if res.Err != nil || res.Upstream == nil {
					t.Errorf("worker %d: %+v", vm.Worker(), res)
					return
				}
				v, _ := res.Upstream.Headers.Get("x-probe-count")
				counts <- v
			}
		}(vm)
	}
	wg.Wait()
	close(counts)
	seen := map[string]bool{}
	for c := range counts {
		if seen[c] {
			t.Errorf("count %s handed out twice: a lost CAS update", c)
		}
		seen[c] = true
	}
	v, _, ok := env.SharedData("probe.count")
	if !ok || len(v) != 8 || binary.LittleEndian.Uint64(v) != 2*perWorker {
		t.Errorf("shared counter = %v, want %d", v, 2*perWorker)
	}
}

func TestSharedDataSemantics(t *testing.T) {
	s := newSharedData()
	if st := s.set("vm", "k", []byte("a"), 7); st != statusOK {
		t.Fatalf("cas on an absent key must create it, got %d", st)
	}
	_, cas, _ := s.get("vm", "k")
	if cas == 0 {
		t.Fatal("cas 0 is never handed out")
	}
	if st := s.set("vm", "k", []byte("b"), cas+100); st != statusCASMismatch {
		t.Errorf("stale cas: got status %d, want CAS_MISMATCH", st)
	}
	if st := s.set("vm", "k", []byte("c"), cas); st != statusOK {
		t.Errorf("current cas: got status %d", st)
	}
	if st := s.set("vm", "k", []byte("d"), 0); st != statusOK {
		t.Errorf("cas 0 always writes, got %d", st)
	}
	if _, _, ok := s.get("other-vm", "k"); ok {
		t.Error("vm_id scopes must not share keys")
	}
}

func TestLocalReply(t *testing.T) {
	tests := []struct {
		name       string
		skip       bool
		wantFilter string
	}{
		{name: "passes back through the plugin's response callbacks, as in Envoy", wantFilter: "1"},
		{name: "bypasses them when configured", skip: true, wantFilter: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, vms := startProbe(t, Config{LocalReplySkipsFilter: tc.skip}, 1)
			res := vms[0].RoundTrip(probe("reply"), func(*UpstreamRequest) *Response {
				t.Fatal("a local reply must not reach the upstream")
				return nil
			})
			if res.Status != 418 || string(res.Body) != "short and stout" || res.Upstream != nil {
				t.Fatalf("got %d %q upstream=%v", res.Status, res.Body, res.Upstream)
			}
			if seen, _ := res.Headers.Get("x-probe-response-seen"); seen != tc.wantFilter {
				t.Errorf("x-probe-response-seen = %q, want %q", seen, tc.wantFilter)
			}
			if ct, _ := res.Headers.Get("content-type"); ct != "text/plain" {
				t.Errorf("content-type = %q: Envoy adds text/plain to a local reply body without one", ct)
			}
		})
	}
}

func TestHTTPCallsReachClustersOnLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Host, r.URL.Path)
	}))
	defer srv.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	_, vms := startProbe(t, Config{Clusters: map[string]string{"jwks": srv.URL, "down": down.URL}}, 1)
	tests := []struct {
		name       string
		cluster    string
		wantStatus int
		wantCall   string
		wantBody   string
	}{
		{name: "known cluster answers on the root context", cluster: "jwks", wantStatus: 200, wantCall: "200 probe.internal /probe"},
		{name: "unknown cluster is BAD_ARGUMENT at dispatch", cluster: "nope", wantStatus: 503, wantBody: "bad argument"},
		{name: "unreachable cluster answers Envoy's 503", cluster: "down", wantStatus: 200, wantCall: "503 " + connectFailureBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := vms[0].RoundTrip(probe("call", [2]string{"x-probe-cluster", tc.cluster}), okUpstream)
			if res.Err != nil || res.Status != tc.wantStatus {
				t.Fatalf("status %d err %v body %q", res.Status, res.Err, res.Body)
			}
			if tc.wantCall != "" {
				if got, _ := res.Upstream.Headers.Get("x-probe-call"); got != tc.wantCall {
					t.Errorf("x-probe-call = %q, want %q", got, tc.wantCall)
				}
			}
			if tc.wantBody != "" && !strings.Contains(string(res.Body), tc.wantBody) {
				t.Errorf("body %q, want %q", res.Body, tc.wantBody)
			}
		})
	}
}

func TestTicksFollowTheFakeClock(t *testing.T) {
	env, _ := startProbe(t, Config{Configuration: []byte("tick_ms=1000"), Clock: NewFakeClock(time.Unix(1_700_000_000, 0))}, 2)
	env.Advance(3500 * time.Millisecond)
	if got, _ := env.Metric("probe.ticks"); got != 6 {
		t.Errorf("probe.ticks = %d after 3.5 s on 2 workers with a 1 s period, want 6", got)
	}
}

func TestConfigureFalseRejectsTheConfig(t *testing.T) {
	env, err := NewEnv(Config{Module: readModule(t, "probe.wasm"), Configuration: []byte("reject")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.StartVM(); err == nil || !strings.Contains(err.Error(), "proxy_on_configure returned false") {
		t.Fatalf("StartVM error = %v", err)
	}
}

func TestTrapFailsTheVMForLaterStreams(t *testing.T) {
	tests := []struct {
		profile Profile
		// Under Envoy 1.33 a Go panic cannot print its message: the runtime
		// sleeps (poll_oneoff, ENOSYS) while freezing the world and dies in a
		// nested throw, so only the goroutine trace names the culprit.
		wantLog string
	}{
		{profile: Envoy133, wantLog: "main.(*stream).OnHttpRequestHeaders"},
		{profile: CppHostCurrent, wantLog: "probe: panic requested"},
	}
	for _, tc := range tests {
		t.Run(tc.profile.String(), func(t *testing.T) {
			env, vms := startProbe(t, Config{Profile: tc.profile}, 1)
			res := vms[0].RoundTrip(probe("panic"), okUpstream)
			if res.Status != 503 || res.Err == nil || res.Upstream != nil {
				t.Fatalf("trapped stream: status %d err %v", res.Status, res.Err)
			}
			if !strings.Contains(fmt.Sprint(env.Logs()), tc.wantLog) {
				t.Errorf("%q is missing from the guest's logs: %v", tc.wantLog, env.Logs())
			}
			res = vms[0].RoundTrip(probe(""), okUpstream)
			if !errors.Is(res.Err, ErrVMFailed) || res.Status != 503 {
				t.Fatalf("later stream: status %d err %v, want 503 and ErrVMFailed", res.Status, res.Err)
			}
		})
	}
}

func TestPropertiesUseEnvoyNames(t *testing.T) {
	_, vms := startProbe(t, Config{Name: "my-plugin", RootID: "my-root"}, 1)
	tests := []struct{ property, want string }{
		{"source.address", "203.0.113.7:51000"},
		{"source.port", "51000"},
		{"request.path", "/probe?x=1"},
		{"request.url_path", "/probe"},
		{"request.method", "GET"},
		{"request.host", "api.example.com"},
		{"plugin_name", "my-plugin"},
		{"plugin_root_id", "my-root"},
		{"route_name", "error: error status returned by host: not found"},
	}
	for _, tc := range tests {
		t.Run(tc.property, func(t *testing.T) {
			req := probe("property", [2]string{"x-probe-property", tc.property})
			req.Path = "/probe?x=1"
			res := vms[0].RoundTrip(req, okUpstream)
			if res.Upstream == nil {
				t.Fatalf("%+v", res)
			}
			if got, _ := res.Upstream.Headers.Get("x-probe-value"); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.property, got, tc.want)
			}
		})
	}
}

func TestHeaderMapSerializationRoundTrips(t *testing.T) {
	h := Headers{{":path", "/a"}, {"x", ""}, {"y", strings.Repeat("v", 300)}}
	got, ok := deserializeHeaders(serializeHeaders(h))
	if !ok || len(got) != len(h) {
		t.Fatalf("got %v %v", got, ok)
	}
	for i := range h {
		if got[i] != h[i] {
			t.Errorf("pair %d: %q, want %q", i, got[i], h[i])
		}
	}
	big := make(Headers, maxMapPairs+1)
	for i := range big {
		big[i] = [2]string{"k" + strconv.Itoa(i), "v"}
	}
	if got, ok := deserializeHeaders(serializeHeaders(big)); !ok || len(got) != 0 {
		t.Errorf("a map over %d pairs must parse as empty, got %d pairs", maxMapPairs, len(got))
	}
}

func FuzzDeserializeHeaders(f *testing.F) {
	f.Add(serializeHeaders(Headers{{":path", "/"}, {"a", "b"}}))
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'a', 'x', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		// PairsUtil::toPairs accepts only an exact encoding: whatever it
		// decodes to a non-empty map serializes back to the same bytes.
		if h, _ := deserializeHeaders(b); len(h) > 0 && !bytes.Equal(serializeHeaders(h), b) {
			t.Fatalf("%q decoded to %v, which encodes differently", b, h)
		}
	})
}
