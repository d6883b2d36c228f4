package authz_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/pipeline"
)

// TestBadConfigurationIsRefused: each mistake is refused at its JSON path,
// through the loader the plugin and apiguard-check share.
func TestBadConfigurationIsRefused(t *testing.T) {
	tests := []struct {
		name     string
		global   string // the top-level authz field; "" for none
		template string
		auth     string
		route    string // the route's authz field
		wantPath string
		wantMsg  string
	}{
		{name: "dotted role path", global: `{"roles_from": {"idp": ["realm_access.roles"]}}`, route: `{"allow": "authenticated"}`,
			wantPath: "authz.roles_from.idp[0]", wantMsg: "JSON pointers"},
		{name: "role source without claim", global: `{"roles_from": {"idp": [{"space_delimited": true}]}}`, route: `{"allow": "authenticated"}`,
			wantPath: "authz.roles_from.idp[0].claim", wantMsg: "required"},
		{name: "unknown global field", global: `{"dryrun": true}`, route: `{"allow": "authenticated"}`, wantPath: "authz.dryrun", wantMsg: "unknown field"},
		{name: "claim name that is no pointer", route: `{"allow": {"claims": {"tenant_id": "x"}}}`,
			wantPath: "routes[0].authz.allow.claims.tenant_id", wantMsg: `write "/a/b"`},
		{name: "bad pointer escape", route: `{"allow": {"claims": {"/a~2": "x"}}}`, wantPath: "routes[0].authz.allow.claims./a~2", wantMsg: "~0"},
		{name: "empty pointer member", route: `{"allow": {"claims": {"/a//b": "x"}}}`, wantPath: "routes[0].authz.allow.claims./a//b", wantMsg: "empty"},
		{name: "path parameter the template does not capture", template: "/orders/{id}", route: `{"allow": {"claims": {"/tenant_id": "{tenant}"}}}`,
			wantPath: "routes[0].authz.allow.claims./tenant_id", wantMsg: "captures no parameter {tenant}"},
		{name: "undeclared query parameter", route: `{"allow": {"claims": {"/org": "{query:org}"}}}`,
			wantPath: "routes[0].authz.allow.claims./org", wantMsg: "not declared in query_params"},
		{name: "undeclared header", route: `{"query_params": ["org"], "allow": {"claims": {"/org": "{header:x-org}"}}}`,
			wantPath: "routes[0].authz.allow.claims./org", wantMsg: "not declared in headers"},
		{name: "unknown binding", route: `{"allow": {"claims": {"/org": "{cookie:org}"}}}`, wantPath: "routes[0].authz.allow.claims./org", wantMsg: "binding"},
		{name: "invalid regex", route: `{"allow": {"claims": {"/email": {"matches": "(a"}}}}`,
			wantPath: "routes[0].authz.allow.claims./email.matches", wantMsg: "RE2"},
		{name: "backreference is not RE2", route: `{"allow": {"claims": {"/email": {"matches": "(a)\\1"}}}}`,
			wantPath: "routes[0].authz.allow.claims./email.matches", wantMsg: "RE2"},
		{name: "present false", route: `{"allow": {"claims": {"/a": {"present": false}}}}`, wantPath: "routes[0].authz.allow.claims./a.present", wantMsg: "must be true"},
		{name: "number test on a string", route: `{"allow": {"claims": {"/a": {"gt": "1"}}}}`, wantPath: "routes[0].authz.allow.claims./a.gt", wantMsg: "number"},
		{name: "misspelt field", route: `{"allow": "authenticated", "dryrun": true}`, wantPath: "routes[0].authz.dryrun", wantMsg: "unknown field"},
		{name: "misspelt condition", route: `{"allow": {"any_roles": ["a"]}}`, wantPath: "routes[0].authz.allow.any_roles", wantMsg: "unknown field"},
		{name: "empty condition", route: `{"allow": {}}`, wantPath: "routes[0].authz.allow", wantMsg: "empty condition"},
		{name: "empty role list", route: `{"allow": {"any_role": []}}`, wantPath: "routes[0].authz.allow.any_role", wantMsg: "must not be empty"},
		{name: "invalid scope", route: `{"allow": {"scopes": ["a\"b"]}}`, wantPath: "routes[0].authz.allow.scopes[0]", wantMsg: "scope"},
		{name: "no rule at all", route: `{"dry_run": true}`, wantPath: "routes[0].authz", wantMsg: "allow, methods or deny_all"},
		{name: "HEAD rule", route: `{"methods": {"HEAD": {"allow": "authenticated"}}}`, wantPath: "routes[0].authz.methods.HEAD", wantMsg: "HEAD is checked as GET"},
		{name: "lower-case method", route: `{"methods": {"delete": {"allow": "authenticated"}}}`, wantPath: "routes[0].authz.methods.delete", wantMsg: "upper-case"},
		{name: "deny_all with rules", route: `{"deny_all": true, "allow": "authenticated"}`, wantPath: "routes[0].authz.deny_all", wantMsg: "no allow"},
		{name: "status without deny_all", route: `{"allow": "authenticated", "status": 404}`, wantPath: "routes[0].authz.status", wantMsg: "deny_all"},
		{name: "status out of range", route: `{"deny_all": true, "status": 500}`, wantPath: "routes[0].authz.status", wantMsg: "403 to 404"},
		{name: "roles of a provider without roles_from", route: `{"allow": {"any_role": ["admin"]}}`,
			wantPath: "routes[0].authz.allow.any_role", wantMsg: `provider "idp" has no roles`},
		{name: "claims on a route without authentication", auth: `"none"`, route: `{"allow": {"claims": {"/a": "b"}}}`,
			wantPath: "routes[0].authz.allow.claims", wantMsg: "no authentication"},
		{name: "nesting too deep", route: `{"allow": ` + strings.Repeat(`{"not": `, 17) + `"authenticated"` + strings.Repeat("}", 17) + `}`,
			wantPath: "routes[0].authz.allow" + strings.Repeat(".not", 16), wantMsg: "nest at most"},
		{name: "peers on a route without a peer requirement", route: `{"allow": {"peers": {"trust_domains": ["cluster.local"]}}}`,
			wantPath: "routes[0].authz.allow.peers", wantMsg: `no "peer" requirement`},
		{name: "bad header name", route: `{"headers": ["X-Org"], "allow": "authenticated"}`, wantPath: "routes[0].authz.headers[0]", wantMsg: "lower-case"},
	}
	for _, tc := range tests {
		template, auth := tc.template, tc.auth
		if template == "" {
			template = "/tenants/{tenant}/orders/{id}"
		}
		if auth == "" {
			auth = `{"providers": ["idp"]}`
		}
		global := ""
		if tc.global != "" {
			global = `"authz": ` + tc.global + `,`
		}
		load := func(routes int) []config.Error {
			var rs []string
			for i := range routes {
				rs = append(rs, fmt.Sprintf(`{"name": "orders%d", "match": {"path": "/v%d%s"}, "auth": %s, "authz": %s}`, i, i, template, auth, tc.route))
			}
			doc := `{` + global + `"providers": {"idp": {"issuer": "i", "audiences": ["a"],
				"jwks": {"inline": {"keys": [{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "alg": "HS256"}]}}}},
				"routes": [` + strings.Join(rs, ",") + `]}`
			_, errs := pipeline.Load([]byte(doc))
			return errs
		}
		t.Run(tc.name, func(t *testing.T) {
			if errs := load(1); len(errs) != 1 || errs[0].Path != tc.wantPath || !strings.Contains(errs[0].Message, tc.wantMsg) {
				t.Errorf("errors %v, want one at %s containing %q", errs, tc.wantPath, tc.wantMsg)
			}
		})
		// Routes written alike share their compiled rules; each still
		// reports its own mistakes.
		second, ok := strings.CutPrefix(tc.wantPath, "routes[0]")
		if !ok {
			continue
		}
		t.Run(tc.name+", on two routes alike", func(t *testing.T) {
			errs := load(2)
			if len(errs) != 2 || errs[0].Path != tc.wantPath || errs[1].Path != "routes[1]"+second || !strings.Contains(errs[1].Message, tc.wantMsg) {
				t.Errorf("errors %v, want one at %s and one at routes[1]%s, containing %q", errs, tc.wantPath, second, tc.wantMsg)
			}
		})
	}
}
