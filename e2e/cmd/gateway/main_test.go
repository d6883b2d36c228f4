package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const wasm = "../../../build/plugin.wasm"

func writeConfig(t *testing.T, config string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(p, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDemoServesTheExamplePolicy is `make run`: the shipped example policy in
// front of the built-in upstream, stopped by cancelling (Ctrl-C).
func TestDemoServesTheExamplePolicy(t *testing.T) {
	var out bytes.Buffer
	addr, stop := serve(t, flags{configPath: "../../../envoy/apiguard.json", wasmPath: wasm, listen: "127.0.0.1:0",
		workers: 2, logLevel: "warn", profile: "envoy-1.33", demo: true, clusters: clusterFlags{}}, &out)
	_, token, _ := strings.Cut(out.String(), "TOKEN=")
	token, _, _ = strings.Cut(token, "\n")
	tests := []struct {
		path       string
		token      string
		wantStatus int
		wantBody   string
	}{
		{path: "/healthz", wantStatus: 200, wantBody: `"upstream":"demo"`},
		{path: "/api/v1/orders/42?x=1", token: token, wantStatus: 200, wantBody: `"x-auth-sub":"demo-user"`},
		{path: "/api/v1/orders/42", wantStatus: 401, wantBody: "urn:apiguard:problem:token_missing"},
		{path: "/admin", wantStatus: 404, wantBody: "urn:apiguard:problem:no_route"},
		{path: "/public//docs;jsessionid=1", wantStatus: 200, wantBody: `"path":"/public/docs"`},
		{path: "/public/%zz", wantStatus: 400, wantBody: "urn:apiguard:problem:bad_path"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.URL.Opaque = tc.path // sent as written, invalid escapes included
		if tc.token != "" {
			req.Header.Set("authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
			t.Errorf("GET %s: %d %s, want %d with %s", tc.path, resp.StatusCode, body, tc.wantStatus, tc.wantBody)
		}
	}
	stop()
}

// TestDemoRateLimitsALoop: a client looping on the example policy's
// public route (per peer: 5 a second, a burst of 10) is refused 429 with
// Retry-After and the RateLimit fields, as curl in a loop shows.
func TestDemoRateLimitsALoop(t *testing.T) {
	addr, stop := serve(t, flags{configPath: "../../../envoy/apiguard.json", wasmPath: wasm, listen: "127.0.0.1:0",
		workers: 2, logLevel: "warn", profile: "envoy-1.33", demo: true, clusters: clusterFlags{}}, io.Discard)
	defer stop()
	var last *http.Response
	for i := 0; i < 40; i++ {
		resp, err := http.Get("http://" + addr + "/public/docs")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if last = resp; resp.StatusCode == 429 {
			break
		}
		if resp.Header.Get("ratelimit-policy") != `"per-peer";q=5;w=1` {
			t.Fatalf("request %d: %d, RateLimit-Policy %q", i+1, resp.StatusCode, resp.Header.Get("ratelimit-policy"))
		}
	}
	if last.StatusCode != 429 || last.Header.Get("retry-after") != "1" || !strings.HasPrefix(last.Header.Get("ratelimit"), `"per-peer";r=0;t=`) {
		t.Errorf("after the loop: %d, Retry-After %q, RateLimit %q", last.StatusCode, last.Header.Get("retry-after"), last.Header.Get("ratelimit"))
	}
}

// serve runs the gateway with f until the returned stop, which fails the
// test if it does not shut down cleanly.
func serve(t *testing.T, f flags, out io.Writer) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc, errc := make(chan string, 1), make(chan error, 1)
	go func() { errc <- run(ctx, f, out, func(a string) { addrc <- a }) }()
	select {
	case addr = <-addrc:
	case err := <-errc:
		cancel()
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("gateway did not start")
	}
	return addr, func() {
		t.Helper()
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("shutdown: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("gateway did not stop")
		}
	}
}

// TestTestFlagRunsPolicyTestsHeadlessly is a policy author's CI step:
// `gateway -config policy.json -test cases.json` passes with the shipped
// files, and fails, with the table, when a case's expectation is wrong.
func TestTestFlagRunsPolicyTestsHeadlessly(t *testing.T) {
	tests := []struct {
		name, cases string
		wantErr     string
		wantOut     string
	}{
		{name: "the shipped policy's tests", cases: "../../../envoy/apiguard.test.json", wantOut: " passed, 0 failed\n"},
		{name: "a wrong expectation",
			cases:   writeConfig(t, `{"cases": [{"name": "health needs a token", "request": {"method": "GET", "path": "/healthz"}, "expect": {"status": 401, "reason": "token_missing"}}]}`),
			wantErr: "1 of 1 cases failed", wantOut: "health needs a token  401 token_missing  200  FAIL\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), flags{configPath: "../../../envoy/apiguard.json", wasmPath: wasm, testPath: tc.cases,
				logLevel: "warn", profile: "envoy-1.33", clusters: clusterFlags{}}, &out, nil)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("run = %v, want error %q", err, tc.wantErr)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("output:\n%s\nwant it to contain %q", out.String(), tc.wantOut)
			}
		})
	}
}
