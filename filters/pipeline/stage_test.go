package pipeline

import (
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

// denyHeader is a throwaway stage, as a package under filters/ would write
// it: it denies a request whose header has a given value, and tells the
// upstream the order id the route captured.
type denyHeader struct{ name, value string }

func compileDenyHeader(r *config.Reader, path string, v gjson.Result, _ any) stage.Stage {
	var d denyHeader
	r.Object(path, v, config.Fields{
		"header": {Required: true, Read: func(p string, v gjson.Result) { d.name, _ = r.Str(p, v) }},
		"value":  {Required: true, Read: func(p string, v gjson.Result) { d.value, _ = r.Str(p, v) }},
	})
	return d
}

func (d denyHeader) RequestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	headers, err := in.All()
	if err != nil {
		return verdict.Deny(verdict.Internal, "cannot read request headers")
	}
	for _, kv := range headers {
		if kv[0] == d.name && kv[1] == d.value {
			return verdict.Deny(verdict.BadRequest, "header value refused")
		}
	}
	id, _ := s.Params.Get("id")
	s.Edits.Add(stage.Edits{Set: [][2]string{{"x-order-id", id}}})
	return verdict.Decision{}
}

// TestAddingAStage shows what a new stage takes: its package (above) and
// one line in Stages. The glue applies its edits like any other.
func TestAddingAStage(t *testing.T) {
	defer func(saved []stage.Spec) { Stages = saved }(Stages)
	Stages = append(Stages, stage.Spec{Key: "deny_header", Compile: compileDenyHeader}) // the one line

	p, errs := Load([]byte(`{"routes": [
		{"name": "orders", "match": {"path": "/orders/{id}"}, "auth": "none", "deny_header": {"header": "x-debug", "value": "1"}},
		{"name": "other", "match": {"path": "/other"}, "auth": "none"}]}`))
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		name    string
		path    string
		debug   string
		want    verdict.Reason
		wantSet [][2]string
	}{
		{name: "the refused value", path: "/orders/7", debug: "1", want: verdict.BadRequest},
		{name: "another value", path: "/orders/7", debug: "0", wantSet: [][2]string{{"x-order-id", "7"}}},
		{name: "a route without the stage", path: "/other", debug: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s stage.Stream
			d := p.RequestHeaders(&s, headers{{":method", "GET"}, {":path", tc.path}, {":authority", "a.example"}, {"x-debug", tc.debug}}, p.NewWorker(&hosttest.Host{}))
			if d.Reason != tc.want || len(s.Edits.Set) != len(tc.wantSet) || len(tc.wantSet) > 0 && s.Edits.Set[0] != tc.wantSet[0] {
				t.Errorf("reason %s, set %v; want %s, %v", d.Reason.Code(), s.Edits.Set, tc.want.Code(), tc.wantSet)
			}
		})
	}

	_, errs = Load([]byte(`{"routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none", "deny_header": {"header": "x-debug"}}]}`))
	if len(errs) != 1 || errs[0].Error() != "routes[0].deny_header.value: required" {
		t.Errorf("errors %v", errs)
	}
	if _, errs := Load([]byte(`{"routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none", "deny_headers": {}}]}`)); len(errs) != 1 ||
		!strings.HasSuffix(errs[0].Error(), "deny_headers: unknown field") {
		t.Errorf("a misspelt stage field: errors %v", errs)
	}
}

// nosniff is a throwaway response stage: it hardens the route's responses
// with a header and drops the upstream's Server header. It takes no part in
// the request.
type nosniff struct{}

func compileNosniff(r *config.Reader, path string, v gjson.Result, _ any) stage.Stage {
	r.Object(path, v, config.Fields{})
	return nosniff{}
}

func (nosniff) RequestHeaders(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}

func (nosniff) ResponseHeaders(s *stage.Stream, _ *stage.Input) {
	s.Response.Add(stage.Edits{Remove: []string{"server"}, Set: [][2]string{{"x-content-type-options", "nosniff"}}})
}

