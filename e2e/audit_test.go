package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// auditRecord is the audit record's JSON, as a security team's log search
// reads it.
type auditRecord struct {
	Time       string            `json:"time"`
	DurationUS *int64            `json:"duration_us"`
	RequestID  string            `json:"request_id"`
	Route      string            `json:"route"`
	Method     string            `json:"method"`
	Path       string            `json:"path"`
	Client     string            `json:"client"`
	Principal  map[string]string `json:"principal"`
	Peer       string            `json:"peer"`
	Decision   string            `json:"decision"`
	Reason     string            `json:"reason"`
	Rule       string            `json:"rule"`
	Status     int               `json:"status"`
	Headers    map[string]string `json:"headers"`
	Claims     map[string]string `json:"claims"`
}

// observedPolicy is an orders API whose requests each kind of outcome can
// be observed on: allowed, denied by authorization, rate-limited (one
// request an hour per user), dry-run-denied and shadow-limited (reports);
// extra is more top-level members, each followed by a comma.
func observedPolicy(extra string) string {
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
  "authz": {"roles_from": {"idp": ["/realm_access/roles"]}},
  %s
  "routes": [
    {"name": "orders", "match": {"path": "/tenants/{tenant}/orders"}, "auth": {"providers": ["idp"]},
     "authz": {"allow": {"any_role": ["reader"], "claims": {"/tenant_id": "{tenant}"}}},
     "rate_limit": {"rules": [{"name": "per-user", "key": ["claim:/sub"], "rate": 1, "per": "hour", "burst": 0}]}},
    {"name": "reports", "match": {"path": "/tenants/{tenant}/reports"}, "auth": {"providers": ["idp"]},
     "authz": {"dry_run": true, "allow": {"any_role": ["analyst"]}},
     "rate_limit": {"rules": [{"name": "reports-shadow", "key": ["peer"], "rate": 1, "per": "hour", "shadow": true}]}}
  ]
}`, idpIssuer, jwttest.JWKS(idpKeys()["ES256"]), extra)
}

// records reads the audit records logged since the last call.
func records(t *testing.T, env *host.Env) []auditRecord {
	t.Helper()
	var out []auditRecord
	for _, l := range env.Logs() {
		if !strings.HasPrefix(l.Message, `{"time":`) {
			continue
		}
		var r auditRecord
		if err := json.Unmarshal([]byte(l.Message), &r); err != nil {
			t.Fatalf("record %q: %v", l.Message, err)
		}
		out = append(out, r)
	}
	env.ResetLogs()
	return out
}

// TestTheAuditTrailTellsWhoDidWhatAndWhatWasDecided: every request leaves
// one record at the stream's end, allowed, denied, dry-run-denied,
// shadow-limited or rate-limited, with the principal but never the token,
// the rule that decided, the response's status, and the headers and claims
// configured (redacted where asked); values a client chose cannot forge a
// record.
func TestTheAuditTrailTellsWhoDidWhatAndWhatWasDecided(t *testing.T) {
	policy := observedPolicy(`"audit": {"headers": ["user-agent", "x-api-key"], "redact": ["x-api-key"], "claims": ["/tenant_id"], "query": "names"},`)
	g := startGateway(t, policy, 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	g.env.ResetLogs()
	reader := tenantToken("acme", `["reader"]`)
	tests := []struct {
		name   string
		req    host.Request
		want   auditRecord
		status int
	}{
		{name: "allowed", req: request("GET", "/tenants/acme/orders?secret=s3cr3t&page=2", append(reader, "user-agent", "curl/8", "x-api-key", "k-123")...),
			want: auditRecord{Route: "orders", Method: "GET", Path: "/tenants/acme/orders?secret=&page=", Decision: "allowed", Status: 200,
				Headers: map[string]string{"user-agent": "curl/8", "x-api-key": "[redacted]"}, Claims: map[string]string{"/tenant_id": "acme"}}},
		{name: "denied by authorization", req: request("GET", "/tenants/globex/orders", reader...),
			want: auditRecord{Route: "orders", Method: "GET", Path: "/tenants/globex/orders", Decision: "denied", Reason: "forbidden", Rule: "authz:orders", Status: 403, Claims: map[string]string{"/tenant_id": "acme"}}},
		{name: "rate-limited", req: request("GET", "/tenants/acme/orders", reader...),
			want: auditRecord{Route: "orders", Method: "GET", Path: "/tenants/acme/orders", Decision: "denied", Reason: "rate_limited", Rule: "rate_limit:per-user", Status: 429, Claims: map[string]string{"/tenant_id": "acme"}}},
		{name: "dry-run denied", req: request("GET", "/tenants/acme/reports", reader...),
			want: auditRecord{Route: "reports", Method: "GET", Path: "/tenants/acme/reports", Decision: "dry_run_denied", Reason: "forbidden", Rule: "authz:reports", Status: 200, Claims: map[string]string{"/tenant_id": "acme"}}},
		{name: "shadow-limited", req: request("GET", "/tenants/acme/reports", tenantToken("acme", `["analyst"]`)...),
			want: auditRecord{Route: "reports", Method: "GET", Path: "/tenants/acme/reports", Decision: "shadow_limited", Reason: "rate_limited", Rule: "rate_limit:reports-shadow", Status: 200, Claims: map[string]string{"/tenant_id": "acme"}}},
		{name: "no token", req: request("GET", "/tenants/acme/orders", "user-agent", "evil\n{\"decision\":\"allowed\"}\u2028"),
			want: auditRecord{Route: "orders", Method: "GET", Path: "/tenants/acme/orders", Decision: "denied", Reason: "token_missing", Status: 401,
				Headers: map[string]string{"user-agent": "evil\n{\"decision\":\"allowed\"}\u2028"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Headers.Set("x-request-id", "req-"+strings.ReplaceAll(tc.name, " ", "-"))
			g.send(tc.req)
			recs := records(t, g.env)
			if len(recs) != 1 {
				t.Fatalf("%d records, want one", len(recs))
			}
			r := recs[0]
			if r.Time == "" || r.DurationUS == nil || r.RequestID != "req-"+strings.ReplaceAll(tc.name, " ", "-") || r.Client == "" {
				t.Errorf("record %+v lacks time, duration, request id or client", r)
			}
			if tc.want.Decision != "denied" || tc.want.Reason != "token_missing" {
				if r.Principal["sub"] != "alice" || r.Principal["iss"] != idpIssuer || r.Principal["provider"] != "idp" {
					t.Errorf("principal %v", r.Principal)
				}
			}
			got := r
			got.Time, got.DurationUS, got.RequestID, got.Client, got.Principal = "", nil, "", "", nil
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("record\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
	for _, l := range g.env.Logs() {
		if strings.Contains(l.Message, strings.TrimPrefix(reader[1], "Bearer ")) {
			t.Errorf("a log line holds the token: %s", l.Message)
		}
	}
}
