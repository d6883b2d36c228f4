package host

import (
	"errors"
	"testing"
)

// TestLocalReplyShape checks Utility::prepareLocalReply's rules
// (source/common/http/utility.cc) on replies the probe sends.
func TestLocalReplyShape(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	grpc := [2]string{"content-type", "application/grpc"}
	tests := []struct {
		name       string
		method     string
		headers    Headers
		wantStatus int
		// want lists response headers and their values; "" means absent.
		want     map[string]string
		wantBody string
	}{
		{
			name:    "gRPC request gets a trailers-only 200 with the status mapped from 401",
			headers: Headers{grpc, {"x-probe-status", "401"}, {"x-probe-body", "no token"}, {"x-probe-reply-content-type", "application/problem+json"}},
			want: map[string]string{"content-type": "application/grpc", "grpc-status": "16",
				"grpc-message": "no token", "content-length": ""},
			wantStatus: 200,
		},
		{
			name:       "the plugin's grpc_status wins over the mapping (429 maps to UNAVAILABLE)",
			headers:    Headers{grpc, {"x-probe-status", "429"}, {"x-probe-grpc", "8"}},
			want:       map[string]string{"grpc-status": "8", "grpc-message": ""},
			wantStatus: 200,
		},
		{
			name:       "429 without grpc_status is UNAVAILABLE",
			headers:    Headers{grpc, {"x-probe-status", "429"}},
			want:       map[string]string{"grpc-status": "14"},
			wantStatus: 200,
		},
		{
			name:       "400 without grpc_status is INTERNAL",
			headers:    Headers{grpc, {"x-probe-status", "400"}},
			want:       map[string]string{"grpc-status": "13"},
			wantStatus: 200,
		},
		{
			name:       "a grpc-status header the plugin set is kept",
			headers:    Headers{grpc, {"x-probe-status", "403"}, {"x-probe-grpc", "8"}, {"x-probe-reply-grpc-status", "9"}},
			want:       map[string]string{"grpc-status": "9"},
			wantStatus: 200,
		},
		{
			name:       "application/grpc+proto is gRPC; grpc-message is percent-encoded",
			headers:    Headers{{"content-type", "application/grpc+proto"}, {"x-probe-status", "403"}, {"x-probe-body", "50% off\n"}},
			want:       map[string]string{"grpc-status": "7", "grpc-message": "50%25 off%0A"},
			wantStatus: 200,
		},
		{
			name:       "application/grpc-web is not gRPC",
			headers:    Headers{{"content-type", "application/grpc-web"}, {"x-probe-status", "401"}, {"x-probe-body", "no"}, {"x-probe-grpc", "16"}},
			want:       map[string]string{"grpc-status": "", "content-type": "text/plain", "content-length": "2"},
			wantStatus: 401, wantBody: "no",
		},
		{
			name:       "grpc_status is ignored for a non-gRPC request",
			headers:    Headers{{"x-probe-status", "403"}, {"x-probe-body", "forbidden"}, {"x-probe-grpc", "7"}},
			want:       map[string]string{"grpc-status": "", "content-type": "text/plain"},
			wantStatus: 403, wantBody: "forbidden",
		},
		{
			name:       "an empty body drops the content-type and content-length the plugin set",
			headers:    Headers{{"x-probe-status", "204"}, {"x-probe-reply-content-type", "application/json"}, {"x-probe-reply-content-length", "10"}},
			want:       map[string]string{"content-type": "", "content-length": ""},
			wantStatus: 204,
		},
		{
			name:       "HEAD gets the headers of the reply without its body",
			method:     "HEAD",
			headers:    Headers{{"x-probe-status", "403"}, {"x-probe-body", "forbidden"}},
			want:       map[string]string{"content-length": "9", "content-type": "text/plain"},
			wantStatus: 403,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := probe("reply-with", tc.headers...)
			if tc.method != "" {
				req.Method = tc.method
			}
			res := vms[0].RoundTrip(req, okUpstream)
			if res.Err != nil || res.Status != tc.wantStatus || string(res.Body) != tc.wantBody {
				t.Fatalf("got %d %q err %v, want %d %q", res.Status, res.Body, res.Err, tc.wantStatus, tc.wantBody)
			}
			for k, want := range tc.want {
				if got, _ := res.Headers.Get(k); got != want {
					t.Errorf("%s = %q, want %q (headers %v)", k, got, want, res.Headers)
				}
			}
		})
	}
}

