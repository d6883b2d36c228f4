package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCheckLintsAPolicy(t *testing.T) {
	const bad, good = "bad.json", "good.json"
	var lint bytes.Buffer
	err := check(&lint, bad, []byte(`{"routes": [{"name": "a", "match": {"path": "/a/{id"}, "auth": "none"}], "defualt": "deny"}`))
	if err == nil || !strings.HasSuffix(err.Error(), "2 error(s); the plugin would refuse to start") {
		t.Fatalf("error %v, want 2 errors", err)
	}
	for _, want := range []string{bad + ": routes[0].match.path: ", bad + ": defualt: unknown field\n"} {
		if !strings.Contains(lint.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, lint.String())
		}
	}
	var out bytes.Buffer
	if err := check(&out, good, []byte(`{"routes": []}`)); err != nil {
		t.Fatal(err)
	}
	if out.String() != good+": ok\n" {
		t.Errorf("output %q", out.String())
	}
}

// TestCheckWarnsWhenAPublicRouteServesAProtectedRoutesVariants is a policy
// that protects GET /admin next to a public catch-all: the check passes, and
// says that DELETE /admin and /ADMIN reach the catch-all without a token.
func TestCheckWarnsWhenAPublicRouteServesAProtectedRoutesVariants(t *testing.T) {
	const policy = "policy.json"
	raw := []byte(`{
  "providers": {"idp": {"issuer": "https://idp.example.com/", "audiences": ["api"],
    "jwks": {"inline": {"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "x": "4UdocqldX3NZAEh4PMiDSSgckJNOK_kD6YZTBecr-U8", "y": "bs7M9cE-uBUiZ_7LwIGtr9AFYaoQB6vY1upcsNq96Jk"}]}}}},
  "routes": [
    {"name": "admin", "match": {"path": "/admin", "methods": ["GET"]}, "auth": {"providers": ["idp"]}},
    {"name": "site", "match": {"path": "/**"}, "auth": "none"}
  ]
}`)
	var out bytes.Buffer
	if err := check(&out, policy, raw); err != nil {
		t.Fatalf("warnings failed the check: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		policy + `: routes[0]: warning: GET /ADMIN (another letter case; paths are case-sensitive) is served by public route "site" (routes[1]) without a token`,
		policy + `: routes[0]: warning: POST, PUT, PATCH, DELETE, OPTIONS /admin (a method this route does not list) is served by public route "site" (routes[1])`,
		policy + ": ok, 2 warning(s)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestCheckRefusesAnAuthorizationPolicyThatCannotHold: a binding to a
// parameter the template does not capture, a dotted role path and a regex
// that is not RE2 are each refused at their JSON path.
func TestCheckRefusesAnAuthorizationPolicyThatCannotHold(t *testing.T) {
	const policy = "policy.json"
	raw := []byte(`{
  "providers": {"idp": {"issuer": "https://idp.example.com/", "audiences": ["api"],
    "jwks": {"inline": {"keys": [{"kty": "EC", "crv": "P-256", "kid": "k", "x": "4UdocqldX3NZAEh4PMiDSSgckJNOK_kD6YZTBecr-U8", "y": "bs7M9cE-uBUiZ_7LwIGtr9AFYaoQB6vY1upcsNq96Jk"}]}}}},
  "authz": {"roles_from": {"idp": ["realm_access.roles"]}},
  "routes": [
    {"name": "orders", "match": {"path": "/orders/{id}"}, "auth": {"providers": ["idp"]},
     "authz": {"allow": {"claims": {"/tenant_id": "{tenant}", "/email": {"matches": "(?=x)"}}}}}
  ]
}`)
	var out bytes.Buffer
	err := check(&out, policy, raw)
	if err == nil || !strings.HasSuffix(err.Error(), "3 error(s); the plugin would refuse to start") {
		t.Fatalf("error %v, want 3 errors:\n%s", err, out.String())
	}
	for _, want := range []string{
		policy + ": authz.roles_from.idp[0]: claim paths are JSON pointers",
		policy + ": routes[0].authz.allow.claims./email.matches: invalid regular expression (RE2 syntax)",
		policy + ": routes[0].authz.allow.claims./tenant_id: the route's path template captures no parameter {tenant}",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
}
