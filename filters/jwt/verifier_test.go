package jwt

import (
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

const (
	issuer   = "https://idp.example.com/"
	audience = "orders-api"
)

var (
	now      = time.Unix(1_700_000_000, 0)
	later    = now.Add(time.Hour).Unix()
	keysOnce sync.Once
	keys     map[string]*jwttest.Key
)

// testKeys are generated once per test binary: one per algorithm, plus an
// attacker's key that the provider does not know.
func testKeys() map[string]*jwttest.Key {
	keysOnce.Do(func() {
		keys = map[string]*jwttest.Key{
			"RS256": jwttest.RSA("rs256", "RS256", 2048), "RS384": jwttest.RSA("rs384", "RS384", 2048),
			"RS512": jwttest.RSA("rs512", "RS512", 2048), "PS256": jwttest.RSA("ps256", "PS256", 2048),
			"PS384": jwttest.RSA("ps384", "PS384", 2048), "PS512": jwttest.RSA("ps512", "PS512", 2048),
			"ES256": jwttest.EC("es256", elliptic.P256()), "ES384": jwttest.EC("es384", elliptic.P384()),
			"ES512": jwttest.EC("es512", elliptic.P521()), "EdDSA": jwttest.Ed25519("ed"),
			"HS256": jwttest.HMAC("hs256", "HS256", 32), "HS384": jwttest.HMAC("hs384", "HS384", 48),
			"HS512": jwttest.HMAC("hs512", "HS512", 64),
		}
		keys["attacker"] = jwttest.RSA("rs256", "RS256", 2048)
	})
	return keys
}

func providerKeys(t testing.TB) *KeySet {
	t.Helper()
	var ks []*jwttest.Key
	for alg, k := range testKeys() {
		if alg != "attacker" {
			ks = append(ks, k)
		}
	}
	set, err := ParseKeySet(jwttest.JWKS(ks...))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func newVerifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{Issuer: issuer, Audiences: []string{audience, "billing-api"}, ClockSkew: DefaultClockSkew})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func claims(extra ...string) string { return jwttest.Claims(issuer, audience, later, extra...) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// replacePart swaps part i (0 header, 1 payload, 2 signature) of a token.
func replacePart(tok string, i int, part string) string {
	parts := strings.Split(tok, ".")
	parts[i] = part
	return strings.Join(parts, ".")
}

func TestVerifyAcceptsEveryAlgorithm(t *testing.T) {
	v, set := newVerifier(t), providerKeys(t)
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			tok, d := v.Check(testKeys()[alg].Token(claims()), now)
			if d.Denied() {
				t.Fatalf("Check: %v %s", d.Reason.Code(), d.Detail())
			}
			if d := v.Verify(tok, set); d.Denied() {
				t.Fatalf("Verify: %v %s", d.Reason.Code(), d.Detail())
			}
			if got, _ := tok.Claim("iss"); got.Str != issuer {
				t.Errorf("claims iss = %q", got)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	k := testKeys()
	rs, es, hs := k["RS256"], k["ES256"], k["HS256"]
	good := rs.Token(claims())
	esGood := es.Token(claims())
	esSig, _ := base64.RawURLEncoding.DecodeString(strings.Split(esGood, ".")[2])
	n := elliptic.P256().Params().N.FillBytes(make([]byte, 32))
	tests := []struct {
		name   string
		token  string
		reason verdict.Reason
	}{
		// alg
		{"alg none without signature", b64(`{"alg":"none"}`) + "." + b64(claims()) + ".", verdict.TokenMalformed},
		{"alg none in another casing", rs.Sign("RS256", `{"alg":"nOnE","kid":"rs256"}`, claims()), verdict.TokenAlgorithm},
		{"alg not accepted", rs.Sign("RS256", `{"alg":"HS1","kid":"rs256"}`, claims()), verdict.TokenAlgorithm},
		{"alg not a string", rs.Sign("RS256", `{"alg":256,"kid":"rs256"}`, claims()), verdict.TokenAlgorithm},
		{"HMAC keyed with an RSA public key", rs.Sign("HS256", `{"alg":"HS256","kid":"rs256"}`, claims()), verdict.TokenAlgorithm},
		{"RS256 against a PS256 key", k["PS256"].Sign("RS256", `{"alg":"RS256","kid":"ps256"}`, claims()), verdict.TokenAlgorithm},
		{"ES384 header on a P-256 key", es.Sign("ES256", `{"alg":"ES384","kid":"es256"}`, claims()), verdict.TokenAlgorithm},
		// kid and embedded keys
		{"unknown kid", rs.Sign("RS256", `{"alg":"RS256","kid":"nope"}`, claims()), verdict.TokenUnknownKey},
		{"kid not a string", rs.Sign("RS256", `{"alg":"RS256","kid":7}`, claims()), verdict.TokenMalformed},
		{"attacker key with the provider's kid", k["attacker"].Token(claims()), verdict.TokenSignature},
		{"embedded jwk is never used", k["attacker"].Sign("RS256", `{"alg":"RS256","jwk":`+mustJSON(k["attacker"].JWK())+`}`, claims()), verdict.TokenSignature},
		{"jku is never fetched", k["attacker"].Sign("RS256", `{"alg":"RS256","jku":"https://evil.example/jwks","kid":"rs256"}`, claims()), verdict.TokenSignature},
		{"x5u is never fetched", k["attacker"].Sign("RS256", `{"alg":"RS256","x5u":"https://evil.example/cert","kid":"rs256"}`, claims()), verdict.TokenSignature},
		// header
		{"crit", rs.Sign("RS256", `{"alg":"RS256","kid":"rs256","crit":["exp"]}`, claims()), verdict.TokenMalformed},
		{"b64 false", rs.Sign("RS256", `{"alg":"RS256","kid":"rs256","b64":false,"crit":["b64"]}`, claims()), verdict.TokenMalformed},
		{"b64 false without crit", rs.Sign("RS256", `{"alg":"RS256","kid":"rs256","b64":false}`, claims()), verdict.TokenMalformed},
		{"JWE header", rs.Sign("RS256", `{"alg":"RS256","kid":"rs256","enc":"A256GCM"}`, claims()), verdict.TokenMalformed},
		{"duplicate header key", rs.Sign("RS256", `{"alg":"RS256","alg":"HS256","kid":"rs256"}`, claims()), verdict.TokenMalformed},
		{"header not an object", rs.Sign("RS256", `["RS256"]`, claims()), verdict.TokenMalformed},
		// compact form
		{"JWE compact form", "a.b.c.d.e", verdict.TokenMalformed},
		{"two parts", "a.b", verdict.TokenMalformed},
		{"four parts", good + ".x", verdict.TokenMalformed},
		{"empty signature", replacePart(good, 2, ""), verdict.TokenMalformed},
		{"padding", replacePart(good, 1, b64(claims())+"="), verdict.TokenMalformed},
		{"standard base64 alphabet", replacePart(good, 2, strings.NewReplacer("-", "+", "_", "/").Replace(strings.Split(good, ".")[2])+"+/"), verdict.TokenMalformed},
		{"newline inside a part", replacePart(good, 1, b64(claims())[:10]+"\n"+b64(claims())[10:]), verdict.TokenMalformed},
		{"non-canonical trailing bits", replacePart(good, 2, "AB"), verdict.TokenMalformed},
		{"too large", rs.Token(claims("pad", `"`+strings.Repeat("x", 9000)+`"`)), verdict.TokenTooLarge},
		// payload JSON
		{"duplicate claim", rs.Token(`{"iss":"` + issuer + `","aud":"orders-api","exp":9999999999,"sub":"a","sub":"b"}`), verdict.TokenMalformed},
		{"escaped duplicate claim", rs.Token(`{"iss":"` + issuer + `","aud":"orders-api","exp":9999999999,"sub":"a","\u0073ub":"b"}`), verdict.TokenMalformed},
		{"nested duplicate claim", rs.Token(claims("realm_access", `{"roles":["a"],"roles":["admin"]}`)), verdict.TokenMalformed},
		{"payload not JSON", rs.Token(`{"iss":`), verdict.TokenMalformed},
		{"payload an array", rs.Token(`[1]`), verdict.TokenMalformed},
		// iss
		{"wrong issuer", rs.Token(jwttest.Claims("https://evil.example/", audience, later)), verdict.TokenIssuer},
		{"issuer differs in case", rs.Token(jwttest.Claims(strings.ToUpper(issuer), audience, later)), verdict.TokenIssuer},
		{"issuer missing", rs.Token(`{"aud":"orders-api","exp":9999999999}`), verdict.TokenIssuer},
		{"issuer not a string", rs.Token(`{"iss":["` + issuer + `"],"aud":"orders-api","exp":9999999999}`), verdict.TokenIssuer},
		// aud
		{"wrong audience", rs.Token(jwttest.Claims(issuer, "other-api", later)), verdict.TokenAudience},
		{"audience differs in case", rs.Token(jwttest.Claims(issuer, "Orders-API", later)), verdict.TokenAudience},
		{"audience missing", rs.Token(`{"iss":"` + issuer + `","exp":9999999999}`), verdict.TokenAudience},
		{"audience a number", rs.Token(jwttest.Claims(issuer, 7, later)), verdict.TokenAudience},
		{"audience array with a non-string", rs.Token(jwttest.Claims(issuer, []any{"orders-api", 7}, later)), verdict.TokenAudience},
		{"audience empty array", rs.Token(jwttest.Claims(issuer, []any{}, later)), verdict.TokenAudience},
		// times
		{"expired beyond the skew", rs.Token(jwttest.Claims(issuer, audience, now.Unix()-61)), verdict.TokenExpired},
		{"exp missing", rs.Token(`{"iss":"` + issuer + `","aud":"orders-api"}`), verdict.TokenExpired},
		{"exp a string", rs.Token(`{"iss":"` + issuer + `","aud":"orders-api","exp":"9999999999"}`), verdict.TokenExpired},
		{"exp overflowing", rs.Token(`{"iss":"` + issuer + `","aud":"orders-api","exp":1e400}`), verdict.TokenExpired},
		{"exp beyond year 9999", rs.Token(`{"iss":"` + issuer + `","aud":"orders-api","exp":1e30}`), verdict.TokenExpired},
		{"exp negative", rs.Token(`{"iss":"` + issuer + `","aud":"orders-api","exp":-1}`), verdict.TokenExpired},
		{"nbf beyond the skew", rs.Token(claims("nbf", "1700000061")), verdict.TokenNotYetValid},
		{"nbf not a number", rs.Token(claims("nbf", `"1"`)), verdict.TokenNotYetValid},
		{"iat in the future", rs.Token(claims("iat", "1700000100")), verdict.TokenNotYetValid},
		// signatures
		{"signature of another payload", replacePart(good, 1, b64(claims("sub", `"admin"`))), verdict.TokenSignature},
		{"ECDSA signature one byte short", replacePart(esGood, 2, base64.RawURLEncoding.EncodeToString(esSig[:63])), verdict.TokenSignature},
		{"ECDSA signature one byte long", replacePart(esGood, 2, base64.RawURLEncoding.EncodeToString(append(esSig[:64:64], 0))), verdict.TokenSignature},
		{"ECDSA psychic signature r=s=0 (CVE-2022-21449)", replacePart(esGood, 2, base64.RawURLEncoding.EncodeToString(make([]byte, 64))), verdict.TokenSignature},
		{"ECDSA s = n", replacePart(esGood, 2, base64.RawURLEncoding.EncodeToString(append(append([]byte{}, esSig[:32]...), n...))), verdict.TokenSignature},
		{"HMAC with a wrong secret", jwttest.HMAC("hs256", "HS256", 32).Token(claims()), verdict.TokenSignature},
		{"HMAC truncated", replacePart(hs.Token(claims()), 2, "AAAA"), verdict.TokenSignature},
	}
	v, set := newVerifier(t), providerKeys(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, d := v.Check(tc.token, now)
			if !d.Denied() {
				d = v.Verify(tok, set)
			}
			if d.Reason != tc.reason {
				t.Errorf("reason %s (%s), want %s", d.Reason.Code(), d.Detail(), tc.reason.Code())
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	rs := testKeys()["RS256"]
	noKid := jwttest.RSA("", "RS256", 2048)
	set, err := ParseKeySet(jwttest.JWKS(noKid, testKeys()["ES256"]))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		keys  *KeySet
	}{
		{"expired within the skew", rs.Token(jwttest.Claims(issuer, audience, now.Unix()-59)), providerKeys(t)},
		{"nbf within the skew", rs.Token(claims("nbf", "1700000059")), providerKeys(t)},
		{"audience in an array", rs.Token(jwttest.Claims(issuer, []string{"x", "billing-api"}, later)), providerKeys(t)},
		{"fractional exp", rs.Token(`{"iss":"` + issuer + `","aud":"orders-api","exp":1700000100.5}`), providerKeys(t)},
		{"no kid: the key bound to the alg", noKid.Token(claims()), set},
		{"b64 true is the default", rs.Sign("RS256", `{"alg":"RS256","kid":"rs256","b64":true}`, claims()), providerKeys(t)},
	}
	v := newVerifier(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, d := v.Check(tc.token, now)
			if !d.Denied() {
				d = v.Verify(tok, tc.keys)
			}
			if d.Denied() {
				t.Errorf("denied: %s %s", d.Reason.Code(), d.Detail())
			}
		})
	}
}

func TestVerifyWithoutKeysFailsClosed(t *testing.T) {
	v := newVerifier(t)
	tok, d := v.Check(testKeys()["RS256"].Token(claims()), now)
	if d.Denied() {
		t.Fatal(d)
	}
	if d := v.Verify(tok, nil); d.Reason != verdict.KeysUnavailable {
		t.Errorf("reason %s, want keys_unavailable", d.Reason.Code())
	}
}

func TestNewVerifierRequiresIssuerAndAudiences(t *testing.T) {
	_, err := NewVerifier(Config{})
	if err == nil || !strings.Contains(err.Error(), "issuer: required") || !strings.Contains(err.Error(), "audiences: at least one required") {
		t.Errorf("error %v", err)
	}
}

func TestAllowMissingExp(t *testing.T) {
	v, err := NewVerifier(Config{Issuer: issuer, Audiences: []string{audience}, AllowMissingExp: true, ClockSkew: DefaultClockSkew})
	if err != nil {
		t.Fatal(err)
	}
	if _, d := v.Check(testKeys()["RS256"].Token(`{"iss":"`+issuer+`","aud":"orders-api"}`), now); d.Denied() {
		t.Errorf("denied: %s", d.Reason.Code())
	}
}

func mustJSON(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestTokensWithoutKidTryFewKeys: a token without kid is tried against at
// most MaxKeysWithoutKid keys of its alg; a provider publishing more of them
// needs a kid, so a forged token cannot cost one signature check per key.
func TestTokensWithoutKidTryFewKeys(t *testing.T) {
	v := newVerifier(t)
	signer := jwttest.HMAC("", "HS256", 32)
	tok := signer.Token(claims())
	for _, tc := range []struct {
		name   string
		others int
		reason verdict.Reason
	}{
		{name: "the key and two others", others: MaxKeysWithoutKid - 1},
		{name: "the key and three others", others: MaxKeysWithoutKid, reason: verdict.TokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := []*jwttest.Key{signer}
			for i := 0; i < tc.others; i++ {
				keys = append(keys, jwttest.HMAC(fmt.Sprint("other-", i), "HS256", 32))
			}
			set, err := ParseKeySet(jwttest.JWKS(keys...))
			if err != nil {
				t.Fatal(err)
			}
			checked, d := v.Check(tok, now)
			if d.Denied() {
				t.Fatal(d)
			}
			if got := v.Verify(checked, set); got.Reason != tc.reason {
				t.Errorf("reason %s (%s), want %s", got.Reason.Code(), got.Detail(), tc.reason.Code())
			}
		})
	}
}

func TestRequiredType(t *testing.T) {
	k := testKeys()["ES256"]
	header := func(typ string) string {
		if typ == "" {
			return `{"alg":"ES256","kid":"es256"}`
		}
		return `{"alg":"ES256","kid":"es256","typ":` + typ + `}`
	}
	tests := []struct {
		name, want, typ string
		reason          verdict.Reason
	}{
		{name: "no requirement, any typ", typ: `"JWT"`},
		{name: "no requirement, no typ"},
		{name: "at+jwt", want: "at+jwt", typ: `"at+jwt"`},
		{name: "case-insensitive", want: "at+jwt", typ: `"AT+JWT"`},
		{name: "with the application/ prefix", want: "at+jwt", typ: `"application/at+jwt"`},
		{name: "required with the prefix", want: "application/at+jwt", typ: `"at+JWT"`},
		{name: "an ID token", want: "at+jwt", typ: `"JWT"`, reason: verdict.TokenType},
		{name: "a logout token", want: "at+jwt", typ: `"logout+jwt"`, reason: verdict.TokenType},
		{name: "missing", want: "at+jwt", reason: verdict.TokenType},
		{name: "not a string", want: "at+jwt", typ: `["at+jwt"]`, reason: verdict.TokenType},
		{name: "another prefix", want: "at+jwt", typ: `"text/at+jwt"`, reason: verdict.TokenType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(Config{Issuer: issuer, Audiences: []string{audience}, Type: tc.want})
			if err != nil {
				t.Fatal(err)
			}
			tok, d := v.Check(k.Sign("ES256", header(tc.typ), claims()), now)
			if d.Reason != tc.reason {
				t.Fatalf("reason %s (%s), want %s", d.Reason.Code(), d.Detail(), tc.reason.Code())
			}
			if d.Reason == verdict.None && v.Verify(tok, providerKeys(t)).Denied() {
				t.Error("signature refused")
			}
		})
	}
	if _, err := NewVerifier(Config{Issuer: issuer, Audiences: []string{audience}, Type: "at jwt"}); err == nil ||
		err.Error() != `typ: "at jwt" is not a media type such as at+jwt` {
		t.Errorf("bad typ accepted: %v", err)
	}
}

// TestClaimLooksUpLiteralNames: a top-level claim is found by its exact
// name, escapes decoded; "a.b" is the claim named so, never a gjson path.
func TestClaimLooksUpLiteralNames(t *testing.T) {
	tok, d := newVerifier(t).Check(testKeys()["ES256"].Token(claims("a.b", `"dotted"`, "a", `{"b": "nested"}`, "t\u00e9", `1`, "#", `2`)), now)
	if d.Denied() {
		t.Fatal(d)
	}
	for _, tc := range []struct{ name, want string }{{"a.b", `"dotted"`}, {"a", `{"b": "nested"}`}, {"té", "1"}, {"#", "2"}, {"A", ""}, {"a.*", ""}, {"b", ""}} {
		v, ok := tok.Claim(tc.name)
		if v.Raw != tc.want || ok != (tc.want != "") {
			t.Errorf("Claim(%q) = %s %v, want %s", tc.name, v.Raw, ok, tc.want)
		}
	}
}

// TestMediaTypeNames: a typ is one restricted-name (RFC 6838 section 4.2)
// or two joined by a slash, each a letter or digit then up to 126 of
// letters, digits and !#$&^_.+-.
func TestMediaTypeNames(t *testing.T) {
	long := strings.Repeat("a", 127)
	tests := []struct {
		name, typ string
		want      bool
	}{
		{name: "subtype alone", typ: "at+jwt", want: true},
		{name: "type and subtype", typ: "application/at+jwt", want: true},
		{name: "every allowed punctuation", typ: "a!#$&^_.+-/b!#$&^_.+-", want: true},
		{name: "one character", typ: "J", want: true},
		{name: "127 characters on each side", typ: long + "/" + long, want: true},
		{name: "empty", typ: ""},
		{name: "128 characters", typ: long + "a"},
		{name: "128-character type", typ: long + "a/jwt"},
		{name: "empty type", typ: "/jwt"},
		{name: "empty subtype", typ: "application/"},
		{name: "two slashes", typ: "application/at/jwt"},
		{name: "leading punctuation", typ: "+jwt"},
		{name: "punctuation first in the subtype", typ: "application/.jwt"},
		{name: "space", typ: "at jwt"},
		{name: "parameter", typ: "jwt;charset=utf-8"},
		{name: "non-ASCII letter", typ: "jwtä"},
		{name: "trailing newline", typ: "jwt\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isMediaType(tc.typ); got != tc.want {
				t.Errorf("isMediaType(%q) = %v, want %v", tc.typ, got, tc.want)
			}
		})
	}
}

// An HMAC key keeps a MAC between verifications; goroutines sharing a key
// set (a native caller's) each get a correct answer, a forgery after a
// valid token and a valid token after a forgery alike.
func TestHMACKeysVerifyRepeatedlyAndConcurrently(t *testing.T) {
	v, set := newVerifier(t), providerKeys(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				for _, alg := range []string{"HS256", "HS384", "HS512"} {
					good := testKeys()[alg].Token(claims("jti", strconv.Quote(fmt.Sprint(g, i))))
					sig := strings.Split(good, ".")[2]
					forged := replacePart(good, 2, sig[:len(sig)-1]+map[bool]string{true: "A", false: "Q"}[sig[len(sig)-1] != 'A'])
					for _, tc := range []struct {
						tok  string
						want verdict.Reason
					}{{good, verdict.None}, {forged, verdict.TokenSignature}, {good, verdict.None}} {
						tok, d := v.Check(tc.tok, now)
						if d.Denied() {
							t.Errorf("%s: Check: %v", alg, d)
							return
						}
						if got := v.Verify(tok, set).Reason; got != tc.want {
							t.Errorf("%s: Verify = %s, want %s", alg, got.Code(), tc.want.Code())
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}
