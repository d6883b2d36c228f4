package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// globalRoute asks the service on cluster "rls" about every request.
const globalRoute = `{"routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none",
	"rate_limit": {"global": [{"name": "g", "cluster": "rls", "domain": "d", "timeout_ms": 250, "descriptors": [{"key": "route", "from": "route"}]}]}}]}`

// A RateLimitResponse of overall code 1 (OK) or 2 (OVER_LIMIT), gRPC-framed.
var (
	okAnswer        = frame([]byte{0x08, 0x01})
	overLimitAnswer = frame([]byte{0x08, 0x02})
)

// TestGlueCallsTheServiceAndResumes: the stream pauses for the call, which
// goes out as gRPC (HTTP/2 POST, framed message, deadline), and the answer
// resumes it, or answers it; an answer for a stream that ended is dropped.
func TestGlueCallsTheServiceAndResumes(t *testing.T) {
	ok := [][2]string{{":status", "200"}, {"content-type", "application/grpc"}}
	tests := []struct {
		name              string
		headers, trailers [][2]string
		body              []byte
		ended             bool
		wantAction        types.Action
		wantStatus        uint32
	}{
		{name: "ok resumes", headers: ok, trailers: [][2]string{{"grpc-status", "0"}}, body: okAnswer, wantAction: types.ActionContinue},
		{name: "over limit answers 429", headers: ok, trailers: [][2]string{{"grpc-status", "0"}}, body: overLimitAnswer, wantAction: types.ActionPause, wantStatus: 429},
		{name: "a gRPC error is unavailable", headers: append(ok, [2]string{"grpc-status", "14"}), wantAction: types.ActionPause, wantStatus: 503},
		{name: "a timeout is unavailable", headers: [][2]string{{":status", "504"}}, body: []byte("upstream request timeout"), wantAction: types.ActionPause, wantStatus: 503},
		{name: "a bad frame is unavailable", headers: ok, trailers: [][2]string{{"grpc-status", "0"}}, body: okAnswer[1:], wantAction: types.ActionPause, wantStatus: 503},
		{name: "no grpc-status is unavailable", headers: ok, body: okAnswer, wantAction: types.ActionPause, wantStatus: 503},
		{name: "a stream that ended ignores its answer", headers: ok, trailers: [][2]string{{"grpc-status", "0"}}, body: overLimitAnswer, ended: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := startEmulated(t, globalRoute)
			id := host.InitializeHttpContext()
			if act := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/a"}, {":authority", "x"}}, true); act != types.ActionPause {
				t.Fatalf("action %v, want a pause for the call", act)
			}
			calls := host.GetCalloutAttributesFromContext(id)
			if len(calls) != 1 {
				t.Fatalf("%d calls", len(calls))
			}
			c := calls[0]
			want := map[string]string{":method": "POST", ":path": "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit",
				":authority": "rls", "content-type": "application/grpc", "te": "trailers", "grpc-timeout": "250m"}
			for _, kv := range c.Headers {
				if w, ok := want[kv[0]]; ok && w != kv[1] {
					t.Errorf("%s: %q, want %q", kv[0], kv[1], w)
				}
				delete(want, kv[0])
			}
			if c.Upstream != "rls" || len(want) > 0 {
				t.Errorf("upstream %q, missing headers %v", c.Upstream, want)
			}
			msg, framed := unframe(c.Body)
			if !framed || !bytes.Equal(msg, []byte("\x0a\x01d\x12\x0c\x0a\x0a\x0a\x05route\x12\x01a")) {
				t.Errorf("body %x", c.Body)
			}
			if tc.ended {
				host.CompleteHttpContext(id)
			}
			host.CallOnHttpCallResponse(c.CalloutID, tc.headers, tc.trailers, tc.body)
			if tc.ended {
				return
			}
			if act := host.GetCurrentHttpStreamAction(id); act != tc.wantAction {
				t.Fatalf("action %v, want %v", act, tc.wantAction)
			}
			expectReply(t, host, id, tc.wantStatus)
		})
	}
}

func expectReply(t *testing.T, host proxytest.HostEmulator, id uint32, status uint32) {
	t.Helper()
	reply := host.GetSentLocalResponse(id)
	if status == 0 {
		if reply != nil {
			t.Fatalf("unexpected local reply %d", reply.StatusCode)
		}
		return
	}
	var body struct{ Status uint32 }
	if reply == nil || reply.StatusCode != status || json.Unmarshal(reply.Data, &body) != nil || body.Status != status {
		t.Fatalf("local reply %+v, want %d", reply, status)
	}
}

// FuzzUnframe: a body unframes only into the message that frames back to it.
func FuzzUnframe(f *testing.F) {
	f.Add(okAnswer)
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, ok := unframe(b)
		if ok && !bytes.Equal(frame(msg), b) {
			t.Fatalf("unframe(%x) = %x, which frames differently", b, msg)
		}
	})
}
