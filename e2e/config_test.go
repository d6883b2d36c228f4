package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/gateway"
)

// badConfig has one mistake of each kind; the plugin must report all of them.
const badConfig = `{
  "routes": [
    {"name": "orders", "match": {"path": "/orders/{id", "methods": ["GET"]}, "auth": "none"},
    {"name": "orders", "match": {"path": "/health", "metods": ["GET"]}, "auth": "none"},
    {"name": "admin", "match": {"path": "/admin"}},
    {"name": 7, "match": {"path": "/x"}, "auth": "jwt"}
  ],
  "defualt": "deny"
}`

var badConfigErrors = []string{
	"routes[0].match.path:",
	"routes[1].name:",
	"routes[1].match.metods: unknown field",
	"routes[2].auth: required",
	"routes[3].name: must be a string",
	"routes[3].auth: must be one of",
	"defualt: unknown field",
}

func TestBadConfigIsRefusedWithEveryErrorNamed(t *testing.T) {
	env, _, err := load(t, "plugin.wasm", badConfig, 1)
	if err == nil || !strings.Contains(err.Error(), "proxy_on_configure returned false") {
		t.Fatalf("StartVM error = %v, want the configuration rejected", err)
	}
	for _, want := range badConfigErrors {
		if !logged(env, "apiguard: invalid configuration: "+want) {
			t.Errorf("no log line names %q", want)
		}
	}
	if !logged(env, "configuration rejected with 7 error(s)") {
		t.Errorf("want exactly 7 errors reported; logs:\n%v", env.Logs())
	}
}

func TestGatewayCheckModeReportsTheSameErrors(t *testing.T) {
	err := gateway.Check(module(t, "plugin.wasm"), []byte(badConfig))
	var cfgErr *gateway.ConfigError
	if !errors.As(err, &cfgErr) {
		t.Fatalf("Check error = %v, want a ConfigError", err)
	}
	text := strings.Join(cfgErr.Messages, "\n")
	for _, want := range badConfigErrors {
		if !strings.Contains(text, want) {
			t.Errorf("check output lacks %q:\n%s", want, text)
		}
	}
	if err := gateway.Check(module(t, "plugin.wasm"), []byte(ordersAPI)); err != nil {
		t.Errorf("a good config fails the check: %v", err)
	}
}

func TestMalformedConfigDocuments(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{name: "empty", config: "", want: "configuration: empty"},
		{name: "not JSON", config: `{"routes": [}`, want: "configuration: invalid JSON at byte"},
		{name: "not an object", config: `[]`, want: "must be an object"},
		{name: "duplicate key", config: `{"routes": [], "routes": []}`, want: "routes: duplicate key"},
		{name: "missing routes", config: `{}`, want: "routes: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, _, err := load(t, "plugin.wasm", tc.config, 1)
			if err == nil {
				t.Fatal("config accepted")
			}
			if !logged(env, tc.want) {
				t.Errorf("no log line contains %q: %v", tc.want, env.Logs())
			}
		})
	}
}
