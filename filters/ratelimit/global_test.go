package ratelimit_test

import (
	"strings"
	"testing"
	"time"

	rlsv3 "github.com/envoyproxy/go-control-plane/envoy/service/ratelimit/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/apiguard/apiguard/filters/pipeline"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// globalPolicy limits each user of /orders through the service, after
// authentication and validation; its failure mode and fallback vary.
func globalPolicy(rule string) (string, *jwttest.Key) {
	k := jwttest.HMAC("k1", "HS256", 32)
	return `{"providers": {"idp": {"issuer": "https://idp/", "audiences": ["api"], "jwks": {"inline": ` + string(jwttest.JWKS(k)) + `}}},
	"rate_limit": {"global": [` + rule + `]},
	"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": {"providers": ["idp"]},
	            "validate": {"query": {"params": {"limit": {"schema": {"type": "integer", "maximum": 10}}}}},
	            "authz": {"allow": "authenticated", "deny": {"claims": {"/sub": "mallory"}}}}]}`, k
}

const perUser = `{"name": "per-user", "cluster": "rls", "domain": "apiguard", "timeout_ms": 50,
	"descriptors": [{"key": "sub", "from": "claim:/sub"}, {"key": "route", "from": "route"}, {"key": "method", "from": "method"}, {"key": "tier", "value": "gold"}]`

// okFor answers OK with remaining requests of 100 per minute.
func answer(code rlsv3.RateLimitResponse_Code, remaining uint32, reset time.Duration) stage.CallResult {
	msg, _ := proto.Marshal(&rlsv3.RateLimitResponse{OverallCode: code, Statuses: []*rlsv3.RateLimitResponse_DescriptorStatus{{
		Code: code, CurrentLimit: &rlsv3.RateLimitResponse_RateLimit{RequestsPerUnit: 100, Unit: rlsv3.RateLimitResponse_RateLimit_MINUTE},
		LimitRemaining: remaining, DurationUntilReset: durationpb.New(reset)}}})
	return stage.CallResult{Message: msg}
}

// TestGlobalRulesAskTheServiceLast: the descriptor is computed from the
// verified sub, the route, the method and a literal, after every other
// check; the service's answer decides, with its numbers in the headers; a
// failure follows failure_mode, and the fallback limits locally.
func TestGlobalRulesAskTheServiceLast(t *testing.T) {
	tests := []struct {
		name     string
		rule     string
		answers  []stage.CallResult // one per request
		want     []verdict.Reason
		wantHdrs map[string]string // of the last request
	}{
		{name: "ok carries the service's numbers", rule: perUser + `}`,
			answers:  []stage.CallResult{answer(rlsv3.RateLimitResponse_OK, 41, 17*time.Second)},
			want:     []verdict.Reason{0},
			wantHdrs: map[string]string{"ratelimit-policy": `"per-user";q=100;w=60`, "ratelimit": `"per-user";r=41;t=17`}},
		{name: "over limit is 429 with retry-after", rule: perUser + `}`,
			answers:  []stage.CallResult{answer(rlsv3.RateLimitResponse_OVER_LIMIT, 0, 2500*time.Millisecond)},
			want:     []verdict.Reason{verdict.RateLimited},
			wantHdrs: map[string]string{"retry-after": "3", "ratelimit": `"per-user";r=0;t=3`}},
		{name: "deny when the service is unavailable", rule: perUser + `, "failure_mode": "deny"}`,
			answers:  []stage.CallResult{{Status: stage.CallUnavailable}},
			want:     []verdict.Reason{verdict.RateLimitUnavailable},
			wantHdrs: map[string]string{"retry-after": "1"}},
		{name: "deny on any gRPC error by default", rule: perUser + `}`,
			answers: []stage.CallResult{{Status: 4}},
			want:    []verdict.Reason{verdict.RateLimitUnavailable}},
		{name: "deny on a malformed answer", rule: perUser + `}`,
			answers: []stage.CallResult{{Message: []byte{0x08, 0x80}}},
			want:    []verdict.Reason{verdict.RateLimitUnavailable}},
		{name: "deny on an answer without a code", rule: perUser + `}`,
			answers: []stage.CallResult{{}},
			want:    []verdict.Reason{verdict.RateLimitUnavailable}},
		{name: "allow lets traffic through", rule: perUser + `, "failure_mode": "allow"}`,
			answers: []stage.CallResult{{Status: stage.CallUnavailable}, {Status: stage.CallInternal}},
			want:    []verdict.Reason{0, 0}},
		{name: "the fallback limits while the service is down", rule: perUser + `, "failure_mode": "allow",
			"fallback": {"name": "per-user-local", "key": ["claim:/sub"], "rate": 1, "per": "minute", "burst": 1}}`,
			answers:  []stage.CallResult{{Status: stage.CallUnavailable}, {Status: stage.CallUnavailable}, {Status: stage.CallUnavailable}, answer(rlsv3.RateLimitResponse_OK, 5, time.Second)},
			want:     []verdict.Reason{0, 0, verdict.RateLimited, 0},
			wantHdrs: map[string]string{"ratelimit": `"per-user";r=5;t=1`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			policy, key := globalPolicy(tc.rule)
			g := load(t, policy)
			auth := "Bearer " + key.Token(jwttest.Claims("https://idp/", "api", epoch.Add(time.Hour).Unix(), "sub", `"alice"`))
			for i, res := range tc.answers {
				s, call, d := g.start(auth, "/orders")
				if call == nil || d.Denied() {
					t.Fatalf("request %d asked no call (%s)", i, d.Reason.Code())
				}
				if call.Cluster != "rls" || call.Service != "envoy.service.ratelimit.v3.RateLimitService" || call.Method != "ShouldRateLimit" || call.Timeout != 50*time.Millisecond {
					t.Fatalf("call %+v", call)
				}
				var req rlsv3.RateLimitRequest
				if err := proto.Unmarshal(call.Message, &req); err != nil {
					t.Fatal(err)
				}
				if got := entriesOf(&req); req.Domain != "apiguard" || got != "sub=alice route=orders method=GET tier=gold" {
					t.Fatalf("request %s: %s", req.Domain, got)
				}
				d, hdrs := g.answer(s, res)
				if d.Reason != tc.want[i] {
					t.Fatalf("request %d: %q, want %q", i, d.Reason.Code(), tc.want[i].Code())
				}
				if i == len(tc.answers)-1 {
					for name, want := range tc.wantHdrs {
						if got := hdrs.Get(name); got != want {
							t.Errorf("%s: %q, want %q", name, got, want)
						}
					}
				}
			}
		})
	}
}

// TestRefusedRequestsCostNoCall: a request that authentication,
// authorization or validation refuses never reaches the global check; one whose descriptor
// lacks an entry is not limited by the rule (Envoy sends no descriptor).
func TestRefusedRequestsCostNoCall(t *testing.T) {
	policy, key := globalPolicy(perUser + `}`)
	g := load(t, policy)
	valid := "Bearer " + key.Token(jwttest.Claims("https://idp/", "api", epoch.Add(time.Hour).Unix(), "sub", `"alice"`))
	mallory := "Bearer " + key.Token(jwttest.Claims("https://idp/", "api", epoch.Add(time.Hour).Unix(), "sub", `"mallory"`))
	noSub := "Bearer " + key.Token(jwttest.Claims("https://idp/", "api", epoch.Add(time.Hour).Unix()))
	tests := []struct {
		name, auth, path string
		want             verdict.Reason
	}{
		{name: "no token", path: "/orders", want: verdict.TokenMissing},
		{name: "invalid query", auth: valid, path: "/orders?limit=11", want: verdict.RequestInvalid},
		{name: "forbidden", auth: mallory, path: "/orders", want: verdict.Forbidden},
		{name: "no sub claim", auth: noSub, path: "/orders"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, call, d := g.start(tc.auth, tc.path)
			if call != nil || d.Reason != tc.want {
				t.Fatalf("call %v, decision %q, want %q", call != nil, d.Reason.Code(), tc.want.Code())
			}
		})
	}
}

