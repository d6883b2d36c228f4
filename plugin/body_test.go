package main

import (
	"bytes"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/pipeline"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// jsonObject is a throwaway body stage: it reads the whole body, capped at
// limit bytes, of a route's POSTs and refuses one that is not a JSON object;
// with read false it only caps the body.
type jsonObject struct {
	limit int64
	read  bool
}

func (j *jsonObject) RequestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	switch {
	case in.Get(":method") != "POST":
	case j.read:
		s.ReadBody(j, j.limit)
	default:
		s.LimitBody(j.limit)
	}
	return verdict.Decision{}
}

func (j *jsonObject) RequestBody(_ *stage.Stream, body []byte, _ *stage.Input) verdict.Decision {
	if !bytes.HasPrefix(body, []byte("{")) {
		return verdict.Deny(verdict.BadRequest, "not a JSON object")
	}
	return verdict.Decision{}
}

// TestGlueRunsTheBodyPhaseOfRoutesThatAsk: a declared content-length over
// the limit is refused before any body; a body growing past it is refused
// as it streams; a body read whole is decided at its end (or at the
// trailers); other routes' bodies stream through without a pause.
func TestGlueRunsTheBodyPhaseOfRoutesThatAsk(t *testing.T) {
	defer func(saved []stage.Spec) { pipeline.Stages = saved }(pipeline.Stages)
	pipeline.Stages = append(pipeline.Stages, stage.Spec{Key: "json_object", Compile: func(r *config.Reader, p string, v gjson.Result, _ any) stage.Stage {
		j := &jsonObject{read: true}
		r.Object(p, v, config.Fields{
			"limit": {Required: true, Read: func(p string, v gjson.Result) { j.limit = r.Count(p, v, 1, 1<<20) }},
			"read":  {Read: func(p string, v gjson.Result) { j.read = r.Bool(p, v) }},
		})
		return j
	}})
	host := startEmulated(t, `{"routes": [
		{"name": "read", "match": {"path": "/read"}, "auth": "none", "json_object": {"limit": 10}},
		{"name": "capped", "match": {"path": "/capped"}, "auth": "none", "json_object": {"limit": 10, "read": false}},
		{"name": "free", "match": {"path": "/free"}, "auth": "none"}]}`)
	type chunk struct {
		data       string
		end        bool
		wantAction types.Action
	}
	tests := []struct {
		name          string
		path          string
		method        string
		contentLength string
		chunks        []chunk
		trailers      bool
		wantStatus    uint32
	}{
		{name: "a JSON object", path: "/read", method: "POST", chunks: []chunk{
			{data: `{"a":`, wantAction: types.ActionPause}, {data: `1}`, end: true, wantAction: types.ActionContinue}}},
		{name: "not an object", path: "/read", method: "POST", chunks: []chunk{
			{data: `[1]`, end: true, wantAction: types.ActionPause}}, wantStatus: 400},
		{name: "declared too large", path: "/read", method: "POST", contentLength: "11", wantStatus: 413},
		{name: "declared larger than int64", path: "/read", method: "POST", contentLength: "99999999999999999999", wantStatus: 413},
		{name: "malformed content-length", path: "/read", method: "POST", contentLength: "1e3", wantStatus: 400},
		{name: "declared small, grows past the limit", path: "/read", method: "POST", contentLength: "2", chunks: []chunk{
			{data: `{"a":`, wantAction: types.ActionPause}, {data: `"bbbbbb"}`, wantAction: types.ActionPause}}, wantStatus: 413},
		{name: "ended by trailers", path: "/read", method: "POST", chunks: []chunk{
			{data: `{}`, wantAction: types.ActionPause}}, trailers: true},
		{name: "a GET on the route asks for nothing", path: "/read", method: "GET", chunks: []chunk{
			{data: `[1]`, end: true, wantAction: types.ActionContinue}}},
		{name: "capped: counted as it passes", path: "/capped", method: "POST", chunks: []chunk{
			{data: `12345`, wantAction: types.ActionContinue}, {data: `12345`, end: true, wantAction: types.ActionContinue}}},
		{name: "capped: refused past the limit", path: "/capped", method: "POST", chunks: []chunk{
			{data: `12345`, wantAction: types.ActionContinue}, {data: `123456`, wantAction: types.ActionPause}}, wantStatus: 413},
		{name: "a route without the phase", path: "/free", method: "POST", chunks: []chunk{
			{data: `12345678901234567890`, end: true, wantAction: types.ActionContinue}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := host.InitializeHttpContext()
			h := [][2]string{{":method", tc.method}, {":path", tc.path}, {":authority", "x"}}
			if tc.contentLength != "" {
				h = append(h, [2]string{"content-length", tc.contentLength})
			}
			act := host.CallOnRequestHeaders(id, h, len(tc.chunks) == 0 && !tc.trailers)
			if want := map[bool]types.Action{true: types.ActionPause, false: types.ActionContinue}[tc.wantStatus != 0 && len(tc.chunks) == 0]; act != want {
				t.Fatalf("headers: action %v, want %v", act, want)
			}
			for i, c := range tc.chunks {
				if host.GetSentLocalResponse(id) != nil {
					break
				}
				if act = host.CallOnRequestBody(id, []byte(c.data), c.end); act != c.wantAction {
					t.Fatalf("chunk %d: action %v, want %v", i, act, c.wantAction)
				}
			}
			if tc.trailers {
				if act = host.CallOnRequestTrailers(id, [][2]string{{"x-checksum", "1"}}); act != types.ActionContinue {
					t.Fatalf("trailers: action %v, want continue", act)
				}
			}
			reply := host.GetSentLocalResponse(id)
			switch {
			case tc.wantStatus == 0 && reply != nil:
				t.Errorf("local reply %d %s, want none", reply.StatusCode, reply.Data)
			case tc.wantStatus != 0 && (reply == nil || reply.StatusCode != tc.wantStatus):
				t.Errorf("local reply %+v, want status %d", reply, tc.wantStatus)
			}
			host.CompleteHttpContext(id)
		})
	}
}
