package host

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// pausedCall starts a stream whose request waits for the probe's http call.
func pausedCall(t *testing.T, vm *VM, cluster, timeoutMS string) *Stream {
	t.Helper()
	s, err := vm.NewStream(StreamInfo{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Finish() })
	h := Headers{{":method", "GET"}, {":path", "/probe"}, {":authority", "a"}, {":scheme", "http"},
		{"x-probe-action", "call"}, {"x-probe-cluster", cluster}, {"x-probe-timeout", timeoutMS}}
	if act, err := s.RequestHeaders(h, true); act != Pause || err != nil {
		t.Fatalf("request headers: %v %v, want a pause for the call", act, err)
	}
	return s
}

func callSeen(t *testing.T, s *Stream) string {
	t.Helper()
	if act, err := s.Wait(5 * time.Second); act != Continue || err != nil {
		t.Fatalf("the call's callback did not resume the stream: %v %v", act, err)
	}
	v, _ := s.UpstreamRequestHeaders().Get("x-probe-call")
	return v
}

// TestHTTPCallTimeoutsFollowTheFakeClock: the call's deadline is on the host
// clock; Envoy's router answers a timeout with a 504 the plugin receives as a
// response, and a timeout of 0 is no timeout at all (Context::httpCall).
func TestHTTPCallTimeoutsFollowTheFakeClock(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
			_, _ = w.Write([]byte("late"))
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	env, vms := startProbe(t, Config{Clusters: map[string]string{"slow": hang.URL}, Clock: NewFakeClock(time.Unix(1_700_000_000, 0))}, 1)

	s := pausedCall(t, vms[0], "slow", "5000")
	env.Advance(4999 * time.Millisecond)
	if act, err := s.Wait(50 * time.Millisecond); err != ErrStalled {
		t.Fatalf("before the deadline: %v %v, want the stream still waiting", act, err)
	}
	env.Advance(time.Millisecond)
	if got := callSeen(t, s); got != "504 "+upstreamTimeoutBody {
		t.Errorf("timed-out call answered %q, want Envoy's 504", got)
	}

	s = pausedCall(t, vms[0], "slow", "0")
	env.Advance(time.Hour)
	if _, err := s.Wait(50 * time.Millisecond); err != ErrStalled {
		t.Fatalf("a call without timeout ended after an hour: %v", err)
	}
	release <- struct{}{}
	if got := callSeen(t, s); got != "200 late" {
		t.Errorf("call without timeout answered %q, want the late 200", got)
	}
}

// TestHTTPCallsSeeTheUpstreamAsItAnswered: no redirects followed, nothing
// decompressed (Envoy's async client does neither).
func TestHTTPCallsSeeTheUpstreamAsItAnswered(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/probe" && r.URL.Query().Get("followed") == "" {
			http.Redirect(w, r, "/probe?followed=1", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("followed"))
	}))
	defer srv.Close()
	gz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("accept-encoding=" + r.Header.Get("accept-encoding")))
	}))
	defer gz.Close()
	_, vms := startProbe(t, Config{Clusters: map[string]string{"redirect": srv.URL, "gzip": gz.URL}}, 1)
	tests := []struct{ cluster, want string }{
		{"redirect", "302 <a href=\"/probe?followed=1\">Found</a>.\n\n"},
		{"gzip", "200 accept-encoding="},
	}
	for _, tc := range tests {
		t.Run(tc.cluster, func(t *testing.T) {
			if got := callSeen(t, pausedCall(t, vms[0], tc.cluster, "5000")); got != tc.want {
				t.Errorf("x-probe-call = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHTTPCallToAClusterWithNoHealthyHost: AsyncClient::send fails inline, so
// proxy_http_call is INTERNAL_FAILURE and no callback ever runs.
func TestHTTPCallToAClusterWithNoHealthyHost(t *testing.T) {
	_, vms := startProbe(t, Config{Clusters: map[string]string{"empty": ""}}, 1)
	res := vms[0].RoundTrip(probe("call", [2]string{"x-probe-cluster", "empty"}), okUpstream)
	if res.Status != 503 || !strings.Contains(string(res.Body), "internal failure") {
		t.Fatalf("got %d %q, want the probe's 503 naming INTERNAL_FAILURE", res.Status, res.Body)
	}
}

// TestTicksDoNotCatchUp: Advance stops at every period instant and the clock
// shows it; a tick re-arms a period after it fired.
func TestTicksDoNotCatchUp(t *testing.T) {
	clock := NewFakeClock(time.Unix(1_700_000_000, 0))
	env, _ := startProbe(t, Config{Configuration: []byte("tick_ms=1000"), Clock: clock}, 1)
	env.Advance(61 * time.Second)
	if got, _ := env.Metric("probe.ticks"); got != 61 {
		t.Errorf("probe.ticks = %d after 61 s with a 1 s period, want 61", got)
	}
	if got, _ := env.Metric("probe.tick_gaps_ms"); got != 61*1000 {
		t.Errorf("the plugin saw %d ms pass over 61 ticks, want 61000: ticks fired at one instant", got)
	}
}

// TestHTTPCallResetAfterTheHeadersIsABrokenConnection: the async client's
// onFailure(Reset) reaches the plugin as (0, 0, 0).
func TestHTTPCallResetAfterTheHeadersIsABrokenConnection(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-length", "100")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	_, vms := startProbe(t, Config{Clusters: map[string]string{"flaky": srv.URL}}, 1)
	res := vms[0].RoundTrip(probe("call", [2]string{"x-probe-cluster", "flaky"}), okUpstream)
	if res.Status != 502 || string(res.Body) != "callout failed" {
		t.Fatalf("got %d %q, want the probe's answer to a call with no headers", res.Status, res.Body)
	}
}

// TestRouterRepliesToAGRPCCallAreGRPC: a timeout or a refused connection on
// a call whose content-type is application/grpc comes back as Envoy's router
// writes it for a gRPC request: 200, trailers-only, grpc-status 14 and the
// reason as grpc-message; any other call gets the plain 504 or 503.
func TestRouterRepliesToAGRPCCallAreGRPC(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		grpc   bool
		want   Headers
	}{
		{name: "grpc timeout", status: 504, body: upstreamTimeoutBody, grpc: true,
			want: Headers{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "14"}, {"grpc-message", "upstream request timeout"}}},
		{name: "grpc connect failure", status: 503, body: "refused", grpc: true,
			want: Headers{{":status", "200"}, {"content-type", "application/grpc"}, {"grpc-status", "14"}, {"grpc-message", "refused"}}},
		{name: "plain timeout", status: 504, body: upstreamTimeoutBody,
			want: Headers{{":status", "504"}, {"content-length", "24"}, {"content-type", "text/plain"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := localReply(tc.status, tc.body, tc.grpc)
			if len(r.headers) != len(tc.want) {
				t.Fatalf("headers %v, want %v", r.headers, tc.want)
			}
			for i := range tc.want {
				if r.headers[i] != tc.want[i] {
					t.Fatalf("headers %v, want %v", r.headers, tc.want)
				}
			}
			if tc.grpc && len(r.body) != 0 {
				t.Errorf("a trailers-only reply has a body: %q", r.body)
			}
		})
	}
}
