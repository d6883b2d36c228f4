package main

import (
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// TestAPanicWritingTheAuditRecordLosesOnlyTheRecord: proxy_on_log runs
// after the response went, so a panic there has no stream to fail closed
// and, as a trap, would fail every stream on the worker. It is logged once
// at error level with the route, and the context is cleaned for the next
// stream. The panic is the SDK emulator's: it indexes a property's first
// byte, so reading source.address set to "" panics inside the audit
// writer's host call, as a bug in the writer would.
func TestAPanicWritingTheAuditRecordLosesOnlyTheRecord(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().
		WithVMContext(&vmContext{}).
		WithPluginConfiguration([]byte(`{"audit": {}, "routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none"}]}`)).
		WithProperty([]string{"source", "address"}, []byte{}))
	t.Cleanup(reset)
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		t.Fatalf("plugin refused: %v", host.GetCriticalLogs())
	}
	for i := range 2 {
		id := host.InitializeHttpContext()
		if act := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/a"}, {":authority", "x"}}, true); act != types.ActionContinue {
			t.Fatalf("stream %d: action %v, want continue: %v", i, act, host.GetSentLocalResponse(id))
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("stream %d: proxy_on_log panicked: %v", i, r)
				}
			}()
			host.CompleteHttpContext(id)
		}()
	}
	var logged []string
	for _, l := range host.GetErrorLogs() {
		if strings.Contains(l, "audit record") {
			logged = append(logged, l)
		}
	}
	if len(logged) != 2 || !strings.Contains(logged[0], `route "a"`) || !strings.Contains(logged[0], "index out of range") {
		t.Errorf("error logs %q, want one per stream naming the route and the panic", host.GetErrorLogs())
	}
	if c := host.GetCriticalLogs(); len(c) > 0 {
		t.Errorf("critical logs %q: the response went, nothing failed closed", c)
	}
}
