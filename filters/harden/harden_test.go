package harden

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

type headers = hosttest.Headers

// compile reads global then a route's field over it, as pipeline.Load does.
func compile(t *testing.T, global, route string) stage.Stage {
	t.Helper()
	r := &config.Reader{}
	g := Global(r, "response", gjson.Parse(global))
	st := Compile(r, "routes[0].response", gjson.Parse(route), g)
	if len(r.Errors()) > 0 {
		t.Fatal(r.Errors())
	}
	return st
}

func respond(st stage.Stage, scheme string, resp stage.Headers) *stage.Stream {
	s := &stage.Stream{Scheme: scheme}
	st.(stage.ResponseHeadersStage).ResponseHeaders(s, s.Begin(resp, &stage.Worker{}))
	return s
}

func names(set [][2]string) []string {
	var out []string
	for _, kv := range set {
		out = append(out, kv[0])
	}
	return out
}

func TestPresetsAndOverrides(t *testing.T) {
	strict := names(Strict)
	noHSTS := strict[1:]
	tests := []struct {
		name, global, route, scheme string
		wantSet                     []string
		wantRemove                  []string
		wantValue                   [2]string
	}{
		{name: "strict by default, over https", scheme: "https", wantSet: strict, wantRemove: Leaky},
		{name: "strict over plain http: no HSTS", scheme: "http", wantSet: noHSTS, wantRemove: Leaky},
		{name: "strict, TLS ended before Envoy", global: `{"assume_https": true}`, scheme: "http", wantSet: strict, wantRemove: Leaky},
		{name: "a route overrides one header", route: `{"headers": {"cache-control": "max-age=60"}}`, scheme: "https",
			wantSet: append(slices.DeleteFunc(slices.Clone(strict), func(n string) bool { return n == "cache-control" }), "cache-control"), wantRemove: Leaky,
			wantValue: [2]string{"cache-control", "max-age=60"}},
		{name: "a route omits one header", global: `{"headers": {"x-frame-options": null}}`, scheme: "https",
			wantSet: slices.DeleteFunc(slices.Clone(strict), func(n string) bool { return n == "x-frame-options" }), wantRemove: Leaky},
		{name: "removals add up", global: `{"remove": ["x-debug"]}`, route: `{"remove": ["x-trace"]}`, scheme: "https",
			wantSet: strict, wantRemove: append(slices.Clone(Leaky), "x-debug", "x-trace")},
		{name: "off globally, on for a route", global: `{"security_headers": "off"}`, route: `{"security_headers": "strict"}`, scheme: "https", wantSet: strict, wantRemove: Leaky},
		{name: "off with one header of its own", global: `{"security_headers": "off", "headers": {"x-api": "v1"}}`, scheme: "https",
			wantSet: []string{"x-api"}, wantValue: [2]string{"x-api", "v1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := respond(compile(t, tc.global, tc.route), tc.scheme, headers{{":status", "200"}})
			if got := names(s.Response.Set); !slices.Equal(got, tc.wantSet) {
				t.Errorf("set %v, want %v", got, tc.wantSet)
			}
			if !slices.Equal(s.Response.Remove, tc.wantRemove) {
				t.Errorf("remove %v, want %v", s.Response.Remove, tc.wantRemove)
			}
			if tc.wantValue[0] != "" && !slices.Contains(s.Response.Set, tc.wantValue) {
				t.Errorf("set %v, want %v", s.Response.Set, tc.wantValue)
			}
		})
	}
	if st := compile(t, `{"security_headers": "off"}`, ""); st != nil {
		t.Errorf("off compiled to %T, want no stage", st)
	}
}

// TestKeepOrOverwrite: the policy's value replaces the upstream's (one
// line), unless keep_upstream names the header and the upstream sent it.
func TestKeepOrOverwrite(t *testing.T) {
	st := compile(t, `{"keep_upstream": ["cache-control"]}`, "")
	kept := respond(st, "https", headers{{":status", "200"}, {"cache-control", "max-age=60"}, {"content-security-policy", "default-src 'self'"}})
	if slices.Contains(names(kept.Response.Set), "cache-control") || !slices.Contains(names(kept.Response.Set), "content-security-policy") {
		t.Errorf("upstream sent both: set %v, want its cache-control kept and its CSP overwritten", names(kept.Response.Set))
	}
	absent := respond(st, "https", headers{{":status", "200"}})
	if !slices.Equal(names(absent.Response.Set), names(Strict)) {
		t.Errorf("upstream sent neither: set %v", names(absent.Response.Set))
	}
	again := respond(st, "https", headers{{":status", "200"}})
	if !slices.Equal(names(again.Response.Set), names(Strict)) {
		t.Errorf("the policy's own edits changed by an earlier response: %v", names(again.Response.Set))
	}
}

