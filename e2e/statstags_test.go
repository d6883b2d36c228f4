package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/envoystats"
	"github.com/apiguard/apiguard/e2e/host"
)

// TestTheShippedStatsTagsLabelEveryMetric runs a scripted sequence through
// a policy with every kind of metric, then applies the stats_tags that
// envoy/envoy.yaml ships to every name the plugin defined (as Envoy prefixes
// them, wasmcustom.): each becomes one of a few fixed names, with its route,
// reason, provider or rule as tags, so Prometheus sees one series per label
// value rather than one name per route and reason.
func TestTheShippedStatsTagsLabelEveryMetric(t *testing.T) {
	tagger := shippedTagger(t)

	policy := observedPolicy("")
	g := startGateway(t, policy, 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	reader := tenantToken("acme", `["reader"]`)
	for _, req := range []host.Request{
		request("GET", "/tenants/acme/orders", reader...),
		request("GET", "/tenants/acme/orders", reader...),
		request("GET", "/tenants/globex/orders", reader...),
		request("GET", "/tenants/acme/orders"),
		request("GET", "/tenants/acme/reports", reader...),
		request("GET", "/tenants/acme/reports", reader...),
		request("GET", "/nowhere"),
	} {
		g.send(req)
	}

	want := map[string]map[string]string{
		"apiguard.requests.allowed":                        {},
		"apiguard.requests.denied.token_missing":           {"reason": "token_missing"},
		"apiguard.requests.denied.no_route":                {"reason": "no_route"},
		"apiguard.route.orders.allowed":                    {"route": "orders"},
		"apiguard.route.orders.denied":                     {"route": "orders"},
		"apiguard.authn.idp.verified":                      {"provider": "idp"},
		"apiguard.authn.idp.denied.token_expired":          {"provider": "idp", "reason": "token_expired"},
		"apiguard.authn.idp.cache_hits":                    {"provider": "idp"},
		"apiguard.authz.orders.denied.forbidden":           {"route": "orders", "reason": "forbidden"},
		"apiguard.authz.reports.dry_run.forbidden":         {"route": "reports", "reason": "forbidden"},
		"apiguard.ratelimit.per-user.limited":              {"rule": "per-user"},
		"apiguard.ratelimit.reports-shadow.shadow_limited": {"rule": "reports-shadow"},
		"apiguard.ratelimit.per-user.allowed":              {"rule": "per-user"},
		"apiguard.ratelimit.global.per-tenant.errors":      {"rule": "per-tenant"},
		"apiguard.jwks.idp.fetched":                        {"provider": "idp"},
		"apiguard.validate.failed.query":                   {"kind": "query"},
	}
	names := g.env.MetricNames()
	for name := range want {
		if !slices.Contains(names, name) && !strings.Contains(name, ".global.") && !strings.HasPrefix(name, "apiguard.jwks.") && !strings.HasPrefix(name, "apiguard.validate.") {
			t.Errorf("the sequence did not define %s; defined: %v", name, names)
		}
	}
	// Every name the plugin defined, and the families this policy does
	// not have (global rules, remote JWKS, validation), as Envoy would see
	// them.
	for name := range want {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	families := map[string]bool{}
	for _, name := range names {
		if !strings.HasPrefix(name, "apiguard.") {
			continue
		}
		extracted, list := tagger.Extract(envoystats.WasmNamespace + "." + name)
		tags := map[string]string{}
		for _, tag := range list {
			tags[tag.Name] = tag.Value
		}
		families[extracted] = true
		if w, ok := want[name]; ok && fmt.Sprint(tags) != fmt.Sprint(w) {
			t.Errorf("%s: tags %v, want %v", name, tags, w)
		}
		for _, v := range tags {
			if strings.Contains(extracted, "."+v+".") || strings.HasSuffix(extracted, "."+v) {
				t.Errorf("%s: the value %q stays in the extracted name %s", name, v, extracted)
			}
		}
	}
	var got []string
	for f := range families {
		got = append(got, f)
	}
	slices.Sort(got)
	t.Logf("tag-extracted names: %v", got)
	for _, f := range got {
		for _, v := range []string{"orders", "reports", "idp", "per-user", "forbidden", "token_missing"} {
			if strings.Contains(f, "."+v) {
				t.Errorf("extracted name %s still names %s", f, v)
			}
		}
	}
}

// TestARouteNameWithDotsIsOneLabel: a dot in a route's name would move the
// shipped regexes' split; the plugin counts the route under its name with
// underscores instead, which the tags carry whole.
func TestARouteNameWithDotsIsOneLabel(t *testing.T) {
	tagger := shippedTagger(t)
	g := startGateway(t, `{"routes": [{"name": "orders.v1", "match": {"path": "/v1/orders"}, "auth": "none"}]}`, 1)
	if got := g.send(request("GET", "/v1/orders")).Status; got != 200 {
		t.Fatalf("status %d, want 200", got)
	}
	const name = "apiguard.route.orders_v1.allowed"
	if !slices.Contains(g.env.MetricNames(), name) {
		t.Fatalf("%s not defined; defined: %v", name, g.env.MetricNames())
	}
	extracted, tags := tagger.Extract(envoystats.WasmNamespace + "." + name)
	if extracted != "wasmcustom.apiguard.route.allowed" || len(tags) != 1 || tags[0].Name != "route" || tags[0].Value != "orders_v1" {
		t.Errorf("%s: extracted %s with tags %v, want wasmcustom.apiguard.route.allowed with route=orders_v1", name, extracted, tags)
	}
}

// shippedTagger is the tag extraction of the stats_tags envoy/envoy.yaml
// ships.
func shippedTagger(t *testing.T) *envoystats.Tagger {
	t.Helper()
	raw, err := os.ReadFile("../envoy/envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tagger, err := envoystats.LoadTagger(raw)
	if err != nil {
		t.Fatal(err)
	}
	return tagger
}
