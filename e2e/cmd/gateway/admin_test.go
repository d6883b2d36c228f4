package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// freeAddr is a loopback address nothing listens on, for -admin.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape reads an admin endpoint.
func scrape(t *testing.T, url string) (string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	return string(body), resp.Header
}

// series is one line of Prometheus text: a name, its labels as written
// ({} included), and its value.
type series struct {
	family string
	value  uint64
}

// promLine is Envoy's line for a counter or gauge: name{labels} value.
var promLine = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\} ([0-9]+)$`)

// parseProm reads Envoy's Prometheus text strictly: every family starts
// with its TYPE line, every sample belongs to the family announced last,
// families are not repeated. It returns the samples by "name{labels}".
func parseProm(t *testing.T, text string) map[string]series {
	t.Helper()
	out := map[string]series{}
	seen := map[string]bool{}
	family := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(name, " ")
			if typ != "counter" || seen[name] {
				t.Errorf("TYPE line %q: want each family once, as a counter", line)
			}
			family, seen[name] = name, true
			continue
		}
		m := promLine.FindStringSubmatch(line)
		if m == nil || m[1] != family {
			t.Errorf("line %q: not a sample of family %s", line, family)
			continue
		}
		v, _ := strconv.ParseUint(m[3], 10, 64)
		out[m[1]+"{"+m[2]+"}"] = series{family: m[1], value: v}
	}
	return out
}

// TestAdminServesThePrometheusSeriesEnvoyWould runs `make run`'s gateway with
// -admin, sends a scripted sequence and scrapes /stats/prometheus: the
// names Envoy gives the plugin's counters (the wasmcustom namespace
// stripped, no envoy_ prefix), the labels the shipped envoy.yaml's
// stats_tags extract, and the values the sequence counted; series of a
// route the sequence never matched are there, at zero, defined at start.
func TestAdminServesThePrometheusSeriesEnvoyWould(t *testing.T) {
	admin := freeAddr(t)
	var out bytes.Buffer
	addr, stop := serve(t, flags{configPath: "../../../envoy/apiguard.json", wasmPath: wasm, listen: "127.0.0.1:0",
		workers: 2, logLevel: "warn", profile: "envoy-1.33", demo: true, clusters: clusterFlags{},
		admin: admin, statsConfig: "../../../envoy/envoy.yaml"}, &out)
	defer stop()
	_, token, _ := strings.Cut(out.String(), "TOKEN=")
	token, _, _ = strings.Cut(token, "\n")
	forged := token[:len(token)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(token, "AA")]

	// One connection, so one worker, as Envoy keeps a connection on its
	// worker: the second request with the token finds it in that worker's
	// cache.
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	send := func(method, path, token string) int {
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, r := range []struct {
		method, path, token string
		status              int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/healthz", "", 200},
		{"GET", "/api/v1/orders/42", token, 200},
		{"PUT", "/api/v1/orders/42", token, 200},
		{"GET", "/api/v1/orders/42", "", 401},
		{"GET", "/api/v1/orders/42", forged, 401},
		{"GET", "/admin", "", 404},
	} {
		if got := send(r.method, r.path, r.token); got != r.status {
			t.Fatalf("%s %s: %d, want %d", r.method, r.path, got, r.status)
		}
	}
	// The per-peer rule (5 a second, a burst of 10) refuses a loop.
	docs := 0
	for limited := false; !limited && docs < 60; docs++ {
		limited = send("GET", "/public/docs", "") == 429
	}

	text, header := scrape(t, "http://"+admin+"/stats/prometheus")
	if ct := header.Get("content-type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("content-type %q", ct)
	}
	got := parseProm(t, text)
	want := map[string]uint64{
		`apiguard_route_allowed{route="health"}`:                         2,
		`apiguard_route_allowed{route="order"}`:                          2,
		`apiguard_route_denied{route="order"}`:                           2,
		`apiguard_route_allowed{route="orders"}`:                         0,
		`apiguard_route_denied{route="orders"}`:                          0,
		`apiguard_requests_denied{reason="token_missing"}`:               1,
		`apiguard_requests_denied{reason="token_signature"}`:             1,
		`apiguard_requests_denied{reason="no_route"}`:                    1,
		`apiguard_requests_denied{reason="rate_limited"}`:                1,
		`apiguard_requests_denied{reason="keys_unavailable"}`:            0,
		`apiguard_authn_verified{provider="idp"}`:                        2,
		`apiguard_authn_cache_hits{provider="idp"}`:                      1,
		`apiguard_authn_denied{reason="token_signature",provider="idp"}`: 1,
		`apiguard_authn_denied{reason="token_expired",provider="idp"}`:   0,
		`apiguard_ratelimit_limited{rule="per-peer"}`:                    1,
		`apiguard_ratelimit_allowed{rule="per-user"}`:                    2,
		`apiguard_ratelimit_errors{rule="per-peer"}`:                     0,
	}
	for s, v := range want {
		if g, ok := got[s]; !ok || g.value != v {
			t.Errorf("%s = %d (present %t), want %d", s, g.value, ok, v)
		}
	}
	// Every request the plugin saw is counted once: allowed, denied or
	// answered; the per-peer rule saw every request of the routes it
	// covers (not /healthz, whose rate_limit is "none").
	allowed, denied := got["apiguard_requests_allowed{}"].value, uint64(0)
	for _, v := range got {
		if v.family == "apiguard_requests_denied" {
			denied += v.value
		}
	}
	if total := uint64(7 + docs); allowed+denied != total {
		t.Errorf("allowed %d + denied %d, want the %d requests sent", allowed, denied, total)
	}
	if peer := got[`apiguard_ratelimit_allowed{rule="per-peer"}`].value + 1; peer != uint64(docs+4) {
		t.Errorf("per-peer allowed+limited %d, want %d", peer, docs+4)
	}
	if n := got[`apiguard_jwks_fetched{provider="idp"}`].value; n == 0 {
		t.Errorf("apiguard_jwks_fetched = 0: the remote JWKS was fetched")
	}
	for s := range got {
		if strings.HasPrefix(s, "wasmcustom") || strings.HasPrefix(s, "envoy_") || !strings.HasPrefix(s, "apiguard_") {
			t.Errorf("series %s: want the plugin's names, in their namespace, without envoy_", s)
		}
	}

	plain, _ := scrape(t, "http://"+admin+"/stats")
	if !strings.Contains(plain, "wasmcustom.apiguard.route.health.allowed: 2\n") {
		t.Errorf("/stats lacks the health route's full name and value:\n%s", plain)
	}
}
