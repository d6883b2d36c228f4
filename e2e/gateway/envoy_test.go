package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
)

// Tests of the Envoy behaviour the gateway takes from the e2e host: the
// canary and configuration pushes, request sanitization, held response
// bodies and stream resets, seen on raw sockets.

// probeModule is the host's test plugin (e2e/testplugins/probe): each
// request's x-probe-action makes it exercise one part of the ABI.
func probeModule(t *testing.T) []byte {
	t.Helper()
	m, err := os.ReadFile("../../build/probe.wasm")
	if err != nil {
		t.Fatalf("%v: run `make build` first", err)
	}
	return m
}

func metric(t *testing.T, g *Gateway, name string) uint64 {
	t.Helper()
	v, ok := g.Env().Metric(name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return v
}

func TestStartRunsTheCanaryAndAConfigurationPushAsEnvoyDoes(t *testing.T) {
	_, upURL := newUpstream(t)
	g := startWith(t, upURL, Options{Module: probeModule(t), Config: []byte("tick_ms=1000")})
	// The canary, two workers, then the push: its canary and a second root
	// context per worker, the first one shut down.
	if starts, done := metric(t, g.g, "probe.starts"), metric(t, g.g, "probe.done"); starts != 6 || done != 2 {
		t.Errorf("probe.starts %d, probe.done %d; want 6 starts (canary, 2 workers, canary, 2 workers) and 2 shut down", starts, done)
	}

	// A configuration the plugin refuses fails in the canary, before any
	// worker starts.
	_, err := New(Options{Module: probeModule(t), Config: []byte("reject"), Workers: 2})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "canary") || len(ce.Messages) != 1 || ce.Messages[0] != "probe: configuration rejected" {
		t.Fatalf("New with a rejected configuration: %v", err)
	}
}

func TestReloadPushesANewPolicyWhileTrafficFlows(t *testing.T) {
	g, _ := start(t)
	c := dial(t, g.addr)
	br := bufio.NewReader(c)
	get := "GET /echo/a HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n"
	if resp, _ := roundTrip(t, c, br, "GET /download/3 HTTP/1.1\r\nhost: x\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("before the reload: %d", resp.StatusCode)
	}
	strict := []byte(`{"routes": [{"name": "upload", "match": {"path": "/upload", "methods": ["POST"]}, "auth": "none"}]}`)
	tests := []struct {
		name        string
		config      []byte
		wantChanged bool
		wantErr     string
		wantStatus  int
	}{
		{name: "a policy the plugin refuses changes nothing", config: []byte(`{"routes": [{"name": "a"}]}`),
			wantErr: "routes[0].match", wantStatus: 200},
		{name: "the same bytes are no update", config: []byte(policy), wantStatus: 200},
		{name: "a new policy applies to the next request on an open connection", config: strict, wantChanged: true, wantStatus: 404},
		{name: "pushing it again changes nothing", config: strict, wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changed, err := g.g.Reload(tc.config)
			if changed != tc.wantChanged || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Reload: changed %v, %v; want changed %v and an error with %q", changed, err, tc.wantChanged, tc.wantErr)
			}
			if resp, body := roundTrip(t, c, br, strings.Replace(get, "/a", "/download/3", 1)); resp.StatusCode != tc.wantStatus {
				t.Errorf("GET /download/3: %d %s, want %d", resp.StatusCode, body, tc.wantStatus)
			}
		})
	}
}