// TestAddingAResponseStage shows a stage that takes part in the
// response-headers phase: it implements stage.ResponseHeadersStage, and
// only its routes run the phase, allowed or denied.
func TestAddingAResponseStage(t *testing.T) {
	defer func(saved []stage.Spec) { Stages = saved }(Stages)
	Stages = append(Stages, stage.Spec{Key: "deny_header", Compile: compileDenyHeader},
		stage.Spec{Key: "nosniff", Compile: compileNosniff}) // the one line

	p, errs := Load([]byte(`{"routes": [
		{"name": "orders", "match": {"path": "/orders/{id}"}, "auth": "none", "deny_header": {"header": "x-debug", "value": "1"}, "nosniff": {}},
		{"name": "other", "match": {"path": "/other"}, "auth": "none", "deny_header": {"header": "x-debug", "value": "1"}}],
		"response": {"security_headers": "off"}}`)) // the shipped hardening off, to see the throwaway stage alone
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		name       string
		path       string
		debug      string
		wantDenied bool
		wantEdits  bool
	}{
		{name: "allowed", path: "/orders/7", debug: "0", wantEdits: true},
		{name: "denied, the local reply hardened too", path: "/orders/7", debug: "1", wantDenied: true, wantEdits: true},
		{name: "a route without the stage", path: "/other", debug: "0"},
		{name: "no route", path: "/none", debug: "0", wantDenied: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s stage.Stream
			d := p.RequestHeaders(&s, headers{{":method", "GET"}, {":path", tc.path}, {":authority", "a.example"}, {"x-debug", tc.debug}}, p.NewWorker(&hosttest.Host{}))
			if d.Denied() != tc.wantDenied {
				t.Fatalf("decision %s, want denied %v", d.Reason.Code(), tc.wantDenied)
			}
			if (len(s.Responders) > 0) != tc.wantEdits {
				t.Fatalf("%d responders, want the phase %v", len(s.Responders), tc.wantEdits)
			}
			if len(s.Responders) > 0 {
				p.ResponseHeaders(&s, headers{{":status", "200"}}, p.NewWorker(&hosttest.Host{}))
			}
			got := len(s.Response.Set) == 1 && s.Response.Set[0] == [2]string{"x-content-type-options", "nosniff"} &&
				len(s.Response.Remove) == 1 && s.Response.Remove[0] == "server"
			if got != tc.wantEdits || !tc.wantEdits && (len(s.Response.Set) > 0 || len(s.Response.Remove) > 0) {
				t.Errorf("response edits %+v, want them %v", s.Response, tc.wantEdits)
			}
		})
	}
}

// peerLimit is a throwaway early stage: before authentication it refuses
// a peer address the host names, and after it records the principal's
// provider for the response, through the stream and the host's counters.
type peerLimit struct {
	blocked string
	refused *stage.Counter
}

func compilePeerLimit(r *config.Reader, path string, v gjson.Result, _ any) stage.Stage {
	pl := peerLimit{refused: stage.NewCounter("apiguard.peer_limit.refused")}
	r.Object(path, v, config.Fields{
		"blocked": {Required: true, Read: func(p string, v gjson.Result) { pl.blocked, _ = r.Str(p, v) }},
	})
	return pl
}

func (pl peerLimit) BeforeAuthentication(s *stage.Stream, in *stage.Input) verdict.Decision {
	peer, err := in.Worker().Host.Property("source", "address")
	if err != nil || string(peer) == pl.blocked {
		in.Worker().Count(pl.refused, 1)
		return verdict.Deny(verdict.BadRequest, "peer refused")
	}
	return verdict.Decision{}
}

func (pl peerLimit) AppendCounters(dst []*stage.Counter) []*stage.Counter {
	return append(dst, pl.refused)
}

func (pl peerLimit) RequestHeaders(s *stage.Stream, _ *stage.Input) verdict.Decision {
	s.Keep(pl, s.Principal.Provider)
	return verdict.Decision{}
}

