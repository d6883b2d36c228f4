package envoystats

import (
	"reflect"
	"testing"
)

const bootstrap = `
stats_config:
  stats_tags:
  - tag_name: reason
    regex: '^wasmcustom\.app\.denied(\.([^.]+))$'
  - tag_name: route
    regex: '^wasmcustom\.app\.route(\.([^.]+))\.'
  - tag_name: one_group
    regex: '^wasmcustom\.app\.single(\.[^.]+)$'
`

func tagger(t *testing.T) *Tagger {
	t.Helper()
	tg, err := LoadTagger([]byte(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func TestExtractCutsTheFirstGroupAndTagsTheSecond(t *testing.T) {
	tg := tagger(t)
	for _, tc := range []struct {
		name, stat, extracted string
		tags                  []Tag
	}{
		{name: "no specifier matches", stat: "wasmcustom.app.allowed", extracted: "wasmcustom.app.allowed"},
		{name: "one tag", stat: "wasmcustom.app.denied.no_route", extracted: "wasmcustom.app.denied", tags: []Tag{{"reason", "no_route"}}},
		{name: "a value with a dash", stat: "wasmcustom.app.route.orders-v2.allowed", extracted: "wasmcustom.app.route.allowed", tags: []Tag{{"route", "orders-v2"}}},
		{name: "one group is the value too", stat: "wasmcustom.app.single.x", extracted: "wasmcustom.app.single", tags: []Tag{{"one_group", ".x"}}},
		{name: "another namespace", stat: "cluster.x.upstream_rq_total", extracted: "cluster.x.upstream_rq_total"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extracted, tags := tg.Extract(tc.stat)
			if extracted != tc.extracted || !reflect.DeepEqual(tags, tc.tags) {
				t.Errorf("Extract(%s) = %s %v, want %s %v", tc.stat, extracted, tags, tc.extracted, tc.tags)
			}
		})
	}
}

func TestLoadTaggerRefusesWhatItCannotApply(t *testing.T) {
	for _, tc := range []struct{ name, yaml string }{
		{name: "fixed value", yaml: "stats_config:\n  stats_tags:\n  - tag_name: env\n    fixed_value: prod\n"},
		{name: "bad regex", yaml: "stats_config:\n  stats_tags:\n  - tag_name: x\n    regex: '('\n"},
		{name: "not yaml", yaml: "stats_config: ["},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := LoadTagger([]byte(tc.yaml)); err == nil {
				t.Error("loaded")
			}
		})
	}
}

func TestPrometheusIsEnvoysTextFormat(t *testing.T) {
	stats := []Stat{
		{Name: "wasmcustom.app.route.zeta.allowed", Type: Counter, Value: 1},
		{Name: "wasmcustom.app.route.alpha.allowed", Type: Counter, Value: 2},
		{Name: "wasmcustom.app.allowed", Type: Counter, Value: 3},
		{Name: "wasmcustom.app.denied.no_route", Type: Counter},
		{Name: "wasmcustom.app.route.we\"ird\\\nname.allowed", Type: Counter, Value: 4},
		{Name: "wasmcustom.app.in-flight", Type: Gauge, Value: 5},
		{Name: "wasmcustom.9lives", Type: Counter, Value: 6},
		{Name: "wasm.envoy.wasm.runtime.v8.created", Type: Counter, Value: 7},
		{Name: "wasmcustom.app.allowed.extra", Type: Counter, Value: 8},
		{Name: "wasmcustom.app-allowed", Type: Counter, Value: 9},
	}
	want := `# TYPE envoy_wasm_envoy_wasm_runtime_v8_created counter
envoy_wasm_envoy_wasm_runtime_v8_created{} 7
# TYPE app_allowed counter
app_allowed{} 3
# TYPE app_allowed_extra counter
app_allowed_extra{} 8
# TYPE app_denied counter
app_denied{reason="no_route"} 0
# TYPE app_route_allowed counter
app_route_allowed{route="alpha"} 2
app_route_allowed{route="we\"ird\\\nname"} 4
app_route_allowed{route="zeta"} 1
# TYPE app_allowed counter
app_allowed{} 9
# TYPE app_in_flight gauge
app_in_flight{} 5
`
	if got := string(Prometheus(stats, tagger(t), WasmNamespace)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestTextKeepsFullNamesInOrder(t *testing.T) {
	got := string(Text([]Stat{{Name: "wasmcustom.b", Value: 2}, {Name: "wasmcustom.a", Type: Gauge, Value: 1}}))
	if want := "wasmcustom.a: 1\nwasmcustom.b: 2\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
