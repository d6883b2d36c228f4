package envoy

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"gopkg.in/yaml.v3"
	extensionsv1alpha1 "istio.io/api/extensions/v1alpha1"
	clientv1alpha1 "istio.io/client-go/pkg/apis/extensions/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// loadWasmPlugin reads a WasmPlugin manifest strictly, three ways, as an
// API server with strict field validation would: the object through
// client-go's scheme (a kind or apiVersion it does not register, or an
// unknown field of the envelope or metadata, is an error), the spec through
// istio.io/api's proto (an unknown field or enum value is an error: the
// generated UnmarshalJSON that client-go uses allows unknown fields, so the
// spec is parsed again with protojson), and the whole document against the
// CRD's published OpenAPI schema.
func loadWasmPlugin(doc []byte, crd *schema) (*clientv1alpha1.WasmPlugin, error) {
	scheme := runtime.NewScheme()
	if err := clientv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	s := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	obj, _, err := s.Decode(doc, nil, nil)
	if err != nil {
		return nil, err
	}
	wp, ok := obj.(*clientv1alpha1.WasmPlugin)
	if !ok {
		return nil, fmt.Errorf("a %T, not a WasmPlugin", obj)
	}
	b, err := yamlToJSON(doc)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	var spec extensionsv1alpha1.WasmPlugin
	if err := protojson.Unmarshal(raw.Spec, &spec); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	var v any
	_ = json.Unmarshal(b, &v)
	var errs []string
	crd.check("", v, &errs)
	if len(errs) > 0 {
		return nil, fmt.Errorf("CRD schema: %s", strings.Join(errs, "; "))
	}
	return wp, nil
}

// schema is the part of OpenAPI v3 that Istio's CRD schemas use, checked as
// the API server checks a structural schema with strict field validation.
// Its CEL rules (x-kubernetes-validations) are not evaluated: for a
// WasmPlugin they forbid wildcards in selector labels, more than one of
// selector, targetRef and targetRefs, and url schemes other than http,
// https, oci and file, none of which envoy/wasmplugin.yaml comes near.
type schema struct {
	Type                 string             `yaml:"type"`
	Properties           map[string]*schema `yaml:"properties"`
	AdditionalProperties *schema            `yaml:"additionalProperties"`
	Items                *schema            `yaml:"items"`
	Required             []string           `yaml:"required"`
	Enum                 []any              `yaml:"enum"`
	Pattern              string             `yaml:"pattern"`
	Format               string             `yaml:"format"`
	MinLength            *int               `yaml:"minLength"`
	MaxLength            *int               `yaml:"maxLength"`
	MaxItems             *int               `yaml:"maxItems"`
	MaxProperties        *int               `yaml:"maxProperties"`
	Nullable             bool               `yaml:"nullable"`
	PreserveUnknown      bool               `yaml:"x-kubernetes-preserve-unknown-fields"`
	IntOrString          bool               `yaml:"x-kubernetes-int-or-string"`
}

