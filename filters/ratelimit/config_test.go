package ratelimit_test

import (
	"slices"
	"testing"

	"github.com/apiguard/apiguard/filters/pipeline"
)

func TestConfigErrorsAtTheirPaths(t *testing.T) {
	route := func(rl string) string {
		return `{"routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none", "rate_limit": ` + rl + `}]}`
	}
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{name: "a rule without its fields", config: route(`{"rules": [{}]}`), want: []string{
			"routes[0].rate_limit.rules[0].key: required", "routes[0].rate_limit.rules[0].name: required",
			"routes[0].rate_limit.rules[0].per: required", "routes[0].rate_limit.rules[0].rate: required"}},
		{name: "bad values", config: route(`{"rules": [{"name": "Bad Name", "key": ["ip"], "rate": 0, "per": "day", "burst": -1, "on_error": "ignore"}]}`), want: []string{
			"routes[0].rate_limit.rules[0].name: must be 1 to 64 of a-z, 0-9, _ and -",
			`routes[0].rate_limit.rules[0].key[0]: must be "peer", "x_forwarded_for", "route", "peer_identity", "claim:/<pointer>" or "header:<name>"`,
			"routes[0].rate_limit.rules[0].rate: must be a whole number from 1 to 1000000000",
			`routes[0].rate_limit.rules[0].per: must be one of ["second" "minute" "hour"], got "day"`,
			"routes[0].rate_limit.rules[0].burst: must be a whole number from 0 to 1000000000",
			`routes[0].rate_limit.rules[0].on_error: must be one of ["deny" "allow"], got "ignore"`}},
		{name: "a fallback that may be missing", config: route(`{"rules": [{"name": "u", "key": ["claim:/sub"], "fallback": ["header:x-id"], "rate": 1, "per": "second"}]}`),
			want: []string{"routes[0].rate_limit.rules[0].fallback[0]: a fallback must be present on every request: peer, x_forwarded_for or route"}},
		{name: "a peer identity fallback", config: route(`{"rules": [{"name": "u", "key": ["claim:/sub"], "fallback": ["peer_identity"], "rate": 1, "per": "second"}]}`),
			want: []string{"routes[0].rate_limit.rules[0].fallback[0]: a fallback must be present on every request: peer, x_forwarded_for or route"}},
		{name: "an overflowing burst", config: route(`{"rules": [{"name": "u", "key": ["peer"], "rate": 1, "per": "hour", "burst": 999999999}]}`),
			want: []string{"routes[0].rate_limit.rules[0]: burst × period / rate is over 146 years"}},
		{name: "two rules of one name on a route", config: `{"rate_limit": {"rules": [{"name": "u", "key": ["peer"], "rate": 1, "per": "second"}]},
			"routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none", "rate_limit": {"rules": [{"name": "u", "key": ["route"], "rate": 1, "per": "second"}]}}]}`,
			want: []string{`routes[0].rate_limit.rules[0].name: "u" names another rule of this route`}},
		{name: "trusted hops only at the top", config: route(`{"trusted_hops": 1, "rules": []}`),
			want: []string{"routes[0].rate_limit.trusted_hops: unknown field"}},
		{name: "a tier without its claim", config: route(`{"rules": [{"name": "u", "key": ["peer"], "rate": 1, "per": "second", "tiers": [{"has": "premium", "rate": 10}]}]}`),
			want: []string{"routes[0].rate_limit.rules[0].tiers[0].claim: required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := pipeline.Load([]byte(tc.config))
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("errors\n%q\nwant\n%q", got, want)
			}
		})
	}
}

func FuzzRateLimitConfig(f *testing.F) {
	for _, s := range []string{
		`{"rules": [{"name": "a", "key": ["peer"], "rate": 5, "per": "second", "burst": 4}]}`,
		`{"trusted_hops": 2, "headers": "draft_and_x", "rules": [{"name": "u", "key": ["claim:/sub", "route"], "fallback": ["x_forwarded_for"], "rate": 1, "per": "hour", "tiers": [{"claim": "/roles", "has": "premium", "rate": 10}], "shadow": true, "on_error": "allow", "slots": 7}]}`,
		`"none"`, `{"rules": []}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, section string) {
		p, errs := pipeline.Load([]byte(`{"rate_limit": ` + section + `, "routes": [{"name": "a", "match": {"path": "/a"}, "auth": "none"}]}`))
		if (p == nil) == (len(errs) == 0) {
			t.Errorf("pipeline %v with errors %v", p != nil, errs)
		}
	})
}
