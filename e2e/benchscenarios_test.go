package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// startupScenario is a configuration loaded into a fresh VM, timed phase by
// phase, then its first request.
type startupScenario struct {
	name, module, config string
	request              host.Request
	status               int
}

func startupScenarios() []startupScenario {
	get := request("GET", "/api/v1/orders/42", "user-agent", "bench/1.0", "accept", "application/json")
	cached := request("GET", "/orders/42", append(bearer(idpKeys()["RS256"].Token(idpClaims())), "user-agent", "bench/1.0")...)
	return []startupScenario{
		{name: "null-plugin", module: "nullplugin.wasm", config: "{}", request: get, status: 200},
		{name: "apiguard-1000-routes", module: "plugin.wasm", config: manyRoutes(1000), request: manyRoutesRequest(1000), status: 200},
		{name: "apiguard-jwt-first-token", module: "plugin.wasm", config: ordersPolicy(), request: cached, status: 200},
	}
}

// manyRoutes is a configuration of n public routes, each with its own
// literal prefix and a path parameter.
func manyRoutes(n int) string {
	routes := make([]string, n)
	for i := range routes {
		routes[i] = fmt.Sprintf(`{"name": "svc%d", "match": {"path": "/svc%d/items/{id}", "methods": ["GET"]}, "auth": "none"}`, i, i)
	}
	return `{"routes": [` + strings.Join(routes, ",\n") + `]}`
}

// manyRoutesRequest asks for the last of manyRoutes(n).
func manyRoutesRequest(n int) host.Request {
	return request("GET", fmt.Sprintf("/svc%d/items/42", n-1), "user-agent", "bench/1.0", "accept", "application/json")
}

// The scenario file e2e/v8/host.mjs reads: the same streams as
// BenchmarkStream, with the request headers as the filter sees them after
// Envoy's sanitization, so the V8 host replays them without re-implementing
// Envoy's connection manager or minting tokens.
type (
	v8File struct {
		NowNs   int64             `json:"now_ns"`
		Modules map[string]string `json:"modules"`
		Streams []v8Stream        `json:"streams"`
		Startup []v8Startup       `json:"startup"`
	}
	v8Stream struct {
		Name     string      `json:"name"`
		Module   string      `json:"module"`
		Config   string      `json:"config"`
		Requests []v8Request `json:"requests"`
		Response v8Response  `json:"response"`
		Status   int         `json:"status"`
		// Prime is how many streams of the first request run first, each
		// answered 200 (streamScenario.prime).
		Prime int `json:"prime,omitempty"`
	}
	v8Startup struct {
		Name     string     `json:"name"`
		Module   string     `json:"module"`
		Config   string     `json:"config"`
		Request  v8Request  `json:"request"`
		Response v8Response `json:"response"`
		Status   int        `json:"status"`
	}
	v8Request struct {
		Headers host.Headers `json:"headers"`
		Source  string       `json:"source"`
		Body    []byte       `json:"body,omitempty"`
		// PeerURISAN is the first URI SAN of the client's verified
		// certificate on a mutual-TLS connection; "" for plaintext.
		PeerURISAN string `json:"peer_uri_san,omitempty"`
	}
	v8Response struct {
		Headers host.Headers `json:"headers"`
	}
)

// writeV8Scenarios writes the stream scenarios named in only (all if empty)
// and the start-up scenarios to path.
func writeV8Scenarios(t testing.TB, path string, streams []streamScenario, startups []startupScenario) {
	t.Helper()
	// An Env with the benchmarks' host configuration sanitizes the requests
	// as their VMs do.
	env, err := host.NewEnv(host.Config{Module: module(t, "nullplugin.wasm")})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	req := func(r host.Request) v8Request {
		h, source, err := env.FilterRequestHeaders(r)
		if err != nil {
			t.Fatalf("%s %s: %v", r.Method, r.Path, err)
		}
		v := v8Request{Headers: h, Source: source, Body: r.Body}
		if r.TLS != nil && r.TLS.Peer != nil && len(r.TLS.Peer.URISANs) > 0 {
			v.PeerURISAN = r.TLS.Peer.URISANs[0]
		}
		return v
	}
	resp := func(r *host.Response) v8Response {
		return v8Response{Headers: append(host.Headers{{":status", fmt.Sprint(r.Status)}}, r.Headers...)}
	}
	f := v8File{NowNs: benchNow.UnixNano(), Modules: map[string]string{}, Streams: []v8Stream{}, Startup: []v8Startup{}}
	for _, name := range []string{"plugin.wasm", "nullplugin.wasm", "replayplugin.wasm"} {
		abs, err := filepath.Abs("../build/" + name)
		if err != nil {
			t.Fatal(err)
		}
		f.Modules[name] = abs
	}
	for _, sc := range streams {
		s := v8Stream{Name: sc.name, Module: sc.module, Config: sc.config, Response: resp(sc.response()), Status: sc.status, Prime: sc.prime}
		for _, r := range sc.requests {
			s.Requests = append(s.Requests, req(r))
		}
		f.Streams = append(f.Streams, s)
	}
	for _, su := range startups {
		f.Startup = append(f.Startup, v8Startup{Name: su.name, Module: su.module, Config: su.config,
			Request: req(su.request), Response: resp(benchResponse), Status: su.status})
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWriteBenchScenarios writes the scenario file for `make bench-v8`.
func TestWriteBenchScenarios(t *testing.T) {
	path := os.Getenv("APIGUARD_BENCH_SCENARIOS")
	if path == "" {
		t.Skip("writes the V8 host's scenario file when APIGUARD_BENCH_SCENARIOS names it (make bench-v8)")
	}
	scenarios := streamScenarios()
	writeV8Scenarios(t, path, withFloors(scenarios, floorScenarios(t, scenarios)), startupScenarios())
}