// TestAnEarlyStageRunsBeforeAuthentication: a blocked peer is refused
// without a token being asked for; others meet authentication first, and
// the stage's later part sees the verified principal.
func TestAnEarlyStageRunsBeforeAuthentication(t *testing.T) {
	defer func(saved []stage.Spec) { Stages = saved }(Stages)
	Stages = append(Stages, stage.Spec{Key: "peer_limit", Compile: compilePeerLimit})

	p, errs := Load([]byte(`{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": {"keys": [{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "alg": "HS256"}]}}}},
		"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": {"providers": ["idp"]}, "peer_limit": {"blocked": "10.0.0.9:4000"}}]}`))
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		peer string
		want verdict.Reason
	}{
		{peer: "10.0.0.9:4000", want: verdict.BadRequest},
		{peer: "10.0.0.1:4000", want: verdict.TokenMissing},
	} {
		h := &hosttest.Host{Properties: map[string][]byte{"source.address": []byte(tc.peer)}}
		var s stage.Stream
		d := p.RequestHeaders(&s, headers{{":method", "GET"}, {":path", "/orders"}, {":authority", "a.example"}}, p.NewWorker(h))
		if d.Reason != tc.want {
			t.Errorf("peer %s: %s, want %s", tc.peer, d.Reason.Code(), tc.want.Code())
		}
		if refused := h.Counter("apiguard.peer_limit.refused"); refused != 0 != (tc.want == verdict.BadRequest) {
			t.Errorf("peer %s: refused counter %d", tc.peer, refused)
		}
		var pl stage.Stage
		for _, st := range s.Stages {
			if _, ok := st.(peerLimit); ok {
				pl = st
			}
		}
		if pl == nil || s.Kept(pl) != nil {
			t.Errorf("peer %s: the stage's later part ran on a denied request", tc.peer)
		}
	}
}

// TestKeptValuesAreTheStagesOwn: what one stage keeps in a stream is its
// own, replaced by its next Keep, and gone after Reset.
func TestKeptValuesAreTheStagesOwn(t *testing.T) {
	a, b := peerLimit{blocked: "a"}, peerLimit{blocked: "b"}
	var s stage.Stream
	s.Keep(a, 1)
	s.Keep(b, 2)
	s.Keep(a, 3)
	if s.Kept(a) != 3 || s.Kept(b) != 2 {
		t.Errorf("kept a=%v b=%v, want 3 and 2", s.Kept(a), s.Kept(b))
	}
	s.Reset()
	if s.Kept(a) != nil || s.Kept(b) != nil {
		t.Errorf("after Reset: a=%v b=%v", s.Kept(a), s.Kept(b))
	}
}

// TestAStagesGlobalSettings: a stage with a top-level field (Spec.Global)
// runs on every route from those settings, and a route's own field
// overrides them; an error in either is reported once, at its path.
func TestAStagesGlobalSettings(t *testing.T) {
	defer func(saved []stage.Spec) { Stages = saved }(Stages)
	Stages = append(Stages, stage.Spec{
		Key:    "deny_header",
		Global: func(r *config.Reader, p string, v gjson.Result) any { return compileDenyHeader(r, p, v, nil) },
		Compile: func(r *config.Reader, p string, v gjson.Result, global any) stage.Stage {
			if !v.Exists() {
				return global.(denyHeader)
			}
			return compileDenyHeader(r, p, v, nil)
		},
	})
	p, errs := Load([]byte(`{"routes": [
		{"name": "orders", "match": {"path": "/orders/{id}"}, "auth": "none"},
		{"name": "other", "match": {"path": "/other"}, "auth": "none", "deny_header": {"header": "x-debug", "value": "2"}}],
		"deny_header": {"header": "x-debug", "value": "1"}}`))
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		path, debug string
		want        verdict.Reason
	}{
		{"/orders/1", "1", verdict.BadRequest},
		{"/orders/1", "2", verdict.None},
		{"/other", "1", verdict.None},
		{"/other", "2", verdict.BadRequest},
	} {
		var s stage.Stream
		if d := p.RequestHeaders(&s, headers{{":method", "GET"}, {":path", tc.path}, {":authority", "a.example"}, {"x-debug", tc.debug}}, p.NewWorker(&hosttest.Host{})); d.Reason != tc.want {
			t.Errorf("%s with x-debug %s: %s, want %s", tc.path, tc.debug, d.Reason.Code(), tc.want.Code())
		}
	}
	_, errs = Load([]byte(`{"routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none"}, {"name": "b", "match": {"path": "/b"}, "auth": "none"}],
		"deny_header": {"header": "x-debug"}}`))
	if len(errs) != 1 || errs[0].Error() != "deny_header.value: required" {
		t.Errorf("errors %v", errs)
	}
}

// orderID is a throwaway stage that names a path parameter.
type orderID struct{ path string }