func TestRequireHTTPS(t *testing.T) {
	st := compile(t, `{"require_https": true}`, "")
	early, ok := st.(stage.EarlyStage)
	if !ok {
		t.Fatalf("%T is not an early stage", st)
	}
	for scheme, want := range map[string]verdict.Reason{"https": verdict.None, "http": verdict.HTTPSRequired, "": verdict.HTTPSRequired} {
		s := &stage.Stream{Scheme: scheme}
		if d := early.BeforeAuthentication(s, s.Begin(headers{}, &stage.Worker{})); d.Reason != want {
			t.Errorf("scheme %q: %s, want %s", scheme, d.Reason.Code(), want.Code())
		}
	}
	if _, early := compile(t, "", "").(stage.EarlyStage); early {
		t.Error("without require_https the stage runs before authentication for nothing")
	}
	if _, ok := st.(stage.UnmatchedStage); !ok {
		t.Errorf("%T does not decide the streams no route matched", st)
	}
	if _, unmatched := compile(t, "", "").(stage.UnmatchedStage); unmatched {
		t.Error("without require_https the stage decides the streams no route matched for nothing")
	}
}

// TestUpstreamErrorBodies: a 5xx is replaced by a generic problem of the
// same status; other statuses, and routes without the option, are not, and
// without the option the status is not even read.
func TestUpstreamErrorBodies(t *testing.T) {
	on := compile(t, `{"replace_error_bodies": true}`, "")
	for status, want := range map[string]bool{"500": true, "503": true, "599": true, "404": false, "200": false, "5xx": false, "": false} {
		s := respond(on, "https", headers{{":status", status}})
		if (s.ReplaceBody != nil) != want {
			t.Errorf("status %q: replacement %v, want %v", status, s.ReplaceBody != nil, want)
			continue
		}
		if !want {
			continue
		}
		var p struct {
			Type   string
			Status int
		}
		if err := json.Unmarshal(s.ReplaceBody.Data, &p); err != nil || p.Type != verdict.ProblemTypePrefix+UpstreamError || strconv.Itoa(p.Status) != status {
			t.Errorf("status %q: body %s (%v)", status, s.ReplaceBody.Data, err)
		}
		if !slices.Equal(s.ReplaceBody.Headers, [][2]string{{"content-type", "application/problem+json"}, {"x-content-type-options", "nosniff"}}) {
			t.Errorf("body headers %v", s.ReplaceBody.Headers)
		}
	}
	if s := respond(compile(t, "", ""), "https", panicking{}); s.ReplaceBody != nil {
		t.Error("replaced without the option")
	}
}

// panicking is a response no stage may read.
type panicking struct{}

func (panicking) Get(string) string         { panic("read a header") }
func (panicking) All() ([][2]string, error) { panic("read the headers") }

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, js, want string
	}{
		{name: "unknown preset", js: `{"security_headers": "lax"}`, want: `response.security_headers: must be one of`},
		{name: "upper-case name", js: `{"headers": {"X-Api": "1"}}`, want: `response.headers.X-Api: "X-Api" is not a lower-case header name`},
		{name: "framing header", js: `{"remove": ["content-length"]}`, want: `response.remove[0]: "content-length" frames the message`},
		{name: "CRLF in a value", js: `{"headers": {"x-api": "1\r\nset-cookie: a=b"}}`, want: `response.headers.x-api: a header value must be visible ASCII`},
		{name: "keep what is not set", js: `{"keep_upstream": ["x-unknown"]}`, want: `response.keep_upstream: "x-unknown" is not a header this policy sets`},
		{name: "require and assume https", js: `{"require_https": true, "assume_https": true}`, want: `response.require_https: cannot be combined with assume_https`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &config.Reader{}
			Global(r, "response", gjson.Parse(tc.js))
			if errs := r.Errors(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tc.want) {
				t.Errorf("errors %v, want %q", errs, tc.want)
			}
		})
	}
}

// TestInheritedStageIsShared: every route without its own "response" field
// gets the one stage compiled from the global settings, not a copy per
// route (1,000 routes used to compile 1,000 identical ones at start).
func TestInheritedStageIsShared(t *testing.T) {
	for _, global := range []string{"", `{"require_https": true}`, `{"security_headers": "off"}`} {
		t.Run(global, func(t *testing.T) {
			r := &config.Reader{}
			g := Global(r, "response", gjson.Parse(global))
			a := Compile(r, "routes[0].response", gjson.Result{}, g)
			b := Compile(r, "routes[1].response", gjson.Result{}, g)
			own := Compile(r, "routes[2].response", gjson.Parse(`{}`), g)
			if len(r.Errors()) > 0 {
				t.Fatal(r.Errors())
			}
			if a != b {
				t.Errorf("two routes without a field got different stages %p and %p", a, b)
			}
			if a != nil && a == own {
				t.Error("a route with its own field got the shared stage")
			}
		})
	}
}
