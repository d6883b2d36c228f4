package e2e

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/apiguard/apiguard/e2e/gateway"
)

// TestShippedConfigurationsAgreeAndLoad checks that envoy/envoy.yaml and the
// Istio WasmPlugin embed exactly envoy/apiguard.json, and that the plugin
// accepts it, so the examples work as shipped.
func TestShippedConfigurationsAgreeAndLoad(t *testing.T) {
	policy := readJSON(t, "../envoy/apiguard.json")

	var bootstrap map[string]any
	readYAML(t, "../envoy/envoy.yaml", &bootstrap)
	wasm := dig(t, bootstrap, "static_resources", "listeners", 0, "filter_chains", 0, "filters", 0, "typed_config",
		"http_filters", 0, "typed_config", "config")
	if dig(t, wasm, "configuration", "@type") != "type.googleapis.com/google.protobuf.StringValue" {
		t.Error("envoy.yaml: configuration must be a StringValue")
	}
	var embedded any
	if err := json.Unmarshal([]byte(dig(t, wasm, "configuration", "value").(string)), &embedded); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(embedded, policy) {
		t.Error("envoy.yaml embeds a policy other than envoy/apiguard.json")
	}
	if dig(t, wasm, "failure_policy") != "FAIL_CLOSED" {
		t.Error("envoy.yaml must fail closed")
	}

	var plugin map[string]any
	readYAML(t, "../envoy/wasmplugin.yaml", &plugin)
	if !reflect.DeepEqual(normalize(t, dig(t, plugin, "spec", "pluginConfig")), policy) {
		t.Error("wasmplugin.yaml's pluginConfig is not envoy/apiguard.json")
	}
	if dig(t, plugin, "spec", "failStrategy") != "FAIL_CLOSE" {
		t.Error("the WasmPlugin must fail closed")
	}

	raw, _ := os.ReadFile("../envoy/apiguard.json")
	if err := gateway.Check(module(t, "plugin.wasm"), raw); err != nil {
		t.Fatalf("the shipped policy does not load: %v", err)
	}
}

func readJSON(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// normalize gives YAML-decoded data JSON's types, so the two compare.
func normalize(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// dig walks maps by key and lists by index.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("no %q in %T", k, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("no [%d] in %T", k, v)
			}
			v = l[k]
		}
	}
	return v
}