func TestLocalReplyDetailsHaveNoSpaces(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	res := vms[0].RoundTrip(probe("reply-details", [2]string{"x-probe-details", "denied by\tpolicy x"}), okUpstream)
	if res.LocalReply == nil || res.LocalReply.Details != "denied_by_policy_x" {
		t.Fatalf("local reply %+v, want details denied_by_policy_x (Context::sendLocalResponse)", res.LocalReply)
	}
}

// TestLocalReplyFromTheResponsePath follows FilterManager::sendLocalReply: a
// reply from on_response_headers goes straight to the client, one sent after
// the response headers went out resets the stream.
func TestLocalReplyFromTheResponsePath(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	res := vms[0].RoundTrip(probe("reply-on-response"), okUpstream)
	if res.Err != nil || res.Status != 451 || string(res.Body) != "unavailable for legal reasons" {
		t.Fatalf("got %d %q err %v", res.Status, res.Body, res.Err)
	}
	if seen, ok := res.Headers.Get("x-probe-response-seen"); ok {
		t.Errorf("x-probe-response-seen = %q: a reply from the encoder path must not pass the filter again", seen)
	}
	res = vms[0].RoundTrip(probe("reply-on-response-body"), okUpstream)
	if !errors.Is(res.Err, ErrStreamReset) || res.Status != 0 {
		t.Fatalf("reply after the response headers: got %d err %v, want a reset", res.Status, res.Err)
	}
}

func TestCloseStream(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	tests := []struct {
		name, stream string
		wantReset    bool
	}{
		{name: "request stream resets", stream: "0", wantReset: true},
		{name: "downstream connection type is a no-op for HTTP", stream: "2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var up *UpstreamRequest
			res := vms[0].RoundTrip(probe("close", [2]string{"x-probe-stream", tc.stream}), func(u *UpstreamRequest) *Response {
				up = u
				return okUpstream(u)
			})
			if tc.wantReset {
				if !errors.Is(res.Err, ErrStreamReset) || res.Status != 0 || up != nil {
					t.Fatalf("got %d err %v upstream %v, want a reset before the upstream", res.Status, res.Err, up != nil)
				}
				return
			}
			if res.Err != nil || res.Status != 200 {
				t.Fatalf("got %d err %v", res.Status, res.Err)
			}
			if st, _ := up.Headers.Get("x-probe-close-status"); st != "0" {
				t.Errorf("proxy_close_stream returned %s, want OK", st)
			}
		})
	}
}

func TestReplaceAllEmptySpace(t *testing.T) {
	for in, want := range map[string]string{"": "", "a b": "a_b", "a\t\r\nb": "a___b", "no_space": "no_space"} {
		if got := replaceAllEmptySpace(in); got != want {
			t.Errorf("replaceAllEmptySpace(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAFailedStreamIsUnavailableForGRPC: Context::failStream's 503 carries
// UNAVAILABLE, so a gRPC client sees grpc-status 14, for the trapping stream
// and for every later one on the failed VM.
func TestAFailedStreamIsUnavailableForGRPC(t *testing.T) {
	_, vms := startProbe(t, Config{Profile: CppHostCurrent}, 1)
	for _, action := range []string{"panic", ""} {
		res := vms[0].RoundTrip(probe(action, [2]string{"content-type", "application/grpc"}), okUpstream)
		if gs, _ := res.Headers.Get("grpc-status"); res.Err == nil || res.Status != 200 || gs != "14" {
			t.Errorf("%q on a failing VM: %d grpc-status %q err %v, want 200 with UNAVAILABLE", action, res.Status, gs, res.Err)
		}
	}
}
