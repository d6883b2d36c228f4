package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestHangupReloadsThePolicyFile: edit the policy, send SIGHUP, and the
// running gateway applies it as Envoy applies a listener update.
func TestHangupReloadsThePolicyFile(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "upstream") }))
	defer up.Close()
	policy := writeConfig(t, `{"routes": [{"name": "docs", "match": {"path": "/docs"}, "auth": "none"}]}`)
	addr, stop := serve(t, flags{configPath: policy, wasmPath: wasm, listen: "127.0.0.1:0", upstream: up.URL,
		workers: 2, logLevel: "warn", profile: "envoy-1.33", clusters: clusterFlags{}}, io.Discard)
	status := func() int {
		resp, err := http.Get("http://" + addr + "/docs")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != 200 {
		t.Fatalf("GET /docs before the reload: %d", got)
	}
	if err := os.WriteFile(policy, []byte(`{"routes": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The signal is handled asynchronously: the new policy applies within moments.
	for deadline := time.Now().Add(10 * time.Second); status() != 404; {
		if time.Now().After(deadline) {
			t.Fatal("GET /docs still served 10 s after SIGHUP with a policy without it")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
}
