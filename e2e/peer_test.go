package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

const (
	billingService  = "spiffe://cluster.local/ns/orders/sa/billing"
	shippingService = "spiffe://cluster.local/ns/shipping/sa/shipping"
	batchService    = "spiffe://cluster.local/ns/orders/sa/batch"
)

// meshPolicy is a payments API inside a mesh: only the billing service pays,
// refunds need the billing service acting for a user, the ledger is read by
// the orders namespace's services or by a user, and services of the orders
// namespace each get their own rate limit on it. The rule has the most
// slots a rule may have: two of its five clients shared one of the default
// 16,384 about once in a thousand runs (the slots are seeded at random; a
// collision makes a limit stricter, by design), and
// TestTheLedgerTakesAServiceOrAUser failed on one in CI.
func meshPolicy() string {
	return fmt.Sprintf(`{
  "providers": {"idp": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}}},
  "routes": [
    {"name": "payments", "match": {"path": "/payments", "methods": ["POST"]}, "auth": "none",
     "peer": {"spiffe_ids": [%q]}},
    {"name": "refunds", "match": {"path": "/refunds", "methods": ["POST"]}, "auth": {"providers": ["idp"]},
     "peer": {"spiffe_ids": [%q]}},
    {"name": "ledger", "match": {"path": "/ledger", "methods": ["GET"]}, "auth": {"providers": ["idp"]},
     "peer": {"trust_domains": ["cluster.local"], "or_token": true},
     "authz": {"allow": {"any": [{"peers": {"spiffe_prefixes": ["spiffe://cluster.local/ns/orders/"]}}, "authenticated"]},
               "deny": {"peers": {"spiffe_ids": [%q]}}},
     "rate_limit": {"rules": [{"name": "per-service", "key": ["peer_identity"], "rate": 1, "per": "minute", "burst": 1, "slots": 4194304}]}}
  ]
}`, idpIssuer, jwttest.JWKS(idpKeys()["ES256"]), billingService, billingService, batchService)
}

// mtls is a mutual-TLS connection whose client presented a certificate
// with the given URI SAN, verified by the listener.
func mtls(uriSAN string) *host.TLS {
	return &host.TLS{Version: "TLSv1.3", Peer: &host.PeerCertificate{URISANs: []string{uriSAN}, Subject: "O=mesh", SHA256: "00"}}
}

// plainTLS is a TLS connection whose client presented no certificate.
var plainTLS = &host.TLS{Version: "TLSv1.3"}

func from(tls *host.TLS, req host.Request) host.Request {
	req.TLS = tls
	return req
}

func TestOnlyTheBillingServicePays(t *testing.T) {
	g := startGateway(t, meshPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	pay := func(tls *host.TLS, headers ...string) *host.Result {
		req := from(tls, request("POST", "/payments", append([]string{"content-type", "application/json"}, headers...)...))
		req.Body = []byte(`{"amount": 5}`)
		return g.send(req)
	}
	if res := pay(mtls(billingService)); res.Status != 200 || res.Upstream == nil {
		t.Errorf("billing: status %d %s", res.Status, res.Body)
	}
	for _, tc := range []struct {
		name   string
		tls    *host.TLS
		detail string
	}{
		{name: "another service", tls: mtls(shippingService), detail: "the peer identity is not accepted on this route"},
		{name: "a look-alike namespace", tls: mtls("spiffe://cluster.local/ns/orders-evil/sa/billing"), detail: "the peer identity is not accepted on this route"},
		{name: "another letter case", tls: mtls("spiffe://cluster.local/ns/orders/sa/Billing"), detail: "the peer identity is not accepted on this route"},
		{name: "an upper-case trust domain", tls: mtls("spiffe://Cluster.local/ns/orders/sa/billing"), detail: "the peer certificate's URI SAN is not a workload's SPIFFE ID"},
		{name: "a certificate without a URI SAN", tls: &host.TLS{Version: "TLSv1.3", Peer: &host.PeerCertificate{DNSSANs: []string{"billing.orders.svc"}}},
			detail: "the peer certificate has no URI SAN"},
		{name: "plain TLS", tls: plainTLS, detail: "the connection is not mutual TLS"},
		{name: "plaintext", detail: "the connection is not mutual TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if p := expectProblem(t, pay(tc.tls), 403, "peer_identity"); p.Detail != tc.detail {
				t.Errorf("detail %q, want %q", p.Detail, tc.detail)
			}
		})
	}
}

