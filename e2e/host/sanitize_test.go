package host

import (
	"errors"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestSanitizeRequest(t *testing.T) {
	base := Headers{{":method", "GET"}, {":path", "/"}, {":authority", "a"}, {":scheme", "https"}}
	with := func(extra ...[2]string) Headers { return append(base.Clone(), extra...) }
	tests := []struct {
		name      string
		remote    bool
		internal  []netip.Prefix
		source    string
		in        Headers
		want      map[string]string // "" means absent, "uuid" a fresh UUID
		keepID    string
		wantLimit bool
	}{
		{name: "a request id is added when absent", in: base, want: map[string]string{"x-request-id": "uuid", "x-forwarded-proto": "https", "x-forwarded-for": ""}},
		{name: "a client's request id is kept without use_remote_address", in: with([2]string{"x-request-id", "abc"}),
			want: map[string]string{"x-request-id": "abc"}},
		{name: "an edge request gets a new id, XFF and the external address", remote: true, source: "203.0.113.7:1",
			in:   with([2]string{"x-request-id", "abc"}, [2]string{"x-forwarded-proto", "http"}, [2]string{"x-envoy-downstream-service-node", "n"}),
			want: map[string]string{"x-request-id": "uuid", "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https", "x-envoy-external-address": "203.0.113.7", "x-envoy-downstream-service-node": ""}},
		{name: "XFF is appended to", remote: true, source: "203.0.113.7:1", in: with([2]string{"x-forwarded-for", "198.51.100.1"}),
			want: map[string]string{"x-forwarded-for": "198.51.100.1,203.0.113.7"}},
		{name: "a peer in internal_address_config is internal and keeps its id", remote: true, internal: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			source: "10.0.0.1:1", in: with([2]string{"x-request-id", "abc"}),
			want: map[string]string{"x-envoy-internal": "true", "x-request-id": "abc", "x-envoy-external-address": ""}},
		{name: "an RFC 1918 peer is external by default since Envoy 1.33", remote: true, source: "10.0.0.1:1", in: with([2]string{"x-request-id", "abc"}),
			want: map[string]string{"x-envoy-internal": "", "x-request-id": "uuid", "x-envoy-external-address": "10.0.0.1"}},
		{name: "retry and timeout control headers are dropped", in: with([2]string{"x-envoy-retry-on", "5xx"}, [2]string{"x-envoy-upstream-rq-timeout-ms", "1"}),
			want: map[string]string{"x-envoy-retry-on": "", "x-envoy-upstream-rq-timeout-ms": ""}},
		{name: "101 headers are too many", in: func() Headers {
			h := base.Clone()
			for i := range 101 {
				h.Add("x-h"+strconv.Itoa(i), "v")
			}
			return h
		}(), wantLimit: true},
		{name: "60 KiB of headers is too much", in: with([2]string{"x-big", strings.Repeat("v", 60<<10)}), wantLimit: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := &Env{cfg: Config{UseRemoteAddress: tc.remote, InternalAddresses: tc.internal}}
			source := tc.source
			if source == "" {
				source = "203.0.113.7:51000"
			}
			out, status := env.SanitizeRequest(tc.in, source)
			if (status == 431) != tc.wantLimit {
				t.Fatalf("status %d, want 431: %v", status, tc.wantLimit)
			}
			for k, want := range tc.want {
				got, ok := out.Get(k)
				switch {
				case want == "uuid" && (!uuidRE.MatchString(got) || got == "abc"):
					t.Errorf("%s = %q, want a fresh UUID v4", k, got)
				case want == "" && ok:
					t.Errorf("%s = %q, want it absent", k, got)
				case want != "uuid" && want != "" && got != want:
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestOversizedHeadersNeverReachThePlugin: Envoy's codec answers 431; the
// plugin's context is first created in log().
func TestOversizedHeadersNeverReachThePlugin(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	req := probe("count", [2]string{"x-big", strings.Repeat("v", 61<<10)})
	res := vms[0].RoundTrip(req, func(*UpstreamRequest) *Response {
		t.Fatal("an oversized request reached the upstream")
		return nil
	})
	if res.Status != 431 || string(res.Body) != "Request Header Fields Too Large" || res.Err != nil {
		t.Fatalf("got %d %q %v", res.Status, res.Body, res.Err)
	}
	if _, _, ok := vms[0].env.SharedData("probe.count"); ok {
		t.Error("the plugin's request callback ran")
	}
}

// TestAContextFirstCreatedInLog: an earlier filter replied; the plugin sees
// on_context_create, on_log, on_done and on_delete, and reads the request
// and the reply in on_log.
func TestAContextFirstCreatedInLog(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	h := Headers{{":method", "GET"}, {":path", "/early"}, {":authority", "a"}, {":scheme", "http"}}
	res := vms[0].ReplyBeforeFilter(h, StreamInfo{}, &LocalReply{Status: 429, Body: []byte("slow down"), GRPCStatus: -1})
	if res.Err != nil || res.Status != 429 {
		t.Fatalf("got %d %v", res.Status, res.Err)
	}
	if seen, _ := res.Headers.Get("x-probe-response-seen"); seen != "" {
		t.Error("the plugin's response callback ran for a reply sent before it")
	}
	if got := res.FilterState["probe_log"]; got != "/early 429" {
		t.Errorf("on_log saw %q, want the request path and the reply status", got)
	}
}

func TestBodiesInChunksAndBufferLimits(t *testing.T) {
	_, vms := startProbe(t, Config{BufferLimit: 10}, 1)
	tests := []struct {
		name       string
		body       string
		chunk      int
		trailers   Headers
		wantStatus int
		wantSizes  string
	}{
		{name: "each chunk is a callback with the cumulative size while buffering", body: "abcdefgh", chunk: 3, wantStatus: 200, wantSizes: "3,6,8"},
		{name: "trailers end a buffered body", body: "abcd", chunk: 2, trailers: Headers{{"x-t", "1"}}, wantStatus: 200, wantSizes: "2,4"},
		{name: "buffering past the limit is 413", body: "abcdefghijkl", chunk: 4, wantStatus: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := probe("buffer")
			req.Method, req.Body, req.ChunkSize, req.Trailers = "POST", []byte(tc.body), tc.chunk, tc.trailers
			var up *UpstreamRequest
			res := vms[0].RoundTrip(req, func(u *UpstreamRequest) *Response { up = u; return okUpstream(u) })
			if res.Err != nil || res.Status != tc.wantStatus {
				t.Fatalf("got %d %q %v", res.Status, res.Body, res.Err)
			}
			if tc.wantStatus != 200 {
				if res.LocalReply.Details != "request_payload_too_large" || string(res.Body) != "Payload Too Large" || up != nil {
					t.Errorf("reply %+v body %q", res.LocalReply, res.Body)
				}
				return
			}
			if got := res.FilterState["probe_body_sizes"]; got != tc.wantSizes || string(up.Body) != tc.body {
				t.Errorf("sizes %q body %q, want %q and the whole body", got, up.Body, tc.wantSizes)
			}
		})
	}
}

func TestResponseBufferLimitAndTrailers(t *testing.T) {
	_, vms := startProbe(t, Config{BufferLimit: 4}, 1)
	res := vms[0].RoundTrip(probe("hold-response"), func(*UpstreamRequest) *Response {
		return &Response{Status: 200, Body: []byte("abcdefgh"), ChunkSize: 4}
	})
	// The headers went out before the body was held: Envoy can only reset.
	if !errors.Is(res.Err, ErrStreamReset) {
		t.Fatalf("a held response past the limit: %d %v, want a reset", res.Status, res.Err)
	}
	res = vms[0].RoundTrip(probe(""), func(*UpstreamRequest) *Response {
		return &Response{Status: 200, Body: []byte("ab"), Trailers: Headers{{"grpc-status", "0"}}}
	})
	if res.Err != nil || res.Status != 200 {
		t.Fatalf("got %d %v", res.Status, res.Err)
	}
	if got := res.FilterState["probe_trailers"]; got != "response:1:grpc-status=0" {
		t.Errorf("trailer callbacks saw %q", got)
	}
}
