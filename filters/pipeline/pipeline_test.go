package pipeline

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/pipeline/pipelinetest"
	"github.com/apiguard/apiguard/filters/route"
)

// policy is the subset of filter JSON the routing table uses.
type policy struct {
	Routes []struct {
		Name  string `json:"name"`
		Match struct {
			Path        string   `json:"path"`
			Methods     []string `json:"methods"`
			StrictSlash bool     `json:"strict_slash"`
			Hosts       []string `json:"hosts"`
		} `json:"match"`
		Auth json.RawMessage `json:"auth"`
	} `json:"routes"`
	Hosts map[string]struct {
		Default string `json:"default"`
	} `json:"hosts"`
	Default   string `json:"default"`
	Providers map[string]struct {
		Issuer    string   `json:"issuer"`
		Audiences []string `json:"audiences"`
	} `json:"providers"`
}

// config is the table's policy as the plugin would compile it; no request
// in the table carries a token, so providers need no keys.
func (pol policy) config(t *testing.T) Config {
	var cfg Config
	for name, pc := range pol.Providers {
		cfg.Providers = append(cfg.Providers, authn.ProviderConfig{Name: name, JWT: jwt.Config{Issuer: pc.Issuer, Audiences: pc.Audiences}})
	}
	for _, r := range pol.Routes {
		rt := Route{Name: r.Name, Match: route.Spec{Path: r.Match.Path, Methods: r.Match.Methods, StrictSlash: r.Match.StrictSlash, Hosts: r.Match.Hosts}}
		if string(r.Auth) == `"none"` {
			rt.Public = true
		} else if err := json.Unmarshal(r.Auth, &rt.Auth); err != nil {
			t.Fatalf("route %s: auth: %v", r.Name, err)
		}
		cfg.Routes = append(cfg.Routes, rt)
	}
	for _, pattern := range slices.Sorted(maps.Keys(pol.Hosts)) {
		cfg.Hosts = append(cfg.Hosts, Host{Pattern: pattern, DefaultAllow: pol.Hosts[pattern].Default == "allow"})
	}
	cfg.DefaultAllow = pol.Default == "allow"
	return cfg
}

func TestRoutingTable(t *testing.T) {
	table, err := pipelinetest.Load("testdata/routing.json")
	if err != nil {
		t.Fatal(err)
	}
	var pol policy
	if err := json.Unmarshal(table.Policy, &pol); err != nil {
		t.Fatal(err)
	}
	p, errs := Compile(pol.config(t))
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range table.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			var params route.Params
			authority, scheme := tc.Target()
			out := p.Request(Request{Method: tc.Method, Path: tc.Path, Authority: authority, Scheme: scheme}, &params)
			if !out.Denied() {
				out.Decision = p.Authenticate(out.RouteIndex, authn.Input{}).Decision
			}
			status := 200
			if out.Denied() {
				status = out.Reason.Status()
			}
			if status != tc.Status || (tc.Reason != "" && out.Reason.Code() != tc.Reason) || out.Route != tc.Route {
				t.Fatalf("got status %d reason %s route %q, want %d %s %q", status, out.Reason.Code(), out.Route, tc.Status, tc.Reason, tc.Route)
			}
			if tc.Allow != "" && (len(out.Headers) != 1 || out.Headers[0][1] != tc.Allow) {
				t.Errorf("headers %v, want allow %q", out.Headers, tc.Allow)
			}
			if !out.Denied() {
				forwarded := out.Path
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
		{Name: "a", Match: route.Spec{Path: "/a"}, Public: true},
		{Name: "a", Match: route.Spec{Path: "/b"}, Public: true},
		{Name: "", Match: route.Spec{Path: "/c"}, Public: true},
		{Name: "d", Match: route.Spec{Path: "d"}, Public: true},
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

func TestMissingMethodIsABadRequest(t *testing.T) {
	p, _ := Compile(Config{DefaultAllow: true})
	var params route.Params
	if out := p.Request(Request{Path: "/", Authority: "a.example"}, &params); out.Reason.Code() != "bad_request" {
		t.Errorf("reason %s, want bad_request", out.Reason.Code())
	}
}
