package pipeline

import (
	"slices"
	"strconv"
	"testing"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
	"github.com/apiguard/apiguard/internal/testkit/pipelinetest"
)

func TestRoutingTable(t *testing.T) {
	table, err := pipelinetest.Load("testdata/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	p, errs := Load(table.Policy)
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range table.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			authority, scheme := tc.Target()
			var s stage.Stream
			out := p.RequestHeaders(&s, headers{{":method", tc.Method}, {":path", tc.Path}, {":authority", authority}, {":scheme", scheme}}, p.NewWorker(&hosttest.Host{}))
			status := 200
			if out.Denied() {
				status = out.Reason.Status()
			}
			if status != tc.Status || (tc.Reason != "" && out.Reason.Code() != tc.Reason) || s.Route != tc.Route {
				t.Fatalf("got status %d reason %s route %q, want %d %s %q", status, out.Reason.Code(), s.Route, tc.Status, tc.Reason, tc.Route)
			}
			if tc.Allow != "" && (len(out.Headers()) != 1 || out.Headers()[0][1] != tc.Allow) {
				t.Errorf("headers %v, want allow %q", out.Headers(), tc.Allow)
			}
			if !out.Denied() {
				forwarded := s.Edits.Path
				if forwarded == "" {
					forwarded = tc.Path
				}
				if forwarded != tc.UpstreamPath {
					t.Errorf("upstream :path %q, want %q", forwarded, tc.UpstreamPath)
				}
			}
		})
	}
}

func TestCompileNamesDuplicateAndEmptyRoutes(t *testing.T) {
	_, errs := Compile(Config{Routes: []Route{
		{Name: "a", Match: route.Spec{Path: "/a"}, Auth: authn.RouteAuth{Public: true}},
		{Name: "a", Match: route.Spec{Path: "/b"}, Auth: authn.RouteAuth{Public: true}},
		{Name: "", Match: route.Spec{Path: "/c"}, Auth: authn.RouteAuth{Public: true}},
		{Name: "d", Match: route.Spec{Path: "d"}, Auth: authn.RouteAuth{Public: true}},
	}})
	want := []string{
		`routes[1].name: "a" duplicates routes[0].name`,
		"routes[2].name: must not be empty",
		`routes[3].match.path: "d" must start with /`,
	}
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want %d", errs, len(want))
	}
	for i, e := range errs {
		if e.Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, e, want[i])
		}
	}
}

// Dots in a route's name become underscores in its counters' names, where
// stats_tags split on dots; names that would then count as one are refused.
func TestRouteNamesThatWouldShareCounters(t *testing.T) {
	public := authn.RouteAuth{Public: true}
	tests := []struct {
		names []string
		want  []string
	}{
		{names: []string{"orders.v1", "orders.v2", "orders_v3"}},
		{names: []string{"orders_v1", "orders.v1"},
			want: []string{`routes[1].name: "orders.v1" counts in the metrics of routes[0].name "orders_v1": dots in a route's name become underscores in metric names`}},
		{names: []string{"orders.v1", "orders_v1"},
			want: []string{`routes[0].name: "orders.v1" counts in the metrics of routes[1].name "orders_v1": dots in a route's name become underscores in metric names`}},
		{names: []string{"a.b_c", "a_b.c"},
			want: []string{`routes[1].name: "a_b.c" and routes[0].name "a.b_c" would share the metric name "a_b_c": dots in a route's name become underscores there`}},
	}
	for _, tt := range tests {
		var routes []Route
		for i, n := range tt.names {
			routes = append(routes, Route{Name: n, Match: route.Spec{Path: "/r" + strconv.Itoa(i)}, Auth: public})
		}
		_, errs := Compile(Config{Routes: routes})
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: errors %q, want %q", tt.names, got, tt.want)
		}
	}
}

func TestMissingMethodIsABadRequest(t *testing.T) {
	p, _ := Compile(Config{DefaultAllow: true})
	if out := p.RequestHeaders(&stage.Stream{}, headers{{":path", "/"}, {":authority", "a.example"}}, p.NewWorker(&hosttest.Host{})); out.Reason.Code() != "bad_request" {
		t.Errorf("reason %s, want bad_request", out.Reason.Code())
	}
}

type headers = hosttest.Headers
