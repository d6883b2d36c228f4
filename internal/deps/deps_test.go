package deps

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const (
	module = "github.com/apiguard/apiguard/"
	sdk    = "github.com/tetratelabs/proxy-wasm-go-sdk/"
	wazero = "github.com/tetratelabs/wazero"
)

// list runs go list from the module root with a template and returns the
// non-empty lines.
func list(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}

// pluginImports are the only module packages the glue may import: it asks
// the pipeline for decisions and applies them, it never decides. The remote
// JWKS I/O (plugin/jwks.go) also holds filters/jwks' fetch state and the key
// sets it yields; the audit record's writer (plugin/audit.go) hands
// filters/audit what it read from the host at the stream's end.
var pluginImports = []string{
	module + "filters/pipeline", module + "filters/stage", module + "filters/verdict", module + "filters/jwks", module + "filters/jwt", module + "filters/audit",
}

func TestDependencyRules(t *testing.T) {
	tests := []struct {
		name     string
		packages string
		// deps lists every dependency (go list -deps) rather than direct
		// imports.
		deps      bool
		forbidden func(pkg string) bool
	}{
		{
			name: "filters/ imports neither the SDK nor wazero nor plugin/ nor test fixtures", packages: "./filters/...", deps: true,
			forbidden: func(p string) bool {
				return strings.HasPrefix(p, sdk) || strings.HasPrefix(p, wazero) ||
					p == module+"plugin" || strings.HasPrefix(p, module+"internal/testkit")
			},
		},
		{
			name: "e2e/ production code imports nothing from filters/, plugin/ or the test fixtures", packages: "./e2e/...", deps: true,
			forbidden: func(p string) bool {
				return strings.HasPrefix(p, module+"filters/") || p == module+"plugin" || strings.HasPrefix(p, module+"internal/testkit")
			},
		},
		{
			name: "cmd/ imports no test fixtures", packages: "./cmd/...", deps: true,
			forbidden: func(p string) bool { return strings.HasPrefix(p, module+"internal/testkit") },
		},
		{
			name: "plugin.wasm holds no OpenAPI reader: the converter runs natively (cmd/apiguard-openapi)", packages: "./plugin", deps: true,
			forbidden: func(p string) bool {
				return strings.HasPrefix(p, "github.com/getkin/") || p == module+"internal/openapi"
			},
		},
		{
			name: "Envoy's and Istio's schema modules stay in tests (envoy/*_test.go), out of every shipped binary", packages: "./...", deps: true,
			forbidden: func(p string) bool {
				return strings.HasPrefix(p, "github.com/envoyproxy/go-control-plane/") || strings.HasPrefix(p, "istio.io/") || strings.HasPrefix(p, "k8s.io/")
			},
		},
		{
			name: "the Prometheus module stays in envoy/monitoring's own module, out of this one and of plugin.wasm", packages: "./...", deps: true,
			forbidden: func(p string) bool { return strings.HasPrefix(p, "github.com/prometheus/") },
		},
		{
			name: "plugin.wasm holds no generated protobuf types nor the protobuf runtime: filters/rls encodes by hand", packages: "./plugin", deps: true,
			forbidden: func(p string) bool {
				return strings.HasPrefix(p, "github.com/envoyproxy/") || strings.HasPrefix(p, "google.golang.org/grpc") ||
					strings.HasPrefix(p, "google.golang.org/protobuf/") && p != "google.golang.org/protobuf/encoding/protowire" &&
						!strings.HasPrefix(p, "google.golang.org/protobuf/internal/")
			},
		},
		{
			name: "plugin/ imports only the pipeline, the stage contract, the verdicts, the JWKS state, the audit record and the SDK", packages: "./plugin",
			forbidden: func(p string) bool {
				return strings.Contains(p, ".") && !strings.HasPrefix(p, sdk) && !slices.Contains(pluginImports, p)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-f", `{{join .Imports "\n"}}`, tc.packages}
			if tc.deps {
				args = []string{"-deps", tc.packages}
			}
			imports := list(t, args...)
			if len(imports) == 0 {
				t.Fatalf("go list found nothing for %s", tc.packages)
			}
			for _, p := range imports {
				if tc.forbidden(p) {
					t.Errorf("%s depends on %s", tc.packages, p)
				}
			}
		})
	}
}
