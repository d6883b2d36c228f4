package e2e

import (
	"crypto/elliptic"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// An upstream decoding the forwarded payload with Go's encoding/json matches
// member names case-insensitively, and other stacks mangle invalid UTF-8 each
// their own way: a token whose JSON two readers could read differently is
// refused, whatever its signature.
func TestTokensTwoParsersCouldReadDifferentlyAreRefused(t *testing.T) {
	g := startOrdersAPI(t)
	es := idpKeys()["ES256"]
	claimsWith := func(member string) string {
		return strings.TrimSuffix(idpClaims(), "}") + "," + member + "}"
	}
	tests := []struct {
		name, header, payload, reason string
	}{
		{name: "alg and Alg in the header", header: `{"alg":"ES256","kid":"ec-256","Alg":"none"}`, reason: "token_case_variant"},
		{name: "kid and the Kelvin-sign Kid", header: `{"alg":"ES256","kid":"ec-256","\u212aid":"other"}`, reason: "token_case_variant"},
		{name: "role and Role in the payload", payload: claimsWith(`"role":"user","Role":"admin"`), reason: "token_case_variant"},
		{name: "case variants at depth", payload: claimsWith(`"realm_access":{"groups":[{"name":"a","NAME":"b"}]}`), reason: "token_case_variant"},
		{name: "sub and SUB", payload: claimsWith(`"SUB":"root"`), reason: "token_case_variant"},
		{name: "invalid UTF-8 in a claim", payload: claimsWith("\"tenant\":\"\xc0\xaf\""), reason: "token_malformed"},
		{name: "invalid UTF-8 in the header", header: "{\"alg\":\"ES256\",\"kid\":\"ec-256\",\"x\":\"\xff\"}", reason: "token_malformed"},
		{name: "a lone high surrogate", payload: claimsWith(`"tenant":"\ud800"`), reason: "token_malformed"},
		{name: "a lone low surrogate in a name", payload: claimsWith(`"\udc00":1`), reason: "token_malformed"},
		{name: "a high surrogate without its pair", payload: claimsWith(`"tenant":"\ud83dx"`), reason: "token_malformed"},
		{name: "a lone surrogate in the header", header: `{"alg":"ES256","kid":"ec-256","x":"\udfff"}`, reason: "token_malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header, payload := tc.header, tc.payload
			if header == "" {
				header = es.Header()
			}
			if payload == "" {
				payload = idpClaims()
			}
			expectProblem(t, g.send(request("GET", "/orders/1", bearer(es.Sign("ES256", header, payload))...)), 401, tc.reason)
		})
	}
	// The same claims, spelled once each, pass: the refusal is about the
	// duplicate, not the characters.
	ok := es.Token(claimsWith(`"role":"admin","realm_access":{"groups":[{"name":"a"}]},"tenant":"\ud83d\ude00"`))
	if res := g.send(request("GET", "/orders/1", bearer(ok)...)); res.Status != 200 {
		t.Errorf("a clean token: %d %s", res.Status, res.Body)
	}
}

// What an upstream receives from claim_to_headers, byte for byte: printable
// ASCII as is, everything else (space, %, comma, non-ASCII, U+2028 and
// U+2029) percent-encoded, so no HTTP stack can mangle it and an array has
// one reading.
func TestClaimHeadersReachTheUpstreamByteForByte(t *testing.T) {
	g := startOrdersAPI(t)
	tests := []struct {
		name, tenant, want string
	}{
		{name: "ASCII", tenant: `"acme-corp_1+eu"`, want: "acme-corp_1+eu"},
		{name: "non-ASCII", tenant: `"café"`, want: "caf%C3%A9"},
		{name: "line and paragraph separators", tenant: `"a\u2028b\u2029c"`, want: "a%E2%80%A8b%E2%80%A9c"},
		{name: "spaces, percent and comma", tenant: `" Doe, 100% "`, want: "%20Doe%2C%20100%25%20"},
		{name: "an element with a comma", tenant: `["admin,ops"]`, want: "admin%2Cops"},
		{name: "two elements", tenant: `["admin","ops"]`, want: "admin,ops"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := g.send(request("GET", "/orders/1", bearer(idpKeys()["EdDSA"].Token(idpClaims("tenant", tc.tenant)))...))
			if res.Status != 200 || res.Upstream == nil {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			if got := res.Upstream.Headers.Values("x-auth-tenant"); len(got) != 1 || got[0] != tc.want {
				t.Errorf("x-auth-tenant %q, want exactly %q", got, tc.want)
			}
		})
	}
}