func entriesOf(req *rlsv3.RateLimitRequest) string {
	var parts []string
	for _, d := range req.Descriptors {
		for _, e := range d.Entries {
			parts = append(parts, e.Key+"="+e.Value)
		}
	}
	return strings.Join(parts, " ")
}

// start runs a request's headers phase up to its call.
func (g *gateway) start(auth, path string) (*stage.Stream, *stage.Call, verdict.Decision) {
	g.host.Properties["source.address"] = []byte("198.51.100.7:4000")
	h := headers{{":method", "GET"}, {":path", path}, {":authority", "api.example"}}
	if auth != "" {
		h = append(h, [2]string{"authorization", auth})
	}
	s := &stage.Stream{}
	d := g.p.RequestHeaders(s, h, g.worker())
	return s, s.Call, d
}

// answer resumes s with the call's result and runs the response phase.
func (g *gateway) answer(s *stage.Stream, res stage.CallResult) (verdict.Decision, headers) {
	w := g.worker()
	d := g.p.CallAnswered(s, headers{{":method", "GET"}}, w, res)
	out := headers(d.Headers())
	if len(s.Responders) > 0 {
		g.p.ResponseHeaders(s, headers{{":status", "200"}}, w)
		out = append(out, s.Response.Set...)
	}
	return d, out
}