// rawRequestHead sends raw to a gateway in front of a raw upstream and
// returns the request head the upstream received.
func rawRequestHead(t *testing.T, opts Options, raw string) string {
	t.Helper()
	upURL, heads := rawUpstream(t, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	g := startWith(t, upURL, opts)
	c := dial(t, g.addr)
	if resp, body := roundTrip(t, c, bufio.NewReader(c), raw); resp.StatusCode != 204 {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	return <-heads
}

func TestRequestsAreSanitizedAsEnvoysConnectionManagerDoes(t *testing.T) {
	const raw = "GET /echo/s HTTP/1.1\r\nhost: x\r\nx-request-id: client-id\r\nx-forwarded-for: 203.0.113.9\r\n" +
		"x-forwarded-proto: https\r\nx-envoy-retry-on: 5xx\r\nx-envoy-downstream-service-node: n\r\n\r\n"
	tests := []struct {
		name string
		opts Options
		// want and wantNot are the upstream's header lines that must and
		// must not be there.
		want, wantNot []string
	}{
		{name: "use_remote_address off, as in envoy/envoy.yaml",
			want: []string{"x-request-id: client-id", "x-forwarded-for: 203.0.113.9", "x-forwarded-proto: https",
				"x-envoy-downstream-service-node: n"},
			wantNot: []string{"x-envoy-retry-on", "x-envoy-external-address"}},
		{name: "use_remote_address on: an edge request", opts: Options{UseRemoteAddress: true},
			want:    []string{"x-forwarded-for: 203.0.113.9,127.0.0.1", "x-forwarded-proto: http", "x-envoy-external-address: 127.0.0.1"},
			wantNot: []string{"x-request-id: client-id", "x-envoy-retry-on", "x-envoy-downstream-service-node"}},
	}
	uuid := regexp.MustCompile(`\r\nx-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\r\n`)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			head := rawRequestHead(t, tc.opts, raw)
			for _, w := range tc.want {
				if !strings.Contains(head, "\r\n"+w+"\r\n") {
					t.Errorf("upstream head lacks %q:\n%s", w, head)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(head, "\r\n"+w) {
					t.Errorf("upstream head has %q:\n%s", w, head)
				}
			}
			if tc.opts.UseRemoteAddress && !uuid.MatchString(head) {
				t.Errorf("an edge request gets a new x-request-id:\n%s", head)
			}
		})
	}
	// Without one, the request gets a UUID either way.
	if head := rawRequestHead(t, Options{}, "GET /echo/s HTTP/1.1\r\nhost: x\r\n\r\n"); !uuid.MatchString(head) {
		t.Errorf("no x-request-id added:\n%s", head)
	}
}

// readSome reads from c for at most d and returns what came, and whether the
// peer closed the connection.
func readSome(c net.Conn, br *bufio.Reader, d time.Duration) (string, bool) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer func() { _ = c.SetReadDeadline(time.Now().Add(20 * time.Second)) }()
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := br.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return string(got), !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
}

func TestPausedResponseBodyIsHeldUntilThePluginContinues(t *testing.T) {
	_, upURL := newUpstream(t)
	g := startWith(t, upURL, Options{Module: probeModule(t), Config: []byte("tick_ms=1000"),
		Clock: host.NewFakeClock(time.Unix(1_700_000_000, 0))})
	// The start's push added a newline to the configuration, which the
	// probe's tick_ms does not parse: push it again as written.
	if err := g.g.Env().UpdateConfiguration([]byte("tick_ms=1000")); err != nil {
		t.Fatal(err)
	}
	c := dial(t, g.addr)
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "GET /echo/held HTTP/1.1\r\nhost: x\r\nx-probe-action: hold-response\r\n\r\n")
	head := rawHead(t, br)
	if !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("response head %q", head)
	}
	// The plugin paused the last chunk and resumes it on its next tick:
	// until then, nothing of the body (nor its end) reaches the client.
	if got, closed := readSome(c, br, 300*time.Millisecond); got != "" || closed {
		t.Fatalf("before the plugin continued: %q (closed %v), want nothing", got, closed)
	}
	var body string
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(body, "GET /echo/held"); {
		if time.Now().After(deadline) {
			t.Fatalf("body %q after the ticks; want the upstream's", body)
		}
		g.g.Env().Advance(time.Second)
		got, _ := readSome(c, br, 50*time.Millisecond)
		body += got
	}
}