func (orderID) RequestHeaders(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}

func (o orderID) AppendPathParams(dst []stage.ParamUse) []stage.ParamUse {
	return append(dst, stage.ParamUse{Name: "id", Path: o.path, Sub: ".param"})
}

// TestAStageNamesOnlyCapturedParameters: a stage naming a path parameter
// its route's template does not capture refuses the configuration.
func TestAStageNamesOnlyCapturedParameters(t *testing.T) {
	defer func(saved []stage.Spec) { Stages = saved }(Stages)
	Stages = append(Stages, stage.Spec{Key: "order_id", Compile: func(r *config.Reader, p string, v gjson.Result, _ any) stage.Stage {
		return orderID{p}
	}})
	_, errs := Load([]byte(`{"routes": [
		{"name": "a", "match": {"path": "/orders/{id}"}, "auth": "none", "order_id": {}},
		{"name": "b", "match": {"path": "/orders/{order}/items"}, "auth": "none", "order_id": {}}]}`))
	if len(errs) != 1 || errs[0].Error() != "routes[1].order_id.param: the route's path template captures no parameter {id}" {
		t.Errorf("errors %v", errs)
	}
}

// TestEveryCounterIsDefinedOnceWhenAWorkerStarts: a worker defines the
// counters of every stage before its first request, so each series exists
// at zero from the first scrape, once per name even when routes share a
// rule, and only those a route can count: an enforced rule has no
// shadow_limited, a dry-run policy counts its denials as dry_run, an
// always-denied route has one reason.
func TestEveryCounterIsDefinedOnceWhenAWorkerStarts(t *testing.T) {
	p, errs := Load([]byte(`{
  "providers": {"idp": {"issuer": "https://idp.example.com/", "audiences": ["api"], "jwks": {"remote": {"cluster": "c", "authority": "a", "path": "/j"}}}},
  "rate_limit": {"rules": [{"name": "per-peer", "key": ["peer"], "rate": 5, "per": "second"}],
                 "global": [{"name": "per-tenant", "cluster": "rls", "domain": "d", "descriptors": [{"key": "k", "value": "v"}],
                             "failure_mode": "allow", "fallback": {"name": "fallback", "key": ["peer"], "rate": 1, "per": "second"}}]},
  "routes": [
    {"name": "a", "match": {"path": "/a"}, "auth": {"providers": ["idp"]}, "authz": {"allow": "authenticated"}, "validate": {},
     "rate_limit": {"rules": [{"name": "shadow", "key": ["peer"], "rate": 1, "per": "hour", "shadow": true}]}},
    {"name": "b", "match": {"path": "/b"}, "auth": {"providers": ["idp"]}, "authz": {"dry_run": true, "allow": "authenticated"}},
    {"name": "c", "match": {"path": "/c"}, "auth": "none", "authz": {"deny_all": true}}
  ]}`))
	if errs != nil {
		t.Fatal(errs)
	}
	h := &hosttest.Host{}
	p.NewWorker(h)
	got := h.Definitions()
	var want []string
	for _, rule := range []string{"per-peer", "fallback"} {
		for _, c := range []string{"allowed", "cas_retries", "errors", "limited"} {
			want = append(want, "apiguard.ratelimit."+rule+"."+c)
		}
	}
	for _, c := range []string{"allowed", "cas_retries", "errors", "shadow_limited"} {
		want = append(want, "apiguard.ratelimit.shadow."+c)
	}
	for _, c := range []string{"allowed", "limited", "errors"} {
		want = append(want, "apiguard.ratelimit.global.per-tenant."+c)
	}
	for _, kind := range []string{"header", "path", "query", "body", "media_type"} {
		want = append(want, "apiguard.validate.failed."+kind)
	}
	for _, r := range []string{"forbidden", "insufficient_scope", "method_override", "internal"} {
		want = append(want, "apiguard.authz.a.denied."+r)
	}
	for _, r := range []string{"forbidden", "insufficient_scope", "method_override"} {
		want = append(want, "apiguard.authz.b.dry_run."+r)
	}
	want = append(want, "apiguard.authz.b.denied.internal", "apiguard.authz.c.denied.forbidden")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("defined\n%v\nwant\n%v", got, want)
	}
}