// A value of the token's header that starts with the scheme is a credential,
// however it is spelled, and must verify; on an optional route "no token"
// would otherwise let a forged one reach the upstream.
func TestCredentialsCannotHideFromTheExtractor(t *testing.T) {
	g := startOrdersAPI(t)
	good := idpKeys()["RS256"].Token(idpClaims())
	forged := jwttest.RSA("rsa-1", "RS256", 2048).Token(jwttest.Claims(idpIssuer, "orders-api", jwtNow.Add(time.Hour).Unix(), "sub", `"admin"`))
	tests := []struct {
		name    string
		headers []string
		status  int
		reason  string
	}{
		{name: "Bearer and a tab", headers: []string{"authorization", "Bearer\t" + forged}, status: 401, reason: "token_malformed"},
		{name: "Bearer and a comma", headers: []string{"authorization", "Bearer," + forged}, status: 401, reason: "token_malformed"},
		{name: "Bearer glued to the token", headers: []string{"authorization", "Bearer" + forged}, status: 401, reason: "token_malformed"},
		{name: "lower case and two spaces", headers: []string{"authorization", "bearer  " + forged}, status: 401, reason: "token_signature"},
		{name: "two headers joined by Envoy", headers: []string{"authorization", "Bearer " + good + ",Bearer " + forged}, status: 400, reason: "token_duplicate"},
		{name: "a good header and a hidden forged one", headers: []string{"authorization", "Bearer " + good, "authorization", "Bearer\t" + forged}, status: 401, reason: "token_malformed"},
		{name: "a good header and a Basic one", headers: []string{"authorization", "Bearer " + good, "authorization", "Basic YTpi"}, status: 400, reason: "token_duplicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectProblem(t, g.send(request("GET", "/catalogue/books", tc.headers...)), tc.status, tc.reason)
		})
	}
	res := g.send(request("GET", "/catalogue/books", "authorization", "Basic YTpi"))
	if v, _ := res.Upstream.Headers.Get("authorization"); res.Status != 200 || v != "Basic YTpi" {
		t.Errorf("another scheme alone is not apiguard's: %d, upstream got %q", res.Status, v)
	}
}

// sessionsPolicy reads a browser session cookie on one route and, on an API
// route, requires access tokens (typ at+jwt) and forwards them.
func sessionsPolicy() string {
	jwks := jwttest.JWKS(idpKeys()["ES256"])
	return fmt.Sprintf(`{
  "providers": {
    "web": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}, "from": [{"cookie": "session"}]},
    "api": {"issuer": %q, "audiences": ["orders-api"], "jwks": {"inline": %s}, "typ": "at+jwt", "forward": true}
  },
  "routes": [
    {"name": "web", "match": {"path": "/web/**"}, "auth": {"providers": ["web"]}},
    {"name": "api", "match": {"path": "/api/**"}, "auth": {"providers": ["api"], "optional": true}}
  ]
}`, idpIssuer, jwks, idpIssuer, jwks)
}

func startSessions(t *testing.T) *apiGateway {
	return startGateway(t, sessionsPolicy(), 1, func(c *host.Config) { c.Clock = host.NewFakeClock(jwtNow) })
}

func TestStrippingTheSessionCookieKeepsEveryOtherCookie(t *testing.T) {
	g := startSessions(t)
	tok := idpKeys()["ES256"].Token(idpClaims())
	res := g.send(request("GET", "/web/home", "cookie", "theme=dark; session="+tok, "cookie", "lang=fr", "cookie", "a=1; b=2"))
	if res.Status != 200 || res.Upstream == nil {
		t.Fatalf("status %d: %s", res.Status, res.Body)
	}
	if got := res.Upstream.Headers.Values("cookie"); len(got) != 1 || got[0] != "theme=dark; lang=fr; a=1; b=2" {
		t.Errorf("upstream cookies %q, want one header with every other cookie", got)
	}
}

