package authn

import (
	"crypto/elliptic"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

var (
	now     = time.Unix(1_700_000_000, 0)
	idpKey  = jwttest.EC("idp-1", elliptic.P256())
	partner = jwttest.Ed25519("partner-1")
)

func compile(t *testing.T) (*Authenticator, []*jwt.KeySet) {
	t.Helper()
	a, errs := Compile([]ProviderConfig{
		{Name: "idp", JWT: jwt.Config{Issuer: "https://idp.example.com/", Audiences: []string{"orders"}},
			ClaimHeaders:  []ClaimHeader{{"sub", "x-auth-sub"}, {"groups", "x-auth-groups"}, {"a.b", "x-auth-ab"}},
			PayloadHeader: "x-jwt-payload"},
		{Name: "partner", JWT: jwt.Config{Issuer: "https://partner.example/", Audiences: []string{"orders"}},
			Sources: []Source{{Query: "access_token"}, {Cookie: "session"}, {Header: "authorization", Prefix: "Bearer "}}, Forward: true},
	})
	if errs != nil {
		t.Fatal(errs)
	}
	k1, err := jwt.ParseKeySet(jwttest.JWKS(idpKey))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := jwt.ParseKeySet(jwttest.JWKS(partner))
	if err != nil {
		t.Fatal(err)
	}
	return a, []*jwt.KeySet{k1, k2}
}

func idpToken(extra ...string) string {
	return idpKey.Token(jwttest.Claims("https://idp.example.com/", "orders", now.Unix()+600, extra...))
}

func partnerToken() string {
	return partner.Token(jwttest.Claims("https://partner.example/", "orders", now.Unix()+600))
}

func TestAuthenticate(t *testing.T) {
	a, keys := compile(t)
	both, _ := a.Require("routes[0].auth", []string{"idp", "partner"}, false)
	idpOnly, _ := a.Require("routes[1].auth", []string{"idp"}, false)
	optional, _ := a.Require("routes[2].auth", []string{"idp"}, true)
	tests := []struct {
		name         string
		req          *Requirement
		headers      [][2]string
		query        string
		wantReason   verdict.Reason
		wantProvider string
		wantSet      [][2]string
		wantRemove   []string
		wantQuery    string
	}{
		{name: "bearer token", req: idpOnly, headers: [][2]string{{"authorization", "Bearer " + idpToken("sub", `"alice"`)}},
			wantProvider: "idp", wantRemove: []string{"authorization"}},
		{name: "scheme is case-insensitive", req: idpOnly, headers: [][2]string{{"authorization", "bEaReR " + idpToken()}}, wantProvider: "idp"},
		{name: "claims copied, literal names only", req: idpOnly,
			headers:      [][2]string{{"authorization", "Bearer " + idpToken("sub", `"alice"`, "groups", `["a","b"]`, "a", `{"b":"nested"}`, "a.b", `7`)}},
			wantProvider: "idp", wantSet: [][2]string{{"x-auth-sub", "alice"}, {"x-auth-groups", "a,b"}, {"x-auth-ab", "7"}}},
		{name: "claim with a control character", req: idpOnly, headers: [][2]string{{"authorization", "Bearer " + idpToken("sub", `"a\r\nx-admin: 1"`)}},
			wantReason: verdict.TokenClaimHeader},
		{name: "claim that is an object", req: idpOnly, headers: [][2]string{{"authorization", "Bearer " + idpToken("sub", `{"x":1}`)}},
			wantReason: verdict.TokenClaimHeader},
		{name: "missing token", req: idpOnly, wantReason: verdict.TokenMissing},
		{name: "other scheme is no token", req: idpOnly, headers: [][2]string{{"authorization", "Basic YTpi"}}, wantReason: verdict.TokenMissing},
		{name: "optional route without a token", req: optional},
		{name: "optional route with a bad token", req: optional, headers: [][2]string{{"authorization", "Bearer x.y.z"}}, wantReason: verdict.TokenMalformed},
		{name: "empty bearer", req: idpOnly, headers: [][2]string{{"authorization", "Bearer "}}, wantReason: verdict.TokenMalformed},
		{name: "two authorization headers", req: idpOnly, headers: [][2]string{{"authorization", "Bearer " + idpToken()}, {"authorization", "Bearer " + idpToken()}},
			wantReason: verdict.TokenDuplicate},
		{name: "token in header and query", req: both, headers: [][2]string{{"authorization", "Bearer " + idpToken()}}, query: "access_token=" + partnerToken(),
			wantReason: verdict.TokenDuplicate},
		{name: "token twice in the query", req: both, query: "access_token=a&access_token=b", wantReason: verdict.TokenDuplicate},
		{name: "any-of: second provider by issuer", req: both, headers: [][2]string{{"authorization", "Bearer " + partnerToken()}}, wantProvider: "partner"},
		{name: "query token, forwarded", req: both, query: "a=1&access_token=" + partnerToken() + "&b=2", wantProvider: "partner"},
		{name: "a semicolon elsewhere in the query is data", req: both, query: "fields=a;b&access_token=" + partnerToken(), wantProvider: "partner"},
		{name: "a token behind a semicolon, next to one", req: both, query: "a=1;access_token=x&access_token=" + partnerToken(),
			wantReason: verdict.TokenDuplicate},
		{name: "a token behind a semicolon, alone", req: both, query: "a=1;access_token=" + partnerToken(), wantReason: verdict.TokenDuplicate},
		{name: "a semicolon inside the token parameter", req: both, query: "access_token=" + partnerToken() + ";a=1", wantReason: verdict.TokenDuplicate},
		{name: "cookie token", req: both, headers: [][2]string{{"cookie", "theme=dark; session=" + partnerToken()}}, wantProvider: "partner"},
		{name: "issuer of no accepted provider", req: idpOnly, headers: [][2]string{{"authorization", "Bearer " + partnerToken()}}, wantReason: verdict.TokenIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := authenticate(a, tc.req, Input{Headers: tc.headers, Query: tc.query, Now: now, Keys: keys, Cache: jwt.NewCache(0, 0)})
			if res.Reason != tc.wantReason {
				t.Fatalf("reason %s (%s), want %s", res.Reason.Code(), res.Detail(), tc.wantReason.Code())
			}
			provider := ""
			if res.Principal.Token != nil {
				provider = res.Principal.Provider
			}
			if provider != tc.wantProvider {
				t.Errorf("provider %q, want %q", provider, tc.wantProvider)
			}
			for _, want := range tc.wantSet {
				if !contains(res.Set, want) {
					t.Errorf("set %v lacks %v", res.Set, want)
				}
			}
			if tc.wantRemove != nil && strings.Join(res.Remove, ",") != strings.Join(tc.wantRemove, ",") {
				t.Errorf("remove %v, want %v", res.Remove, tc.wantRemove)
			}
		})
	}
}