func (g *gateway) worker() *stage.Worker {
	w := g.p.NewWorker(g.host)
	w.Now = func() time.Time { return g.now }
	return w
}

func TestGlobalConfigErrorsAtTheirPaths(t *testing.T) {
	tests := []struct {
		name, section, want string
	}{
		{name: "missing fields", section: `{"global": [{"name": "g"}]}`, want: "rate_limit.global[0].cluster"},
		{name: "no entries", section: `{"global": [{"name": "g", "cluster": "c", "domain": "d", "descriptors": []}]}`, want: "rate_limit.global[0].descriptors: must have 1 to 16 entries"},
		{name: "value and from", section: `{"global": [{"name": "g", "cluster": "c", "domain": "d", "descriptors": [{"key": "k", "value": "v", "from": "route"}]}]}`, want: `rate_limit.global[0].descriptors[0]: needs exactly one of "value" and "from"`},
		{name: "bad from", section: `{"global": [{"name": "g", "cluster": "c", "domain": "d", "descriptors": [{"key": "k", "from": "cookie"}]}]}`, want: "rate_limit.global[0].descriptors[0].from"},
		{name: "timeout out of range", section: `{"global": [{"name": "g", "cluster": "c", "domain": "d", "descriptors": [{"key": "k", "value": "v"}], "timeout_ms": 0}]}`, want: "rate_limit.global[0].timeout_ms"},
		{name: "fallback with deny", section: `{"global": [{"name": "g", "cluster": "c", "domain": "d", "descriptors": [{"key": "k", "value": "v"}],
			"fallback": {"name": "f", "key": ["peer"], "rate": 1, "per": "second"}}]}`, want: "rate_limit.global[0].fallback: applies only with"},
		{name: "bad fallback", section: `{"global": [{"name": "g", "cluster": "c", "domain": "d", "descriptors": [{"key": "k", "value": "v"}], "failure_mode": "allow",
			"fallback": {"name": "f", "key": ["peer"], "per": "second"}}]}`, want: "rate_limit.global[0].fallback.rate"},
		{name: "duplicate names", section: `{"global": [{"name": "g", "cluster": "c", "domain": "d", "descriptors": [{"key": "k", "value": "v"}]},
			{"name": "g", "cluster": "c", "domain": "d", "descriptors": [{"key": "k", "value": "v"}]}]}`, want: "rate_limit.global[1].name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := pipeline.Load([]byte(`{"rate_limit": ` + tc.section + `, "routes": [{"name": "r", "match": {"path": "/"}, "auth": "none"}]}`))
			for _, e := range errs {
				if strings.Contains(e.Error(), tc.want) {
					return
				}
			}
			t.Fatalf("errors %v, want one containing %q", errs, tc.want)
		})
	}
}
