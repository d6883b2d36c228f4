package e2e

import (
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/wasmsize"
)

// moduleBudget is the most plugin.wasm may weigh, a little above its size
// when set: a change that adds more fails here, and `make size` and
// `go run ./e2e/cmd/wasmsize -diff OLD.wasm build/plugin.wasm` tell where
// the bytes went. Raise it with the reason in the commit; the target is
// under 6 MB (README, Module size).
const moduleBudget = 6_580_000

// unneeded are packages plugin.wasm has linked for nothing it needs, each
// with what replaced it. A change that brings one back fails here.
var unneeded = map[string]string{
	"net/url":         "format uri is checked against RFC 3986 by hand (filters/schema/uri.go), query tokens decoded with httpsyntax.Unescape",
	"encoding/json":   "filters/config checks the configuration's syntax itself (checkSyntax), and the build patches tidwall/pretty (plugin/_pretty)",
	"net":             "it imports WASI functions Envoy does not provide (RATIONALE: JOSE library)",
	"crypto/x509":     "keys are mapped from JWK fields onto crypto/rsa and crypto/ed25519 keys and filippo.io/nistec points (filters/jwt/keys.go)",
	"crypto/ecdsa":    "ECDSA signatures are verified over filippo.io/nistec (filters/jwt/ecdsa.go): crypto/ecdsa links P-224, crypto/elliptic and the FIPS module's signing self-tests",
	"crypto/elliptic": "JWK curves are filippo.io/nistec's (filters/jwt/ecdsa.go)",
	"google.golang.org/protobuf/encoding/protowire": "filters/rls writes the wire format itself (wire.go): protowire's errors are built with fmt in every VM's _initialize",
}

// unneededFuncs are name prefixes of functions plugin.wasm has no use for
// in packages it does need, each with what keeps them out.
var unneededFuncs = map[string]string{
	"github.com/tidwall/gjson.mod": "the build empties gjson's table of modifiers, which no path of apiguard's names (RATIONALE: gjson's table of modifiers)",
}

// TestPluginSizeStaysInBudget: plugin.wasm is within moduleBudget and
// links none of the unneeded packages and functions.
func TestPluginSizeStaysInBudget(t *testing.T) {
	m, err := wasmsize.Read(module(t, "plugin.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plugin.wasm: %d bytes; code %d, data %d (pclntab %d), names %d", m.Size, m.Section("code"), m.Section("data"), m.PCLNTab, m.Section("custom:name"))
	if m.Size > moduleBudget {
		t.Errorf("plugin.wasm is %d bytes, over its budget of %d: `make size` lists its packages, `go run ./e2e/cmd/wasmsize -diff OLD.wasm build/plugin.wasm` what grew", m.Size, moduleBudget)
	}
	for _, p := range m.Packages() {
		if why, ok := unneeded[p.Path]; ok {
			t.Errorf("plugin.wasm links %s (%d functions, %d bytes of code), which it does not need: %s", p.Path, p.Funcs, p.Code, why)
		}
	}
	for prefix, why := range unneededFuncs {
		var names []string
		code := 0
		for _, f := range m.Funcs {
			if strings.HasPrefix(f.Name, prefix) {
				names, code = append(names, f.Name), code+f.Size
			}
		}
		if names != nil {
			t.Errorf("plugin.wasm links %d functions %s* (%d bytes of code: %s), which it does not need: %s", len(names), prefix, code, strings.Join(names, ", "), why)
		}
	}
}
