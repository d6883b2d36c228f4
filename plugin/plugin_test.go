package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/filters/verdict"
)

// These glue tests use the SDK's own emulator natively; e2e runs the same
// code as plugin.wasm in the Envoy-faithful host.

func startEmulated(t *testing.T, config string) proxytest.HostEmulator {
	t.Helper()
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config)))
	t.Cleanup(reset)
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatalf("plugin refused %s: %v", config, host.GetCriticalLogs())
	}
	return host
}

func TestGlueAppliesTheDecision(t *testing.T) {
	host := startEmulated(t, `{"routes": [{"name": "a", "match": {"path": "/a/**"}, "auth": "none"}]}`)
	tests := []struct {
		name       string
		path       string
		wantAction types.Action
		wantStatus uint32
		wantPath   string
	}{
		{name: "allowed, path unchanged", path: "/a/b", wantAction: types.ActionContinue, wantPath: "/a/b"},
		{name: "allowed, path normalized for the upstream", path: "/a//./b;x", wantAction: types.ActionContinue, wantPath: "/a/b"},
		{name: "denied with a local reply", path: "/b", wantAction: types.ActionPause, wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := host.InitializeHttpContext()
			act := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", tc.path}, {":authority", "x"}}, true)
			if act != tc.wantAction {
				t.Fatalf("action %v, want %v", act, tc.wantAction)
			}
			reply := host.GetSentLocalResponse(id)
			if tc.wantStatus != 0 {
				if reply == nil || reply.StatusCode != tc.wantStatus {
					t.Fatalf("local reply %+v, want %d", reply, tc.wantStatus)
				}
				var body map[string]any
				if err := json.Unmarshal(reply.Data, &body); err != nil || body["type"] != "urn:apiguard:problem:no_route" {
					t.Errorf("problem body %s (%v)", reply.Data, err)
				}
				return
			}
			if reply != nil {
				t.Fatalf("unexpected local reply %+v", reply)
			}
			for _, h := range host.GetCurrentRequestHeaders(id) {
				if h[0] == ":path" && h[1] != tc.wantPath {
					t.Errorf(":path %q, want %q", h[1], tc.wantPath)
				}
			}
			host.CompleteHttpContext(id)
		})
	}
}

func TestGlueRefusesBadConfigAndLogsEveryError(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(`{"routes": [{"name": "a"}], "x": 1}`)))
	defer reset()
	if host.StartPlugin() != types.OnPluginStartStatusFailed {
		t.Fatal("bad config accepted")
	}
	logs := strings.Join(host.GetCriticalLogs(), "\n")
	for _, want := range []string{"routes[0].match: required", "routes[0].auth: required", "x: unknown field", "rejected with 3 error(s)"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

func TestProblemBodyIsValidJSONWithoutRequestData(t *testing.T) {
	d := verdict.Deny(internalError.Reason, `quote " and \ backslash`)
	var body map[string]any
	if err := json.Unmarshal(problemBody(nil, d), &body); err != nil {
		t.Fatalf("%s: %v", problemBody(nil, d), err)
	}
	if body["status"] != float64(500) || body["detail"] != d.Detail() || body["title"] == "" {
		t.Errorf("body %v", body)
	}
}

// TestProblemBodyListsViolationsAsJSON: member names in a violation's
// pointer come from the client, so each must come out as valid JSON that
// decodes to the same text (invalid UTF-8 replaced).
func TestProblemBodyListsViolationsAsJSON(t *testing.T) {
	pointers := []string{"/items/3/qty", "/a\"b\\c", "/\x00\x1f\x7f", "/\u2028\u2029", "/\xff", "/é"}
	denial := &verdict.Denial{}
	for _, p := range pointers {
		denial.Violations = append(denial.Violations, verdict.Violation{In: "body", Pointer: p, Rule: "maximum"})
	}
	d := verdict.DenyWith(verdict.RequestInvalid, denial)
	var body struct {
		Errors []struct{ In, Pointer, Rule string }
	}
	if err := json.Unmarshal(problemBody(nil, d), &body); err != nil {
		t.Fatalf("%q: %v", problemBody(nil, d), err)
	}
	if len(body.Errors) != len(pointers) {
		t.Fatalf("errors %+v", body.Errors)
	}
	for i, e := range body.Errors {
		if want := strings.ToValidUTF8(pointers[i], "\ufffd"); e.Pointer != want || e.In != "body" || e.Rule != "maximum" {
			t.Errorf("error %d: %+v, want pointer %q", i, e, want)
		}
	}
}

func TestDenialsCarryTheGRPCStatusAGRPCServerWouldAnswer(t *testing.T) {
	tests := []struct {
		status int
		want   int32
	}{
		{400, 3}, {401, 16}, {403, 7}, {404, 12}, {405, 12}, {429, 8}, {500, 13}, {503, 14},
	}
	for _, tc := range tests {
		if got := grpcStatus(tc.status); got != tc.want {
			t.Errorf("grpcStatus(%d) = %d, want %d", tc.status, got, tc.want)
		}
	}
}