func contains(set [][2]string, kv [2]string) bool {
	for _, x := range set {
		if x == kv {
			return true
		}
	}
	return false
}

func TestPayloadHeaderAndTokenRemoval(t *testing.T) {
	a, keys := compile(t)
	idpOnly, _ := a.Require("r", []string{"idp"}, false)
	tok := idpToken("sub", `"alice"`)
	res := authenticate(a, idpOnly, Input{Headers: [][2]string{{"authorization", "Bearer " + tok}}, Now: now, Keys: keys})
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if !contains(res.Set, [2]string{"x-jwt-payload", base64.RawURLEncoding.EncodeToString(payload)}) {
		t.Errorf("payload header missing from %v", res.Set)
	}

	// A provider that does not forward strips the token from the query and cookie too.
	b, errs := Compile([]ProviderConfig{{Name: "q", JWT: jwt.Config{Issuer: "https://partner.example/", Audiences: []string{"orders"}},
		Sources: []Source{{Query: "access_token"}, {Cookie: "session"}}}})
	if errs != nil {
		t.Fatal(errs)
	}
	req, _ := b.Require("r", []string{"q"}, false)
	res = authenticate(b, req, Input{Query: "a=1&access_token=" + partnerToken() + "&b=2", Now: now, Keys: keys[1:]})
	if res.Denied() || !res.QueryChanged || res.Query != "a=1&b=2" {
		t.Errorf("query result %+v", res)
	}
	res = authenticate(b, req, Input{Headers: [][2]string{{"cookie", "theme=dark; session=" + partnerToken()}}, Now: now, Keys: keys[1:]})
	if res.Denied() || !contains(res.Set, [2]string{"cookie", "theme=dark"}) {
		t.Errorf("cookie result %+v", res)
	}
}

