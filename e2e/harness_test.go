package e2e

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

var (
	modulesMu sync.Mutex
	modules   = map[string][]byte{}
)

// module reads a built module once per test binary.
func module(t testing.TB, name string) []byte {
	t.Helper()
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if b, ok := modules[name]; ok {
		return b
	}
	b, err := os.ReadFile("../build/" + name)
	if err != nil {
		t.Fatalf("%v: run `make build` first", err)
	}
	modules[name] = b
	return b
}

// apiGateway is apiguard loaded in the host with one configuration, and an
// upstream that records what reached it.
type apiGateway struct {
	t   testing.TB
	env *host.Env
	vms []*host.VM
}

type option func(*host.Config)

func withProfile(p host.Profile) option { return func(c *host.Config) { c.Profile = p } }

// startGateway loads config into workers VMs and fails the test, with the
// plugin's logs, if the plugin refuses it.
func startGateway(t testing.TB, config string, workers int, opts ...option) *apiGateway {
	t.Helper()
	env, vms, err := load(t, "plugin.wasm", config, workers, opts...)
	if err != nil {
		env.WriteLogs(os.Stderr)
		t.Fatalf("plugin refused the configuration: %v", err)
	}
	return &apiGateway{t: t, env: env, vms: vms}
}

func load(t testing.TB, name, config string, workers int, opts ...option) (*host.Env, []*host.VM, error) {
	t.Helper()
	cfg := host.Config{Module: module(t, name), Name: "apiguard", RootID: "apiguard", VMID: "apiguard", Configuration: []byte(config)}
	for _, o := range opts {
		o(&cfg)
	}
	watchLogs(&cfg)
	env, err := host.NewEnv(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Close)
	// Envoy's main thread loads every new configuration into a canary VM
	// before any worker gets it.
	if err := env.Canary(); err != nil {
		return env, nil, err
	}
	var vms []*host.VM
	for i := 0; i < workers; i++ {
		vm, err := env.StartVM()
		if err != nil {
			return env, nil, err
		}
		vms = append(vms, vm)
	}
	// Then a configuration push that changes only the JSON's bytes, as a
	// control plane re-serializing it does: Envoy keys plugins by their
	// configuration's bytes, so every worker VM gets a second root context
	// and the first one is shut down. Stories then run on the second.
	if err := env.UpdateConfiguration([]byte(config + "\n")); err != nil {
		return env, vms, err
	}
	return env, vms, nil
}

// upstream answers 200 with a small JSON body, like an API would.
func upstream(*host.UpstreamRequest) *host.Response {
	return &host.Response{Status: 200, Headers: host.Headers{{"content-type", "application/json"}}, Body: []byte(`{"ok":true}`)}
}

// request builds a request from a method, a raw :path and header pairs.
func request(method, path string, headerPairs ...string) host.Request {
	req := host.Request{Method: method, Path: path}
	for i := 0; i+1 < len(headerPairs); i += 2 {
		req.Headers.Add(headerPairs[i], headerPairs[i+1])
	}
	return req
}

// send runs a request on worker 0 and fails the test on a trap.
func (g *apiGateway) send(req host.Request) *host.Result {
	g.t.Helper()
	return g.sendOn(0, req)
}

func (g *apiGateway) sendOn(worker int, req host.Request) *host.Result {
	g.t.Helper()
	res := g.vms[worker].RoundTrip(req, upstream)
	if res.Err != nil {
		g.env.WriteLogs(os.Stderr)
		g.t.Fatalf("%s %s: plugin failed: %v", req.Method, req.Path, res.Err)
	}
	return res
}

// problem is an RFC 9457 body as apiguard writes it.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// expectProblem checks a denial: status, problem+json body of the reason, and
// that nothing reached the upstream.
func expectProblem(t testing.TB, res *host.Result, status int, reason string) problem {
	t.Helper()
	if res.Status != status {
		t.Errorf("status %d, want %d (body %s)", res.Status, status, res.Body)
	}
	if res.Upstream != nil {
		t.Errorf("a denied request reached the upstream: %v", res.Upstream.Headers)
	}
	if ct, _ := res.Headers.Get("content-type"); ct != "application/problem+json" {
		t.Errorf("content-type %q, want application/problem+json", ct)
	}
	body := res.Body
	if len(body) == 0 && res.LocalReply != nil {
		// A HEAD request gets the reply's headers without its body (Envoy's
		// Utility::encodeLocalReply): read the document the plugin sent.
		if cl, _ := res.Headers.Get("content-length"); cl != strconv.Itoa(len(res.LocalReply.Body)) {
			t.Errorf("content-length %q for a %d-byte reply", cl, len(res.LocalReply.Body))
		}
		body = res.LocalReply.Body
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if want := "urn:apiguard:problem:" + reason; p.Type != want || p.Status != status || p.Title == "" {
		t.Errorf("problem %+v, want type %s and status %d", p, want, status)
	}
	return p
}

func upstreamPath(res *host.Result) string {
	if res.Upstream == nil {
		return ""
	}
	p, _ := res.Upstream.Headers.Get(":path")
	return p
}

func logged(env *host.Env, substr string) bool {
	for _, l := range env.Logs() {
		if strings.Contains(l.Message, substr) {
			return true
		}
	}
	return false
}
