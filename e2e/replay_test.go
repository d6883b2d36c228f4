package e2e

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// floorScenario is sc's host-call floor: replayplugin.wasm configured with
// the host calls one of sc's streams made in plugin.wasm (after a few
// streams, so caches are as warm as sc keeps them), on the same request and
// response. It also returns what that stream did and the proxy_* calls the
// plugin made in it, by function.
func floorScenario(t testing.TB, sc streamScenario) (streamScenario, *host.Result, map[string]uint64) {
	t.Helper()
	vm := sc.start(t, nil)
	const warm = 3
	for i := 0; i < warm; i++ {
		sc.roundTrip(t, vm, i)
	}
	req := sc.requests[warm%len(sc.requests)]
	var res *host.Result
	var calls map[string]uint64
	script, err := vm.Record(func() { res, calls = stream(t, vm, req, sc.response()) })
	if err != nil {
		t.Fatalf("%s: recording a stream: %v", sc.name, err)
	}
	raw, err := json.Marshal(script)
	if err != nil {
		t.Fatal(err)
	}
	floor := sc
	floor.name, floor.module, floor.config, floor.prime = sc.name+"-host-calls", "replayplugin.wasm", string(raw), 0
	floor.requests = []host.Request{req}
	return floor, res, calls
}

// The host-call floor is only a floor if the replay makes the calls the
// plugin made: on each scenario, each stream of the replay makes the same
// proxy_* calls, by function and count, as the recorded stream of
// apiguard, and the client and the upstream see the same stream.
func TestReplayMakesTheHostCallsOfTheStream(t *testing.T) {
	for _, sc := range streamScenarios() {
		if sc.module != "plugin.wasm" {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			floor, want, wantCalls := floorScenario(t, sc)
			replay := floor.start(t, nil)
			for i := 0; i < 2; i++ {
				got, gotCalls := stream(t, replay, floor.requests[0], floor.response())
				if len(gotCalls) == 0 || !maps.Equal(gotCalls, wantCalls) {
					t.Fatalf("stream %d: the replay called %v, apiguard %v", i, gotCalls, wantCalls)
				}
				if got.Status != want.Status || !slices.Equal(got.Headers, want.Headers) || string(got.Body) != string(want.Body) {
					t.Fatalf("stream %d: the client saw %d %v and %d body bytes from the replay, %d %v and %d from apiguard", i,
						got.Status, got.Headers, len(got.Body), want.Status, want.Headers, len(want.Body))
				}
				if (got.Upstream == nil) != (want.Upstream == nil) {
					t.Fatalf("stream %d: reached the upstream: %t from the replay, %t from apiguard", i, got.Upstream != nil, want.Upstream != nil)
				}
				if got.Upstream != nil && !slices.Equal(withoutRequestID(got.Upstream.Headers), withoutRequestID(want.Upstream.Headers)) {
					t.Fatalf("stream %d: the upstream got %v from the replay, %v from apiguard", i, got.Upstream.Headers, want.Upstream.Headers)
				}
			}
		})
	}
}

// stream runs one stream and returns what it did and the proxy_* host
// calls it made, by function.
func stream(t testing.TB, vm *host.VM, req host.Request, resp *host.Response) (*host.Result, map[string]uint64) {
	t.Helper()
	before := vm.HostCallsByName()
	res := vm.RoundTrip(req, func(*host.UpstreamRequest) *host.Response { return resp })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	calls := map[string]uint64{}
	for name, n := range vm.HostCallsByName() {
		if d := n - before[name]; d > 0 && strings.HasPrefix(name, "proxy_") {
			calls[name] = d
		}
	}
	return res, calls
}

// withoutRequestID is headers without the request id Envoy makes up for
// each stream.
func withoutRequestID(headers host.Headers) host.Headers {
	return slices.DeleteFunc(slices.Clone(headers), func(kv [2]string) bool { return kv[0] == "x-request-id" })
}