// The host hands the plugin each request's headers in a buffer of its own;
// a cached token's claim headers must not point into it.
func TestCachedClaimHeadersOutliveTheRequestBuffer(t *testing.T) {
	a, keys := compile(t)
	idpOnly, _ := a.Require("r", []string{"idp"}, false)
	tok := idpToken("sub", `"alice"`)
	cache := jwt.NewCache(0, 0)
	buf := []byte("Bearer " + tok)
	first := authenticate(a, idpOnly, Input{Headers: [][2]string{{"authorization", unsafe.String(&buf[0], len(buf))}}, Now: now, Keys: keys, Cache: cache})
	var want [][2]string
	for _, kv := range first.Set {
		want = append(want, [2]string{strings.Clone(kv[0]), strings.Clone(kv[1])})
	}
	for i := range buf {
		buf[i] = 'x'
	}
	again := authenticate(a, idpOnly, Input{Headers: [][2]string{{"authorization", "Bearer " + tok}}, Now: now, Keys: keys, Cache: cache})
	if first.Denied() || !again.Cached || !slices.Equal(again.Set, want) {
		t.Errorf("cache hit after the request's buffer changed: cached %v, set %q; want %q", again.Cached, again.Set, want)
	}
}

func TestMissingKeysAskForAFetch(t *testing.T) {
	a, keys := compile(t)
	idpOnly, _ := a.Require("r", []string{"idp"}, false)
	h := [][2]string{{"authorization", "Bearer " + idpToken()}}
	if res := authenticate(a, idpOnly, Input{Headers: h, Now: now}); res.Reason != verdict.KeysUnavailable || res.Wait == nil || res.Wait.Provider != 0 || res.Wait.UnknownKey {
		t.Errorf("no keys: %+v", res)
	}
	rotated := jwttest.EC("idp-2", elliptic.P256())
	h = [][2]string{{"authorization", "Bearer " + rotated.Token(jwttest.Claims("https://idp.example.com/", "orders", now.Unix()+600))}}
	if res := authenticate(a, idpOnly, Input{Headers: h, Now: now, Keys: keys}); res.Reason != verdict.TokenUnknownKey || res.Wait == nil || res.Wait.Provider != 0 || !res.Wait.UnknownKey {
		t.Errorf("unknown kid: %+v", res)
	}
}