func (s *schema) check(path string, v any, errs *[]string) {
	fail := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	if v == nil {
		if !s.Nullable {
			fail("must not be null")
		}
		return
	}
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		fail("%v is not one of %v", v, s.Enum)
	}
	if s.IntOrString {
		return
	}
	switch s.Type {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("must be an object")
			return
		}
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				fail("%s is required", r)
			}
		}
		if s.MaxProperties != nil && len(m) > *s.MaxProperties {
			fail("more than %d properties", *s.MaxProperties)
		}
		for k, val := range m {
			switch p := s.Properties[k]; {
			case p != nil:
				p.check(join(path, k), val, errs)
			case s.AdditionalProperties != nil:
				s.AdditionalProperties.check(join(path, k), val, errs)
			case path == "" && slices.Contains([]string{"apiVersion", "kind", "metadata"}, k):
				// Every object's, left out of CRD schemas; the strict decoder checks them.
			case !s.PreserveUnknown:
				fail("unknown field %q", k)
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			fail("must be an array")
			return
		}
		if s.MaxItems != nil && len(l) > *s.MaxItems {
			fail("more than %d items", *s.MaxItems)
		}
		for i, item := range l {
			if s.Items != nil {
				s.Items.check(fmt.Sprintf("%s[%d]", path, i), item, errs)
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			fail("must be a string")
			return
		}
		if n := utf8.RuneCountInString(str); s.MinLength != nil && n < *s.MinLength || s.MaxLength != nil && n > *s.MaxLength {
			fail("length %d out of bounds", n)
		}
		if s.Pattern != "" && !regexp.MustCompile(s.Pattern).MatchString(str) {
			fail("%q does not match %s", str, s.Pattern)
		}
	case "integer":
		n, ok := v.(float64)
		if !ok || n != math.Trunc(n) || s.Format == "int32" && (n < math.MinInt32 || n > math.MaxInt32) {
			fail("must be an integer (%s)", s.Format)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("must be a boolean")
		}
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// wasmPluginSchema is the WasmPlugin CRD's schema as istio.io/api publishes
// it (kubernetes/customresourcedefinitions.gen.yaml), for the version the
// manifest names.
func wasmPluginSchema(t *testing.T, version string) *schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api").Output()
	if err != nil {
		t.Fatalf("go list -m istio.io/api: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "kubernetes", "customresourcedefinitions.gen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	for {
		var crd struct {
			Metadata struct{ Name string }
			Spec     struct {
				Versions []struct {
					Name   string
					Schema struct {
						OpenAPIV3Schema schema `yaml:"openAPIV3Schema"`
					}
				}
			}
		}
		if err := dec.Decode(&crd); err != nil {
			t.Fatalf("no WasmPlugin %s schema in istio.io/api's CRDs: %v", version, err)
		}
		if crd.Metadata.Name != "wasmplugins.extensions.istio.io" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Name == version {
				return &v.Schema.OpenAPIV3Schema
			}
		}
	}
}

// TestIstioManifestsAreValid: every Istio manifest under envoy/ (every YAML
// file but the Envoy bootstrap) is a WasmPlugin that client-go, istio.io/api
// and the CRD schema all accept as written, and fails closed. A manifest of
// another kind fails here until its scheme and schema are added.
func TestIstioManifestsAreValid(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = slices.DeleteFunc(files, func(f string) bool { return f == "envoy.yaml" })
	if !slices.Contains(files, "wasmplugin.yaml") {
		t.Fatalf("Istio manifests %v: want wasmplugin.yaml among them", files)
	}
	crd := wasmPluginSchema(t, clientv1alpha1.SchemeGroupVersion.Version)
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			doc, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			wp, err := loadWasmPlugin(doc, crd)
			if err != nil {
				t.Fatal(err)
			}
			if wp.Spec.GetFailStrategy() != extensionsv1alpha1.FailStrategy_FAIL_CLOSE || wp.Spec.GetPhase() != extensionsv1alpha1.PluginPhase_AUTHN {
				t.Errorf("fail strategy %v, phase %v: want FAIL_CLOSE in AUTHN", wp.Spec.GetFailStrategy(), wp.Spec.GetPhase())
			}
		})
	}
}

// TestIstioValidationCatchesMistakes: each edit is a mistake one of the
// three checks must catch.
func TestIstioValidationCatchesMistakes(t *testing.T) {
	doc, err := os.ReadFile("wasmplugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := wasmPluginSchema(t, clientv1alpha1.SchemeGroupVersion.Version)
	tests := []struct {
		name, old, new, want string
	}{
		{name: "an apiVersion client-go does not register", old: "extensions.istio.io/v1alpha1", new: "extensions.istio.io/v1beta9", want: "no kind"},
		{name: "misspelt metadata field", old: "  namespace: istio-system", new: "  namepsace: istio-system", want: "namepsace"},
		{name: "misspelt spec field", old: "failStrategy: FAIL_CLOSE", new: "failStrategey: FAIL_CLOSE", want: "failStrategey"},
		{name: "unknown enum value", old: "phase: AUTHN", new: "phase: AUTHENTICATION", want: "AUTHENTICATION"},
		{name: "no url", old: "  url: oci://registry.example.com/apiguard:latest\n", new: "", want: "url is required"},
		{name: "a sha256 that is not a hex digest", old: "  imagePullPolicy: IfNotPresent", new: "  sha256: sha256:1234\n  imagePullPolicy: IfNotPresent", want: "spec.sha256"},
		{name: "an empty plugin name", old: "pluginName: apiguard", new: `pluginName: ""`, want: "spec.pluginName: length 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadWasmPlugin(edit(t, doc, tc.old, tc.new), crd)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
