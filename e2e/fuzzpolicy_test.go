package e2e

import (
	"fmt"

	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// fuzzPolicy turns every stage on: JWT from two providers (inline keys,
// three token sources, claim headers, the payload header), authorization
// with roles, scopes, claims bound to the path, query and a header, per
// method rules and method overrides, validation of headers, query, path
// parameters and JSON bodies against a schema, local rate limits (by
// client, by claim, a shadow rule by header), strict hardening with 5xx
// bodies replaced, CORS with a wildcard origin, and an audit record of
// every stream that keeps the query and a token header (redacted). The global rate limit is left out: it needs its service.
func fuzzPolicy(k fuzzKeys) string {
	return fmt.Sprintf(`{
  "default": "deny",
  "hosts": {"status.example.com": {"default": "allow"}},
  "providers": {
    "idp": {
      "issuer": %q, "audiences": ["orders-api"],
      "jwks": {"inline": %s},
      "from": [{"header": "authorization", "prefix": "Bearer "}, {"query": "access_token"}, {"cookie": "session"}],
      "claim_to_headers": {"sub": "x-auth-sub", "tenant_id": "x-auth-tenant", "roles": "x-auth-roles"},
      "payload_header": "x-jwt-payload",
      "max_token_bytes": 4096
    },
    "partner": {
      "issuer": %q, "audiences": ["partner-api"],
      "jwks": {"inline": %s},
      "from": [{"header": "x-partner-token"}],
      "typ": "at+jwt",
      "claim_to_headers": {"sub": "x-partner-sub"}
    }
  },
  "authz": {"roles_from": {"idp": ["/realm_access/roles", {"claim": "/scope", "space_delimited": true}], "partner": ["/roles"]}},
  "validate": {
    "headers": {"max_count": 64, "max_value_bytes": 4096, "max_total_bytes": 32768, "forbidden": ["x-debug"]},
    "query": {"max_params": 32, "max_length": 2048, "params": {"trace": {"schema": {"type": "boolean"}}}},
    "body": {"max_bytes": 65536, "content_types": ["application/json"], "max_depth": 32}
  },
  "response": {"security_headers": "strict", "keep_upstream": ["cache-control"], "remove": ["x-debug-trace"], "replace_error_bodies": true},
  "cors": {"origins": ["https://app.example.com", "https://*.preview.example.com", "null"],
           "methods": ["GET", "HEAD", "POST", "PUT", "DELETE"], "headers": ["authorization", "content-type", "x-request-id"],
           "expose_headers": ["x-request-id"], "credentials": true, "max_age_s": 600},
  "rate_limit": {"trusted_hops": 1, "headers": "draft_and_x", "rules": [
    {"name": "per-client", "key": ["x_forwarded_for"], "fallback": ["peer"], "rate": 1000, "per": "second", "burst": 1000},
    {"name": "per-user", "key": ["claim:/sub"], "rate": 20, "per": "second", "burst": 5,
     "tiers": [{"claim": "/plan", "has": "gold", "rate": 100, "burst": 50}]},
    {"name": "per-api-key", "key": ["header:x-api-key"], "rate": 10, "per": "second", "burst": 3, "shadow": true}]},
  "audit": {"level": "info", "query": "keep", "headers": ["user-agent", "x-api-key", "origin", "referer", "x-partner-token"],
            "redact": ["x-api-key", "x-partner-token", "/email"], "claims": ["/tenant_id", "/email", "/realm_access/roles"]},
  "routes": [
    {"name": "health", "match": {"path": "/healthz", "methods": ["GET"]}, "auth": "none", "rate_limit": "none", "cors": "off"},
    {"name": "tenant-orders", "match": {"path": "/tenants/{tenant}/orders/{id}", "methods": ["GET", "PUT", "DELETE"]},
     "auth": {"providers": ["idp"]},
     "validate": {
       "path": {"tenant": {"type": "string", "pattern": "^[a-z0-9-]{1,32}$"}, "id": {"type": "integer", "minimum": 1}},
       "query": {"unknown": "reject", "repeated": "reject",
                 "params": {"fields": {"repeated": true, "schema": {"enum": ["id", "status", "total"]}},
                            "org": {"schema": {"type": "string", "maxLength": 32}}}},
       "body": {"max_bytes": 4096, "content_types": ["application/json"],
                "schema": {"type": "object", "additionalProperties": false, "required": ["status"],
                           "properties": {"status": {"enum": ["open", "paid", "cancelled"]},
                                          "note": {"type": "string", "maxLength": 64},
                                          "lines": {"type": "array", "maxItems": 8,
                                                    "items": {"type": "object", "required": ["sku"],
                                                              "properties": {"sku": {"type": "string", "pattern": "^[A-Z0-9-]+$"},
                                                                             "qty": {"type": "integer", "minimum": 1, "maximum": 99}}}}}}}},
     "authz": {
       "allow": {"any": [
         {"any_role": ["reader", "admin"], "not": {"claims": {"/plan": "trial"}},
          "claims": {"/tenant_id": "{tenant}", "/email": {"matches": "@example\\.com$"}, "/banned": {"absent": true}}},
         {"claims": {"/tenant_id": "{tenant}", "/org": "{query:org}", "/region": "{header:x-region}"}}]},
       "deny": {"any": [{"claims": {"/suspended": true}}, {"claims": {"/risk/score": {"gte": 90}}}]},
       "methods": {
         "PUT": {"allow": {"scopes": ["orders:write"], "claims": {"/tenant_id": "{tenant}"}}},
         "DELETE": {"allow": {"all": [{"all_roles": ["admin", "auditor"]}, {"claims": {"/acr": {"one_of": ["mfa", "hwk"]}}}, "authenticated"]},
                    "deny": {"claims": {"/auth_level": {"lt": 2}}}}},
       "query_params": ["org"], "headers": ["x-region"]},
     "response": {"headers": {"cache-control": "private, max-age=60"}},
     "rate_limit": {"headers": "draft", "rules": [{"name": "orders-per-user", "key": ["claim:/sub", "route"], "rate": 60, "per": "minute", "burst": 20}]},
     "cors": {"origins": ["https://app.example.com"], "credentials": false}},
    {"name": "uploads", "match": {"path": "/tenants/{tenant}/uploads", "methods": ["POST"]},
     "auth": {"providers": ["idp"]},
     "validate": {"body": {"max_bytes": 8192, "required": true, "content_types": ["application/octet-stream"], "encodings": ["gzip"]}},
     "authz": {"allow": {"claims": {"/tenant_id": "{tenant}"}}}},
    {"name": "legacy", "match": {"path": "/legacy/{id}", "methods": ["GET", "POST", "DELETE"]},
     "auth": {"providers": ["idp"]},
     "authz": {"allow": "authenticated", "methods": {"DELETE": {"allow": {"any_role": ["admin"]}}}, "allow_method_override": true}},
    {"name": "catalogue", "match": {"path": "/catalogue/**", "methods": ["GET"]}, "auth": {"providers": ["idp"], "optional": true}},
    {"name": "shipments", "match": {"path": "/shipments/{id}"}, "auth": {"providers": ["idp", "partner"]},
     "authz": {"allow": {"any": [{"any_role": ["shipper"]}, {"claims": {"/sub": {"present": true}}}]}, "dry_run": true}},
    {"name": "internal", "match": {"path": "/internal/**"}, "auth": "none", "authz": {"deny_all": true, "status": 404}}
  ]
}`, fuzzIdPIssuer, jwttest.JWKS(k.hs, k.es), fuzzPartnerIssuer, jwttest.JWKS(k.partner))
}