func TestStreamsThePluginResetsAreResetOnTheWire(t *testing.T) {
	up, upURL := newUpstream(t)
	probe := startWith(t, upURL, Options{Module: probeModule(t)})
	small := startWith(t, upURL, Options{Module: probeModule(t), BufferLimit: 4})
	tests := []struct {
		name string
		g    *gw
		raw  string
		// wantHead is the start of what the client gets before the close:
		// nothing, or response headers already sent.
		wantHead     string
		wantUpstream int
		// wantLog is the access-log line's start.
		wantLog string
	}{
		{name: "proxy_close_stream on the request", g: probe,
			raw:     "GET /echo/r HTTP/1.1\r\nhost: x\r\nx-probe-action: close\r\nx-probe-stream: 0\r\n\r\n",
			wantLog: "GET /echo/r 0 - route=- details=stream_reset"},
		{name: "a local reply once the response headers went out", g: probe,
			raw: "GET /echo/late HTTP/1.1\r\nhost: x\r\nx-probe-action: reply-on-response-body\r\n\r\n", wantHead: "HTTP/1.1 200 OK\r\n", wantUpstream: 1,
			wantLog: "GET /echo/late 200 - route=- details=stream_reset"},
		{name: "a held response over the buffer limit, its headers already out", g: small,
			raw: "GET /echo/big HTTP/1.1\r\nhost: x\r\nx-probe-action: hold-response\r\n\r\n", wantHead: "HTTP/1.1 200 OK\r\n", wantUpstream: 1,
			wantLog: "GET /echo/big 200 - route=- details=stream_reset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			c := dial(t, tc.g.addr)
			br := bufio.NewReader(c)
			_, _ = io.WriteString(c, tc.raw)
			got, closed := readSome(c, br, 5*time.Second)
			if !closed || !strings.HasPrefix(got, tc.wantHead) || (tc.wantHead == "" && got != "") {
				t.Fatalf("client got %q (closed %v); want %q, then the connection's end", got, closed, tc.wantHead)
			}
			if tc.wantHead != "" && strings.Contains(got, "GET /echo/") {
				t.Errorf("the body reached the client: %q", got)
			}
			if n := up.count() - before; n != tc.wantUpstream {
				t.Errorf("%d requests reached the upstream, want %d", n, tc.wantUpstream)
			}
			if !tc.g.logs.waitFor(tc.wantLog) {
				t.Errorf("no access-log line %q", tc.wantLog)
			}
		})
	}
}

func TestReloadLetsRequestsInFlightFinishOnTheOldPolicy(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/echo/slow" {
			close(arrived)
			<-release
		}
		_, _ = io.WriteString(w, "upstream")
	}))
	t.Cleanup(slow.Close)
	g := startWith(t, slow.URL, Options{})
	inFlight := dial(t, g.addr)
	_, _ = io.WriteString(inFlight, "GET /echo/slow HTTP/1.1\r\nhost: x\r\n\r\n")
	<-arrived

	if changed, err := g.g.Reload([]byte(`{"routes": []}`)); !changed || err != nil {
		t.Fatalf("Reload: %v %v", changed, err)
	}
	c := dial(t, g.addr)
	if resp, _ := roundTrip(t, c, bufio.NewReader(c), "GET /echo/new HTTP/1.1\r\nhost: x\r\n\r\n"); resp.StatusCode != 404 {
		t.Errorf("a request after the reload: %d, want 404 from the new policy", resp.StatusCode)
	}
	close(release)
	if resp, body := readResponse(t, bufio.NewReader(inFlight)); resp.StatusCode != 200 || body != "upstream" {
		t.Errorf("the request in flight: %d %q, want the old policy's 200", resp.StatusCode, body)
	}
	// Once its last stream ended, the old configuration's root context is
	// shut down in every worker.
	if !g.logs.waitFor("GET /echo/slow 200") {
		t.Fatal("no access-log line for the request in flight")
	}
	for _, vm := range g.g.vms {
		if n := vm.RootContexts(); n != 1 {
			t.Errorf("worker %d holds %d root contexts, want the new one only", vm.Worker(), n)
		}
	}
}

func TestARequestBufferedPastTheLimitIs413(t *testing.T) {
	_, upURL := newUpstream(t)
	g := startWith(t, upURL, Options{Module: probeModule(t), BufferLimit: 4})
	c := dial(t, g.addr)
	// The probe buffers the whole body ("buffer"): past 4 bytes, Envoy
	// answers 413 without calling the filter again.
	resp, body := roundTrip(t, c, bufio.NewReader(c), "POST /upload HTTP/1.1\r\nhost: x\r\nx-probe-action: buffer\r\ncontent-length: 8\r\n\r\nabcdefgh")
	if resp.StatusCode != 413 || body != "Payload Too Large" {
		t.Errorf("got %d %q, want 413 Payload Too Large", resp.StatusCode, body)
	}
	if !g.logs.waitFor("POST /upload 413 allowed route=- details=request_payload_too_large") {
		t.Error("no access-log line for the 413")
	}
}
