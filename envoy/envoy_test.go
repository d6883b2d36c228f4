package envoy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"gopkg.in/yaml.v3"

	// The typed configs envoy.yaml names by "@type": importing a package
	// registers its types, so the parser can resolve them; an @type none of
	// these registers fails the test.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
)

// yamlToJSON converts a YAML document to JSON; YAML's duplicate keys are an
// error (yaml.v3), as they are to Envoy and Kubernetes.
func yamlToJSON(doc []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// loadBootstrap parses a bootstrap as Envoy does (YAML through the proto's
// JSON mapping: an unknown field or enum value, or an unresolvable @type, is
// an error) and runs the protoc-gen-validate rules Envoy enforces, in every
// message, those packed in Any fields included.
func loadBootstrap(doc []byte) (*bootstrapv3.Bootstrap, error) {
	b, err := yamlToJSON(doc)
	if err != nil {
		return nil, err
	}
	var bs bootstrapv3.Bootstrap
	if err := protojson.Unmarshal(b, &bs); err != nil {
		return nil, err
	}
	return &bs, validateAll(&bs)
}

// validateAll runs m's ValidateAll, then that of every message packed in an
// Any below it, which the generated validators leave unchecked.
func validateAll(m proto.Message) error {
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return err
		}
	}
	var err error
	eachAny(m.ProtoReflect(), func(a *anypb.Any) bool {
		var inner proto.Message
		if inner, err = a.UnmarshalNew(); err == nil {
			err = validateAll(inner)
		}
		return err == nil
	})
	return err
}

// eachAny calls f with every Any set in m, outermost first, until f returns
// false.
func eachAny(m protoreflect.Message, f func(*anypb.Any) bool) bool {
	if a, ok := m.Interface().(*anypb.Any); ok {
		return f(a)
	}
	ok := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		switch {
		case fd.IsList():
			for i := 0; ok && i < v.List().Len(); i++ {
				ok = eachAny(v.List().Get(i).Message(), f)
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					ok = eachAny(mv.Message(), f)
					return ok
				})
			}
		default:
			ok = eachAny(v.Message(), f)
		}
		return ok
	})
	return ok
}

// TestEnvoyBootstrapIsValid: envoy/envoy.yaml parses into Envoy's bootstrap
// proto with every extension's typed config, and passes Envoy's validation.
func TestEnvoyBootstrapIsValid(t *testing.T) {
	doc, err := os.ReadFile("envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bs, err := loadBootstrap(doc)
	if err != nil {
		t.Fatalf("envoy.yaml: %v", err)
	}
	var types []string
	eachAny(bs.ProtoReflect(), func(a *anypb.Any) bool { types = append(types, a.TypeUrl); return true })
	if len(types) == 0 {
		t.Error("envoy.yaml: no typed config found: the Any walk is broken")
	}
}

// TestEnvoyValidationCatchesMistakes: each edit is a mistake the schema
// check must catch, at parse time or in a validation rule, in the bootstrap
// and inside the typed configs it packs.
func TestEnvoyValidationCatchesMistakes(t *testing.T) {
	doc, err := os.ReadFile("envoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, old, new, want string
	}{
		{name: "misspelt field in a typed config", old: "normalize_path: true", new: "normalise_path: true", want: "normalise_path"},
		{name: "misspelt extension type", old: "filters.http.wasm.v3.Wasm", new: "filters.http.wasm.v3.WasmFilter", want: "WasmFilter"},
		{name: "unknown enum value", old: "failure_policy: FAIL_CLOSED", new: "failure_policy: FAIL_CLOSE", want: "FAIL_CLOSE"},
		{name: "rule in the bootstrap: port out of range", old: "port_value: 9901", new: "port_value: 99010", want: "PortValue"},
		{name: "rule in the bootstrap: cluster without a name", old: "- name: upstream", new: "- name: \"\"", want: "Name"},
		{name: "rule inside an Any: empty stat_prefix", old: "stat_prefix: ingress", new: "stat_prefix: \"\"", want: "StatPrefix"},
		{name: "rule two Anys deep: wasm code without a source", old: "local: {filename: /etc/envoy/plugin.wasm}", new: "local: {}", want: "Specifier"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadBootstrap(edit(t, doc, tc.old, tc.new))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// edit replaces old, which must occur once in doc, with new.
func edit(t *testing.T, doc []byte, old, new string) []byte {
	t.Helper()
	if n := strings.Count(string(doc), old); n != 1 {
		t.Fatalf("the file has %q %d times, want once", old, n)
	}
	return []byte(strings.Replace(string(doc), old, new, 1))
}
