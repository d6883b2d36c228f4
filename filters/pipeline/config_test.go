package pipeline

import (
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name       string
		config     string
		wantErrors []string // each a full error text; none means it compiles
	}{
		{name: "minimal", config: `{"routes": []}`},
		{name: "full", config: `{"routes": [{"name": "a", "match": {"path": "/a/{id}", "methods": ["GET"]}, "auth": "none"}], "default": "allow"}`},
		{name: "empty", config: ``, wantErrors: []string{"configuration: empty; expected a JSON object"}},
		{name: "trailing garbage", config: `{"routes": []} x`, wantErrors: []string{"configuration: invalid JSON at byte 16: invalid character 'x' after top-level value"}},
		{name: "top level not an object", config: `"x"`, wantErrors: []string{"configuration: must be an object, got a string"}},
		{name: "routes wrong type", config: `{"routes": {}}`, wantErrors: []string{"routes: must be an array, got an object"}},
		{name: "default unknown value", config: `{"routes": [], "default": "maybe"}`, wantErrors: []string{`default: must be one of ["deny" "allow"], got "maybe"`}},
		{name: "duplicate key in a route", config: `{"routes": [{"name": "a", "name": "b", "match": {"path": "/"}, "auth": "none"}]}`,
			wantErrors: []string{"routes[0].name: duplicate key"}},
		{name: "methods wrong element type", config: `{"routes": [{"name": "a", "match": {"path": "/", "methods": ["GET", 1]}, "auth": "none"}]}`,
			wantErrors: []string{"routes[0].match.methods[1]: must be a string, got a number"}},
		{name: "empty token source name", config: `{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": {"keys": [{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}}, "from": [{"query": ""}]}}, "routes": []}`,
			wantErrors: []string{"providers.idp.from[0]: the header, query or cookie name must not be empty"}},
		{name: "remote and inline keys together", config: `{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": {"keys": []}, "remote": {"cluster": "c", "authority": "a", "path": "/j"}}}}, "routes": []}`,
			wantErrors: []string{"providers.idp.jwks.inline.keys: no keys", "providers.idp.jwks: must have exactly one of inline or remote"}},
		{name: "remote path must be absolute", config: `{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"remote": {"cluster": "c", "authority": "a", "path": "j", "refresh_s": 1}}}}, "routes": []}`,
			wantErrors: []string{"providers.idp.jwks.remote.path: must start with /", "providers.idp.jwks.remote.refresh_s: must be a whole number from 10 to 86400"}},
		{name: "hosts", config: `{"routes": [{"name": "a", "match": {"path": "/a", "hosts": ["api.example.com", "*.example.com:8443"]}, "auth": "none"}],
			"hosts": {"api.example.com": {"default": "allow"}, "*.tenants.example.com": {"default": "deny"}}}`},
		{name: "host errors", config: `{"routes": [
			{"name": "a", "match": {"path": "/a", "hosts": []}, "auth": "none"},
			{"name": "b", "match": {"path": "/b", "hosts": ["api.*.com", 7]}, "auth": "none"},
			{"name": "c", "match": {"path": "/c", "methods": ["GET"], "hosts": ["api.example.com"]}, "auth": "none"},
			{"name": "d", "match": {"path": "/c/", "methods": ["GET", "POST"], "hosts": ["API.example.com."]}, "auth": "none"}],
			"hosts": {"api.example.com": {"default": "maybe"}, "Api.Example.com": {"default": "allow"}, "a b": {"default": "deny"}, "x.example.com": {"deny": true}}}`,
			wantErrors: []string{
				"routes[0].match.hosts: must not be empty: omit it to match any host",
				"routes[1].match.hosts[1]: must be a string, got a number",
				`hosts.api.example.com.default: must be one of ["deny" "allow"], got "maybe"`,
				"hosts.x.example.com.deny: unknown field",
				"hosts.x.example.com.default: required",
				"hosts.Api.Example.com: the same host as hosts.api.example.com",
				"hosts.a b: character not allowed in a host name",
				`routes[1].match.hosts[0]: "api.*.com": only a whole leading label may be a wildcard ("*.example.com")`,
				`routes[3].match.hosts[0]: same host "api.example.com" and path shape as routes[2] with overlapping methods`,
			}},
		{name: "an audited header that carries tokens is redacted", config: `{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": {"keys": [{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}}, "from": [{"header": "x-api-token"}]}},
			"audit": {"headers": ["user-agent", "x-api-token"]}, "routes": []}`,
			wantErrors: []string{`audit.headers[1]: "x-api-token" carries provider idp's tokens: list it in audit.redact too, or leave it out`}},
		{name: "an audited token header redacted", config: `{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": {"keys": [{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}}, "from": [{"header": "x-api-token"}]}},
			"audit": {"headers": ["x-api-token"], "redact": ["x-api-token"]}, "routes": []}`},
		{name: "remote keys may not outlive their refresh", config: `{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"remote": {"cluster": "c", "authority": "a", "path": "/j", "refresh_s": 600, "max_stale_s": 600}}}}, "routes": []}`,
			wantErrors: []string{"providers.idp.jwks.remote.max_stale_s: must be longer than refresh_s (600)"}},
		{name: "remote max_stale_s range, reported once", config: `{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"remote": {"cluster": "c", "authority": "a", "path": "/j", "max_stale_s": 5}}}}, "routes": []}`,
			wantErrors: []string{"providers.idp.jwks.remote.max_stale_s: must be a whole number from 60 to 2592000"}},
		{name: "remote max_stale_s", config: `{"providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"remote": {"cluster": "c", "authority": "a", "path": "/j", "refresh_s": 60, "max_stale_s": 3600}}}}, "routes": []}`},
		{name: "parse and compile errors together, each once", config: `{"routes": [
			{"name": "a", "match": {"path": "/x/{"}, "auth": "none"},
			{"name": "b", "match": {"path": 3}, "auth": "none"}]}`,
			wantErrors: []string{
				"routes[1].match.path: must be a string, got a number",
				`routes[0].match.path: "/x/{": parameter "{" must be a whole segment {name} with name [A-Za-z_][A-Za-z0-9_]*`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := Load([]byte(tc.config))
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tc.wantErrors, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantErrors, "\n"))
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	for _, s := range []string{`{"routes": []}`, `{"routes": [{"name": "a", "match": {"path": "/a/{id}/**", "methods": ["GET"]}, "auth": "none"}]}`, `{"a":`, `[1,{}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, errs := Load(raw)
		if (p == nil) == (len(errs) == 0) {
			t.Fatalf("pipeline %v with errors %v", p, errs)
		}
		for _, e := range errs {
			if e.Path == "" || e.Message == "" {
				t.Fatalf("error without a JSON path or message: %#v", e)
			}
		}
	})
}