// TestClientCertificateHeadersCannotImpersonateAService: a header claiming
// the billing service's certificate changes nothing on a plaintext
// connection, and the headers a client sends never reach the upstream.
func TestClientCertificateHeadersCannotImpersonateAService(t *testing.T) {
	g := startGateway(t, meshPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	forged := []string{
		"x-forwarded-client-cert", "By=spiffe://cluster.local/ns/api/sa/api;URI=" + billingService,
		"x-client-cert", "URI=" + billingService, "ssl-client-verify", "SUCCESS", "x-ssl-client-s-dn", "CN=billing",
		"client-cert", ":MIIBszCCAVmgAwIBAgIJAK:",
	}
	expectProblem(t, g.send(request("POST", "/payments", forged...)), 403, "peer_identity")
	res := g.send(from(mtls(billingService), request("POST", "/payments", forged...)))
	if res.Status != 200 || res.Upstream == nil {
		t.Fatalf("billing: status %d %s", res.Status, res.Body)
	}
	for i := 0; i < len(forged); i += 2 {
		if v, ok := res.Upstream.Headers.Get(forged[i]); ok {
			t.Errorf("the upstream got %s: %q", forged[i], v)
		}
	}
}

func TestRefundsNeedTheBillingServiceAndAUser(t *testing.T) {
	g := startGateway(t, meshPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	user := bearer(idpKeys()["ES256"].Token(idpClaims()))
	if res := g.send(from(mtls(billingService), request("POST", "/refunds", user...))); res.Status != 200 || res.Upstream == nil {
		t.Errorf("billing for a user: status %d %s", res.Status, res.Body)
	}
	expectProblem(t, g.send(from(mtls(billingService), request("POST", "/refunds"))), 401, "token_missing")
	expectProblem(t, g.send(from(mtls(billingService), request("POST", "/refunds", "authorization", "Bearer x.y.z"))), 401, "token_malformed")
	expectProblem(t, g.send(request("POST", "/refunds", user...)), 403, "peer_identity")
	expectProblem(t, g.send(from(mtls(shippingService), request("POST", "/refunds", user...))), 403, "peer_identity")
}

// TestTheLedgerTakesAServiceOrAUser: the orders namespace's services read
// the ledger without a token, except the batch job the deny rule names;
// another namespace's service is identified (the trust domain is accepted)
// but not allowed on its own, so it needs a user's token; without a
// service identity a user's token is needed, as on any route; each service
// has its own rate limit.
func TestTheLedgerTakesAServiceOrAUser(t *testing.T) {
	g := startGateway(t, meshPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	user := bearer(idpKeys()["ES256"].Token(idpClaims()))
	read := func(tls *host.TLS, headers ...string) *host.Result {
		return g.send(from(tls, request("GET", "/ledger", headers...)))
	}
	if res := read(mtls(billingService)); res.Status != 200 {
		t.Errorf("billing: status %d %s", res.Status, res.Body)
	}
	expectProblem(t, read(mtls(batchService)), 403, "forbidden")
	expectProblem(t, read(mtls(shippingService)), 403, "forbidden")
	if res := read(mtls(shippingService), user...); res.Status != 200 {
		t.Errorf("shipping for a user: status %d %s", res.Status, res.Body)
	}
	if res := read(nil, user...); res.Status != 200 {
		t.Errorf("a user over plaintext: status %d %s", res.Status, res.Body)
	}
	expectProblem(t, read(nil), 401, "token_missing")
	// Billing's budget (a burst of 1 and 1 a minute) is its own.
	if res := read(mtls(billingService)); res.Status != 200 {
		t.Errorf("billing's second read: status %d", res.Status)
	}
	expectProblem(t, read(mtls(billingService)), 429, "rate_limited")
	if res := read(mtls("spiffe://cluster.local/ns/orders/sa/reports")); res.Status != 200 {
		t.Errorf("another service of the namespace: status %d %s", res.Status, res.Body)
	}
}

// TestTheAuditRecordNamesTheCallingService: the record of a service's
// request carries its SPIFFE ID, next to the user it acts for, and nothing
// else of its certificate.
func TestTheAuditRecordNamesTheCallingService(t *testing.T) {
	g := startGateway(t, strings.Replace(meshPolicy(), `"routes": [`, `"audit": {}, "routes": [`, 1), 1,
		func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
	g.env.ResetLogs()
	g.send(from(mtls(billingService), request("POST", "/refunds", bearer(idpKeys()["ES256"].Token(idpClaims()))...)))
	g.send(from(mtls(shippingService), request("POST", "/payments")))
	for _, l := range g.env.Logs() {
		if strings.Contains(l.Message, "O=mesh") || strings.Contains(l.Message, shippingService) {
			t.Errorf("a log line holds the certificate's subject or a refused ID: %s", l.Message)
		}
	}
	recs := records(t, g.env)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	if r := recs[0]; r.Peer != billingService || r.Principal["sub"] != "alice" || r.Decision != "allowed" {
		t.Errorf("billing for alice: %+v", r)
	}
	// A service the route does not accept is no verified identity: the
	// record names the reason, not the refused ID.
	if r := recs[1]; r.Peer != "" || r.Decision != "denied" || r.Reason != "peer_identity" {
		t.Errorf("shipping: %+v", r)
	}
}
