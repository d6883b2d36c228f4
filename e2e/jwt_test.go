package e2e

import (
	"crypto/elliptic"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

const (
	idpIssuer     = "https://idp.example.com/"
	partnerIssuer = "https://partner.example/"
)

// jwtNow is the fake clock's start; tokens are minted relative to it.
var jwtNow = time.Unix(1_800_000_000, 0)

// idpKeys are the identity provider's real keys, one per key type, generated
// once per test binary.
var idpKeys = sync.OnceValue(func() map[string]*jwttest.Key {
	return map[string]*jwttest.Key{
		"RS256": jwttest.RSA("rsa-1", "RS256", 2048),
		"PS384": jwttest.RSA("rsa-pss", "PS384", 2048),
		"ES256": jwttest.EC("ec-256", elliptic.P256()),
		"ES384": jwttest.EC("ec-384", elliptic.P384()),
		"EdDSA": jwttest.Ed25519("ed-1"),
		"HS256": jwttest.HMAC("hmac-1", "HS256", 32),
	}
})

var partnerKey = sync.OnceValue(func() *jwttest.Key { return jwttest.EC("partner-1", elliptic.P256()) })

// ordersPolicy protects an orders API with the IdP, lets a partner in on one
// route, and keeps a catalogue readable without a token.
func ordersPolicy() string {
	k := idpKeys()
	return fmt.Sprintf(`{
  "providers": {
    "idp": {
      "issuer": %q, "audiences": ["orders-api"],
      "jwks": {"inline": %s},
      "claim_to_headers": {"sub": "x-auth-sub", "tenant": "x-auth-tenant"},
      "payload_header": "x-jwt-payload"
    },
    "partner": {
      "issuer": %q, "audiences": ["orders-api"],
      "jwks": {"inline": %s},
      "from": [{"header": "authorization", "prefix": "Bearer "}, {"query": "access_token"}],
      "claim_to_headers": {"sub": "x-partner-sub"}
    }
  },
  "routes": [
    {"name": "orders", "match": {"path": "/orders/**"}, "auth": {"providers": ["idp"]}},
    {"name": "shipments", "match": {"path": "/shipments/**"}, "auth": {"providers": ["idp", "partner"]}},
    {"name": "catalogue", "match": {"path": "/catalogue/**", "methods": ["GET"]}, "auth": {"providers": ["idp"], "optional": true}},
    {"name": "health", "match": {"path": "/healthz"}, "auth": "none"}
  ]
}`, idpIssuer, jwttest.JWKS(k["RS256"], k["PS384"], k["ES256"], k["ES384"], k["EdDSA"], k["HS256"]),
		partnerIssuer, jwttest.JWKS(partnerKey()))
}

func startOrdersAPI(t testing.TB) *apiGateway {
	return startGateway(t, ordersPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
}

func idpClaims(extra ...string) string {
	return jwttest.Claims(idpIssuer, "orders-api", jwtNow.Add(10*time.Minute).Unix(), append([]string{"sub", `"alice"`}, extra...)...)
}

func bearer(tok string) []string { return []string{"authorization", "Bearer " + tok} }

func TestTokensSignedWithEveryKeyTypeAreAccepted(t *testing.T) {
	g := startOrdersAPI(t)
	for alg, k := range idpKeys() {
		t.Run(alg, func(t *testing.T) {
			res := g.send(request("GET", "/orders/42", bearer(k.Token(idpClaims("tenant", `"acme"`)))...))
			if res.Status != 200 || res.Upstream == nil {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			up := res.Upstream.Headers
			if sub, _ := up.Get("x-auth-sub"); sub != "alice" {
				t.Errorf("x-auth-sub = %q, want alice", sub)
			}
			if tenant, _ := up.Get("x-auth-tenant"); tenant != "acme" {
				t.Errorf("x-auth-tenant = %q, want acme", tenant)
			}
			if _, ok := up.Get("authorization"); ok {
				t.Error("the token reached the upstream; forward is false by default")
			}
			if p, _ := up.Get("x-jwt-payload"); p == "" {
				t.Error("x-jwt-payload missing")
			}
		})
	}
}

func TestHostileTokensAreRefused(t *testing.T) {
	g := startOrdersAPI(t)
	k := idpKeys()
	rs := k["RS256"]
	good := rs.Token(idpClaims())
	expired := rs.Token(jwttest.Claims(idpIssuer, "orders-api", jwtNow.Add(-2*time.Minute).Unix()))
	tests := []struct {
		name      string
		headers   []string
		path      string
		status    int
		reason    string
		challenge string
	}{
		{name: "no token", status: 401, reason: "token_missing", challenge: `Bearer realm="apiguard"`},
		{name: "alg none", headers: bearer(strings.Join(strings.Split(rs.Sign("RS256", `{"alg":"none"}`, idpClaims()), ".")[:2], ".") + ".x"),
			status: 401, reason: "token_algorithm"},
		{name: "HMAC signed with the RSA public key", headers: bearer(rs.Sign("HS256", `{"alg":"HS256","kid":"rsa-1"}`, idpClaims())), status: 401, reason: "token_algorithm"},
		{name: "unknown kid", headers: bearer(rs.Sign("RS256", `{"alg":"RS256","kid":"rotated-away"}`, idpClaims())), status: 401, reason: "token_unknown_key"},
		{name: "attacker key with a known kid", headers: bearer(jwttest.RSA("rsa-1", "RS256", 2048).Token(idpClaims())), status: 401, reason: "token_signature"},
		{name: "embedded jwk", headers: bearer(jwttest.EC("", elliptic.P256()).Sign("ES256", `{"alg":"ES256","jwk":{"kty":"EC"}}`, idpClaims())), status: 401, reason: "token_signature"},
		{name: "expired", headers: bearer(expired), status: 401, reason: "token_expired"},
		{name: "another audience", headers: bearer(rs.Token(jwttest.Claims(idpIssuer, "billing-api", jwtNow.Add(time.Hour).Unix()))), status: 401, reason: "token_audience"},
		{name: "another issuer", headers: bearer(rs.Token(jwttest.Claims("https://evil.example/", "orders-api", jwtNow.Add(time.Hour).Unix()))), status: 401, reason: "token_issuer"},
		{name: "duplicate claims", headers: bearer(rs.Token(`{"iss":"` + idpIssuer + `","aud":"orders-api","exp":1900000000,"sub":"alice","sub":"admin"}`)), status: 401, reason: "token_malformed"},
		{name: "unknown crit", headers: bearer(rs.Sign("RS256", `{"alg":"RS256","kid":"rsa-1","crit":["x"],"x":1}`, idpClaims())), status: 401, reason: "token_malformed"},
		{name: "JWE", headers: bearer("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"), status: 401, reason: "token_malformed"},
		{name: "oversized", headers: bearer(rs.Token(idpClaims("pad", `"`+strings.Repeat("A", 9000)+`"`))), status: 401, reason: "token_too_large"},
		{name: "claim smuggling a header", headers: bearer(rs.Token(idpClaims("tenant", `"acme\r\nx-admin: true"`))), status: 401, reason: "token_claim_header"},
		{name: "two authorization headers", headers: append(bearer(good), bearer(good)...), status: 400, reason: "token_duplicate",
			challenge: `Bearer realm="apiguard", error="invalid_request"`},
		{name: "a token in the header and one in the query", path: "/shipments/1?access_token=" + partnerKey().Token(jwttest.Claims(partnerIssuer, "orders-api", jwtNow.Add(time.Hour).Unix())),
			headers: bearer(good), status: 400, reason: "token_duplicate", challenge: `Bearer realm="apiguard", error="invalid_request"`},
		{name: "optional route with a bad token", path: "/catalogue/books", headers: bearer(expired), status: 401, reason: "token_expired"},
		{name: "nbf in the future", headers: bearer(rs.Token(idpClaims("nbf", fmt.Sprint(jwtNow.Add(5*time.Minute).Unix())))), status: 401, reason: "token_not_yet_valid"},
		{name: "iat in the future", headers: bearer(rs.Token(idpClaims("iat", fmt.Sprint(jwtNow.Add(5*time.Minute).Unix())))), status: 401, reason: "token_not_yet_valid"},
		{name: "exp as a string", headers: bearer(rs.Token(`{"iss":"` + idpIssuer + `","aud":"orders-api","exp":"1900000000"}`)), status: 401, reason: "token_expired"},
		{name: "exp overflowing", headers: bearer(rs.Token(`{"iss":"` + idpIssuer + `","aud":"orders-api","exp":1e999}`)), status: 401, reason: "token_expired"},
		{name: "audience a number", headers: bearer(rs.Token(jwttest.Claims(idpIssuer, 42, jwtNow.Add(time.Hour).Unix()))), status: 401, reason: "token_audience"},
		{name: "b64 false", headers: bearer(rs.Sign("RS256", `{"alg":"RS256","kid":"rsa-1","b64":false,"crit":["b64"]}`, idpClaims())), status: 401, reason: "token_malformed"},
		{name: "padded part", headers: bearer(strings.Replace(good, ".", "=.", 1)), status: 401, reason: "token_malformed"},
		{name: "empty signature", headers: bearer(good[:strings.LastIndexByte(good, '.')+1]), status: 401, reason: "token_malformed"},
		{name: "ECDSA signature of the wrong length", headers: bearer(k["ES256"].Token(idpClaims()) + "AA"), status: 401, reason: "token_signature"},
		{name: "ECDSA psychic signature (CVE-2022-21449)", headers: bearer(psychic(k["ES256"].Token(idpClaims()))), status: 401, reason: "token_signature"},
		{name: "token only in a query the provider does not read", path: "/orders/42?access_token=" + good, status: 401, reason: "token_missing",
			challenge: `Bearer realm="apiguard"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/orders/42"
			}
			res := g.send(request("GET", path, tc.headers...))
			p := expectProblem(t, res, tc.status, tc.reason)
			want := tc.challenge
			if want == "" {
				want = `Bearer realm="apiguard", error="invalid_token"`
			}
			if got, _ := res.Headers.Get("www-authenticate"); got != want {
				t.Errorf("www-authenticate %q, want %q", got, want)
			}
			for i := 0; i+1 < len(tc.headers); i += 2 {
				if tok := strings.TrimPrefix(tc.headers[i+1], "Bearer "); len(tok) > 20 && strings.Contains(string(res.Body), tok[:20]) {
					t.Errorf("the problem body echoes the token: %s", res.Body)
				}
			}
			_ = p
		})
	}
}

func TestClaimHeadersCannotBeSpoofed(t *testing.T) {
	g := startOrdersAPI(t)
	spoof := []string{"x-auth-sub", "root", "x-auth-tenant", "everyone", "x-jwt-payload", "e30", "x-partner-sub", "partner"}
	res := g.send(request("GET", "/healthz", spoof...))
	if res.Status != 200 {
		t.Fatalf("status %d", res.Status)
	}
	for i := 0; i < len(spoof); i += 2 {
		if v, ok := res.Upstream.Headers.Get(spoof[i]); ok {
			t.Errorf("public route: client-sent %s: %s reached the upstream", spoof[i], v)
		}
	}
	res = g.send(request("GET", "/orders/1", append(spoof, bearer(idpKeys()["ES256"].Token(idpClaims()))...)...))
	if vals := res.Upstream.Headers.Values("x-auth-sub"); len(vals) != 1 || vals[0] != "alice" {
		t.Errorf("x-auth-sub = %v, want only the token's alice", vals)
	}
	if _, ok := res.Upstream.Headers.Get("x-auth-tenant"); ok {
		t.Error("a claim the token lacks must not leave the client's value in place")
	}
}

func TestAnyOfProvidersAndOptionalRoutes(t *testing.T) {
	g := startOrdersAPI(t)
	partnerTok := partnerKey().Token(jwttest.Claims(partnerIssuer, "orders-api", jwtNow.Add(time.Hour).Unix(), "sub", `"acme-logistics"`))
	res := g.send(request("GET", "/shipments/7?access_token="+partnerTok+"&page=2"))
	if res.Status != 200 || upstreamPath(res) != "/shipments/7?page=2" {
		t.Fatalf("partner via query: %d %q", res.Status, upstreamPath(res))
	}
	if sub, _ := res.Upstream.Headers.Get("x-partner-sub"); sub != "acme-logistics" {
		t.Errorf("x-partner-sub %q", sub)
	}
	if res := g.send(request("GET", "/shipments/7", bearer(idpKeys()["EdDSA"].Token(idpClaims()))...)); res.Status != 200 {
		t.Errorf("IdP token on an any-of route: %d", res.Status)
	}
	if res := g.send(request("GET", "/orders/7", bearer(partnerTok)...)); res.Status != 401 {
		t.Errorf("partner token on an IdP-only route: %d", res.Status)
	}
	if res := g.send(request("GET", "/catalogue/books")); res.Status != 200 {
		t.Errorf("optional route without a token: %d", res.Status)
	}
	if m, _ := g.env.Metric("apiguard.authn.partner.verified"); m != 1 {
		t.Errorf("apiguard.authn.partner.verified = %d, want 1", m)
	}
	if m, _ := g.env.Metric("apiguard.authn.idp.denied.token_issuer"); m != 0 {
		t.Errorf("the IdP counted a partner token it never owned: %d", m)
	}
}

func TestAVerifiedTokenStopsWorkingAtExp(t *testing.T) {
	g := startOrdersAPI(t)
	tok := idpKeys()["RS256"].Token(jwttest.Claims(idpIssuer, "orders-api", jwtNow.Add(5*time.Minute).Unix()))
	for i := 0; i < 2; i++ { // the second request is served from the verified-token cache
		if res := g.send(request("GET", "/orders/1", bearer(tok)...)); res.Status != 200 {
			t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
		}
	}
	g.env.Advance(5*time.Minute + 60*time.Second) // exp plus the default 60 s skew
	expectProblem(t, g.send(request("GET", "/orders/1", bearer(tok)...)), 401, "token_expired")
	if ok, _ := g.env.Metric("apiguard.authn.idp.verified"); ok != 2 {
		t.Errorf("apiguard.authn.idp.verified = %d, want 2", ok)
	}
	if expired, _ := g.env.Metric("apiguard.authn.idp.denied.token_expired"); expired != 1 {
		t.Errorf("apiguard.authn.idp.denied.token_expired = %d, want 1", expired)
	}
}

// TestACachedTokenOutlivesTheStreamsAfterIt: a stream's headers are read
// into the memory the stream before it on that context was read into, so
// what the verified-token cache keeps is its own copy: a token comes back
// from the cache, with its claims, after another token's stream
// overwrote where it had been read.
func TestACachedTokenOutlivesTheStreamsAfterIt(t *testing.T) {
	g := startOrdersAPI(t)
	k := idpKeys()["ES256"]
	alice := k.Token(idpClaims("tenant", `"acme"`))
	bob := k.Token(jwttest.Claims(idpIssuer, "orders-api", jwtNow.Add(10*time.Minute).Unix(), "sub", `"bob"`, "tenant", `"globex"`))
	for i, tc := range []struct{ tok, sub, path string }{
		{alice, "alice", "/orders/1"},
		{bob, "bob", "/orders/22"},
		{alice, "alice", "/orders/333"},
		{bob, "bob", "/orders/4444"},
	} {
		// A header before the token's, of another length each time: the
		// token is never read twice into the same place (each map smaller than
		// the first, so each is read into the same buffer).
		res := g.send(request("GET", tc.path, append([]string{"x-trace", strings.Repeat("t", 40-10*i)}, bearer(tc.tok)...)...))
		if res.Status != 200 || res.Upstream == nil {
			t.Fatalf("request %d: status %d %s", i, res.Status, res.Body)
		}
		if sub, _ := res.Upstream.Headers.Get("x-auth-sub"); sub != tc.sub || upstreamPath(res) != tc.path {
			t.Errorf("request %d: the upstream got x-auth-sub %q at %s, want %q at %s", i, sub, upstreamPath(res), tc.sub, tc.path)
		}
	}
	if hits, _ := g.env.Metric("apiguard.authn.idp.cache_hits"); hits != 2 {
		t.Errorf("apiguard.authn.idp.cache_hits = %d, want 2 (each token's second request)", hits)
	}
}

func TestBadProviderConfigIsRefused(t *testing.T) {
	config := fmt.Sprintf(`{
  "providers": {
    "idp": {"issuer": "", "audiences": [], "jwks": {"inline": %s}, "from": [{"header": "x", "query": "y"}], "claim_to_headers": {"sub": "Authorization"}},
    "weak": {"issuer": "a", "audiences": ["b"], "jwks": {"inline": %s}}
  },
  "routes": [{"name": "r", "match": {"path": "/"}, "auth": {"providers": ["idp", "nope"]}}]
}`, jwttest.JWKS(jwttest.HMAC("k", "HS256", 16)), jwttest.JWKS(jwttest.RSA("small", "RS256", 1024)))
	env, _, err := load(t, "plugin.wasm", config, 1)
	if err == nil {
		t.Fatal("configuration accepted")
	}
	for _, want := range []string{
		"providers.idp.jwks.inline.keys[0].k: HS256 secret of 16 bytes; at least 32 required",
		"providers.weak.jwks.inline.keys[0].n: RSA key of 1024 bits; at least 2048 required",
		"providers.idp.from[0]: must name exactly one of header, query or cookie",
		"providers.idp.issuer: required",
		`providers.idp.claim_to_headers.sub: "Authorization" must be lower-case`,
		`routes[0].auth.providers[1]: unknown provider "nope"`,
	} {
		if !logged(env, want) {
			t.Errorf("no log line names %q", want)
		}
	}
}

// psychic replaces an ES256 signature with r = s = 0, which broken ECDSA
// verifiers accept for any message (CVE-2022-21449).
func psychic(tok string) string {
	return tok[:strings.LastIndexByte(tok, '.')+1] + strings.Repeat("A", 86)
}