func TestCompileErrorsNameTheField(t *testing.T) {
	_, errs := Compile([]ProviderConfig{{Name: "idp", ClaimHeaders: []ClaimHeader{{"sub", "Authorization"}, {"x", "authorization"}}, PayloadHeader: ":path"}})
	want := []string{
		"providers.idp.issuer: required",
		"providers.idp.audiences: at least one required",
		`providers.idp.claim_to_headers.sub: "Authorization" must be lower-case`,
		`providers.idp.claim_to_headers.x: "authorization" cannot carry claims`,
		"providers.idp.payload_header: must be a header name",
	}
	if len(errs) != len(want) {
		t.Fatalf("errors %v", errs)
	}
	for i := range want {
		if errs[i].Error() != want[i] {
			t.Errorf("error %d = %q, want %q", i, errs[i], want[i])
		}
	}
	a, _ := compile(t)
	if _, errs := a.Require("routes[4].auth", []string{"idp", "nope"}, false); len(errs) != 1 || errs[0].Error() != `routes[4].auth.providers[1]: unknown provider "nope"` {
		t.Errorf("errors %v", errs)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("Bearer abc", "access_token=x&y=1", "a=b; session=c")
	f.Add("Bearer\tx", "", "")
	f.Add("Bearer X,Bearer Y", "", "")
	f.Add("bearer  x", "", "session=a; session=b")
	f.Add("", "a=1;access_token=x&access_token=y", "")
	f.Fuzz(func(t *testing.T, auth, query, cookie string) {
		sources := []Source{{Header: "authorization", Prefix: "Bearer "}, {Query: "access_token"}, {Cookie: "session"}}
		var claimed claims
		var got found
		ok, d := extract(sources, [][2]string{{"authorization", auth}, {"cookie", cookie}}, query, &claimed, &got)
		if ok && (d.Denied() || got.token == "") {
			t.Fatalf("found %+v with %+v", got, d)
		}
		// A token taken from the query is the one an upstream that splits
		// it on ";" too reads.
		if split, _ := httpsyntax.SemicolonSplit(query); ok && got.source.Query != "" && !slices.Equal(queryValues(split, "access_token"), []string{got.token}) {
			t.Fatalf("took %q from %q, which another reading makes %q", got.token, query, queryValues(split, "access_token"))
		}
	})
}

// TestTheClockIsReadOnlyForATokenToCheck: a request without a token is
// refused without reading the clock (in wasm, two host calls); one with a
// token reads it once, for the cache and the checks.
func TestTheClockIsReadOnlyForATokenToCheck(t *testing.T) {
	a, keys := compile(t)
	idpOnly, _ := a.Require("r", []string{"idp"}, false)
	cases := []struct {
		name      string
		headers   [][2]string
		wantReads int
		wantDeny  bool
	}{
		{name: "no token", headers: [][2]string{{"accept", "*/*"}}, wantReads: 0, wantDeny: true},
		{name: "a token", headers: [][2]string{{"authorization", "Bearer " + idpToken("sub", `"alice"`)}}, wantReads: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := &countingClock{now: now}
			res := authenticate(a, idpOnly, Input{Headers: tc.headers, Clock: clock, Keys: keys, Cache: jwt.NewCache(0, 0)})
			if res.Denied() != tc.wantDeny || clock.reads != tc.wantReads {
				t.Fatalf("denied %t (%v), clock read %d times; want denied %t, %d reads", res.Denied(), res.Decision, clock.reads, tc.wantDeny, tc.wantReads)
			}
		})
	}
}

// TestClaimsMarkHeadersPastTheFirst64: a credential header far down a long
// request is marked like one near the top, so a stray value beside it is
// still found.
func TestClaimsMarkHeadersPastTheFirst64(t *testing.T) {
	for _, marked := range [][]int{{0}, {63}, {64}, {65, 130}, {3, 64, 99}} {
		var c claims
		for _, i := range marked {
			c.set(i)
		}
		for i := 0; i < 140; i++ {
			if want := slices.Contains(marked, i); c.has(i) != want {
				t.Errorf("marked %v: has(%d) = %v", marked, i, !want)
			}
		}
	}
}

// countingClock is a fixed time that counts its reads.
type countingClock struct {
	now   time.Time
	reads int
}

func (c *countingClock) Now() time.Time {
	c.reads++
	return c.now
}

// authenticate is Authenticate's result for a request.
func authenticate(a *Authenticator, r *Requirement, in Input) Result {
	var res Result
	a.Authenticate(r, &in, &res)
	return res
}
