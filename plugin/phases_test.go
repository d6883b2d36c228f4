package main

import (
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/pipeline"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// hsts is a throwaway response stage, as a package under filters/ would
// write it: the glue must apply its edits with no code of its own.
type hsts struct{}

func (hsts) RequestHeaders(*stage.Stream, *stage.Input) verdict.Decision { return verdict.Decision{} }

func (hsts) ResponseHeaders(s *stage.Stream, _ *stage.Input) {
	s.Response.Add(stage.Edits{Remove: []string{"server"}, Set: [][2]string{{"strict-transport-security", "max-age=63072000"}}})
}

// TestGlueEditsTheResponsesOfRoutesThatAsk runs the response-headers phase
// through the glue: on the upstream's response, and on apiguard's own local
// reply, which carries the phase's edits when it is sent and comes out of
// its pass through the filter's response callbacks (which Envoy makes; the
// emulator does not, so the test makes it) unchanged.
func TestGlueEditsTheResponsesOfRoutesThatAsk(t *testing.T) {
	defer func(saved []stage.Spec) { pipeline.Stages = saved }(pipeline.Stages)
	pipeline.Stages = append(pipeline.Stages, stage.Spec{Key: "hsts", Compile: func(r *config.Reader, p string, v gjson.Result, _ any) stage.Stage {
		r.Object(p, v, config.Fields{})
		return hsts{}
	}})
	host := startEmulated(t, `{"routes": [
		{"name": "a", "match": {"path": "/a"}, "auth": "none", "hsts": {}},
		{"name": "jwt", "match": {"path": "/jwt"}, "auth": {"providers": ["idp"]}, "hsts": {}},
		{"name": "b", "match": {"path": "/b"}, "auth": "none"}],
		"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": {"keys": [{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}}}},
		"response": {"security_headers": "off"}}`) // the shipped hardening off, to see the throwaway stage alone
	tests := []struct {
		name      string
		path      string
		wantReply bool
		wantHSTS  bool
	}{
		{name: "allowed: the upstream's response", path: "/a", wantHSTS: true},
		{name: "denied without a token: apiguard's local reply", path: "/jwt", wantReply: true, wantHSTS: true},
		{name: "a route without the stage", path: "/b"},
		{name: "no route", path: "/c", wantReply: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := host.InitializeHttpContext()
			host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", tc.path}, {":authority", "x"}}, true)
			resp := [][2]string{{":status", "200"}, {"server", "upstream"}}
			if reply := host.GetSentLocalResponse(id); (reply != nil) != tc.wantReply {
				t.Fatalf("local reply %+v, want one %v", reply, tc.wantReply)
			} else if reply != nil {
				resp = reply.Headers
				if sent := countHeader(reply.Headers, "strict-transport-security"); sent != map[bool]int{true: 1}[tc.wantHSTS] {
					t.Fatalf("the reply was sent with %d hsts headers: %v", sent, reply.Headers)
				}
			}
			if act := host.CallOnResponseHeaders(id, resp, false); act != types.ActionContinue {
				t.Fatalf("response action %v, want continue", act)
			}
			got := host.GetCurrentResponseHeaders(id)
			hstsCount, servers := countHeader(got, "strict-transport-security"), countHeader(got, "server")
			wantServers := 0
			if !tc.wantHSTS && !tc.wantReply {
				wantServers = 1
			}
			if want := map[bool]int{true: 1}[tc.wantHSTS]; hstsCount != want || servers != wantServers {
				t.Errorf("%d hsts and %d server headers, want %d and %d: %v", hstsCount, servers, want, wantServers, got)
			}
			host.CompleteHttpContext(id)
		})
	}
}

func countHeader(headers [][2]string, name string) int {
	n := 0
	for _, h := range headers {
		if h[0] == name {
			n++
		}
	}
	return n
}