// An ID token or a logout token from the same IdP, for the same audience,
// is not an access token (RFC 8725 section 3.11); a provider that says which
// typ it takes refuses the others.
func TestAProviderRequiringAccessTokensRefusesIDTokens(t *testing.T) {
	g := startSessions(t)
	es := idpKeys()["ES256"]
	sign := func(typ string) string {
		return es.Sign("ES256", `{"alg":"ES256","kid":"ec-256","typ":"`+typ+`"}`, idpClaims())
	}
	for _, typ := range []string{"at+jwt", "AT+JWT", "application/at+jwt"} {
		tok := sign(typ)
		res := g.send(request("GET", "/api/orders", bearer(tok)...))
		if res.Status != 200 {
			t.Errorf("typ %q: %d %s", typ, res.Status, res.Body)
		} else if v := res.Upstream.Headers.Values("authorization"); len(v) != 1 || v[0] != "Bearer "+tok {
			t.Errorf("typ %q: the upstream got authorization %q, want the verified token only", typ, v)
		}
	}
	for _, typ := range []string{"JWT", "logout+jwt", "id_token+jwt"} {
		expectProblem(t, g.send(request("GET", "/api/orders", bearer(sign(typ))...)), 401, "token_type")
	}
	expectProblem(t, g.send(request("GET", "/api/orders", bearer(es.Sign("ES256", `{"alg":"ES256","kid":"ec-256"}`, idpClaims()))...)), 401, "token_type")
	if m, _ := g.env.Metric("apiguard.authn.api.denied.token_type"); m != 4 {
		t.Errorf("apiguard.authn.api.denied.token_type = %d, want 4", m)
	}
}

// With forward: true the upstream gets the verified token, and nothing
// unverified rides along next to it.
func TestAForwardingProviderForwardsOnlyTheVerifiedToken(t *testing.T) {
	g := startSessions(t)
	good := idpKeys()["ES256"].Sign("ES256", `{"alg":"ES256","kid":"ec-256","typ":"at+jwt"}`, idpClaims())
	forged := jwttest.EC("ec-256", elliptic.P256()).Sign("ES256", `{"alg":"ES256","kid":"ec-256","typ":"at+jwt"}`, idpClaims())
	expectProblem(t, g.send(request("GET", "/api/orders", "authorization", "Bearer "+good, "authorization", "Bearer\t"+forged)), 401, "token_malformed")
	expectProblem(t, g.send(request("GET", "/api/orders", "authorization", "Bearer "+good+",Bearer "+forged)), 400, "token_duplicate")
	expectProblem(t, g.send(request("GET", "/api/orders", "authorization", "Bearerx"+forged)), 401, "token_malformed")
}

func TestKeysThatAreNotForVerifyingAreRefusedAtLoad(t *testing.T) {
	k := idpKeys()["ES256"].JWK()
	withOps := func(ops string, use bool) string {
		m := fmt.Sprintf(`{"kty":"EC","crv":"P-256","kid":"ec-256","x":%q,"y":%q,"key_ops":%s`, k["x"], k["y"], ops)
		if use {
			m += `,"use":"sig"`
		}
		return `{"keys":[` + m + `}]}`
	}
	config := fmt.Sprintf(`{
  "providers": {
    "enc": {"issuer": "a", "audiences": ["b"], "jwks": {"inline": %s}},
    "mixed": {"issuer": "a", "audiences": ["b"], "jwks": {"inline": %s}},
    "ok": {"issuer": "a", "audiences": ["b"], "jwks": {"inline": %s}, "typ": "at jwt"}
  },
  "routes": [{"name": "r", "match": {"path": "/"}, "auth": {"providers": ["enc", "mixed", "ok"]}}]
}`, withOps(`["encrypt"]`, false), withOps(`["verify","encrypt"]`, true), withOps(`["verify"]`, true))
	env, _, err := load(t, "plugin.wasm", config, 1)
	if err == nil {
		t.Fatal("configuration accepted")
	}
	for _, want := range []string{
		`providers.enc.jwks.inline.keys[0].key_ops: does not include "verify": not a verification key`,
		`providers.mixed.jwks.inline.keys[0].key_ops: "encrypt" contradicts use "sig"`,
		`providers.ok.typ: "at jwt" is not a media type such as at+jwt`,
	} {
		if !logged(env, want) {
			t.Errorf("no log line names %q", want)
		}
	}
	if logged(env, "providers.ok.jwks") {
		t.Error("a key with key_ops [verify] was refused")
	}
}
