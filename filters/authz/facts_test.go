package authz

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/claims"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

// cachedToken verifies a token of the given extra claims, as the
// authentication stage does, into a verified-token cache; get returns it
// from there, as each request with the token finds it.
func cachedToken(t *testing.T, extra ...string) (get func() *jwt.Token) {
	t.Helper()
	v, raw, tok := checkedToken(t, extra...)
	c := jwt.NewCache(0, 0)
	c.Put(v, tok)
	return func() *jwt.Token {
		tok, ok := c.Get(v, raw, time.Now())
		if !ok {
			t.Fatal("the token left the cache")
		}
		return tok
	}
}

// decider decides GET requests of the orders route on one worker.
type decider struct {
	p *Policy
	w *stage.Worker
}

func newDecider(p *Policy) decider { return decider{p, hosttest.Worker(&hosttest.Host{}, p)} }

// as decides a request with tok, verified by provider.
func (d decider) as(t *testing.T, provider string, tok *jwt.Token) verdict.Reason {
	t.Helper()
	s := request(t, ordersTemplate, "GET", "/tenants/a/orders/1", nil)
	s.Principal.Provider, s.Principal.Token = provider, tok
	return d.p.RequestHeaders(s, s.Begin(headers{}, d.w)).Reason
}

// TestCachedTokenDecidesEveryRequestAlike: a token found in the cache
// request after request keeps what the first request read of its claims,
// and every request decides as the first did, a role claim too large to
// read whole included: it denies each time unless the roles a condition
// needs come before the overflow.
func TestCachedTokenDecidesEveryRequestAlike(t *testing.T) {
	roles, scopes := make([]string, 2000), make([]string, 2000)
	for i := range roles {
		roles[i], scopes[i] = `"r`+strconv.Itoa(i)+`"`, "s"+strconv.Itoa(i)
	}
	huge, hugeScope := "["+strings.Join(roles, ",")+"]", `"`+strings.Join(scopes, " ")+`"`
	for _, tc := range []struct {
		name, policy string
		claims       []string
		want         verdict.Reason
	}{
		{name: "a role", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"roles", `["reader", "admin"]`}},
		{name: "no role", policy: `{"allow": {"any_role": ["admin"]}}`, claims: []string{"roles", `["reader"]`}, want: verdict.Forbidden},
		{name: "roles and scopes", policy: `{"allow": {"all_roles": ["ops", "admin"], "scopes": ["orders:read"]}}`,
			claims: []string{"groups", `"admin ops"`, "scope", `"openid orders:read"`}},
		{name: "a missing scope", policy: `{"allow": {"any_role": ["admin"], "scopes": ["orders:write"]}}`,
			claims: []string{"roles", `["admin"]`, "scope", `"orders:read"`}, want: verdict.InsufficientScope},
		{name: "claims", policy: `{"allow": {"claims": {"/act/sub": "svc", "/tenant_id": "{tenant}"}}}`, claims: []string{"act", `{"sub": "svc"}`, "tenant_id", `"a"`}},
		{name: "another tenant's claims", policy: `{"allow": {"claims": {"/act/sub": "svc", "/tenant_id": "{tenant}"}}}`,
			claims: []string{"act", `{"sub": "svc"}`, "tenant_id", `"b"`}, want: verdict.Forbidden},
		{name: "a role past the overflow", policy: `{"allow": {"any_role": ["r1999"]}}`, claims: []string{"roles", huge}, want: verdict.Forbidden},
		{name: "a role before the overflow", policy: `{"allow": {"any_role": ["r3"]}}`, claims: []string{"roles", huge}},
		{name: "roles before and past the overflow", policy: `{"allow": {"all_roles": ["r3", "r1999"]}}`, claims: []string{"roles", huge}, want: verdict.Forbidden},
		{name: "a role in a later source after an overflow", policy: `{"allow": {"any_role": ["admin"]}}`,
			claims: []string{"roles", huge, "realm_access", `{"roles": ["admin"]}`}, want: verdict.Forbidden},
		{name: "a deny on a role past the overflow", policy: `{"allow": "authenticated", "deny": {"any_role": ["banned"]}}`, claims: []string{"roles", huge}, want: verdict.Forbidden},
		{name: "a scope past the overflow", policy: `{"allow": {"scopes": ["s1999"]}}`,
			claims: []string{"scope", hugeScope}, want: verdict.Forbidden},
		{name: "a scope before the overflow", policy: `{"allow": {"scopes": ["s3"]}}`, claims: []string{"scope", hugeScope}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, tc.policy, ordersTemplate)
			d := newDecider(p)
			fresh := func() *jwt.Token { return verified(t, tc.claims...) }
			cached := cachedToken(t, tc.claims...)
			for i := range 3 {
				for name, tok := range map[string]func() *jwt.Token{"fresh": fresh, "cached": cached} {
					if got := d.as(t, "idp", tok()); got != tc.want {
						t.Fatalf("request %d with a %s token: %s, want %s", i, name, got.Code(), tc.want.Code())
					}
				}
			}
			if tok := cached(); tok.Derived(p.vocab) == nil {
				t.Error("the cached token keeps no facts")
			}
		})
	}
}

// TestRolesOnlyFromTheVerifyingProvider: one token object, decided as
// verified by each of two providers in turn, has each one's roles only,
// whatever the other's requests left with it.
func TestRolesOnlyFromTheVerifyingProvider(t *testing.T) {
	p := compileWith(t, `{"roles_from": {"idp": ["/roles"], "other": ["/groups"]}}`, `{"allow": {"any_role": ["admin"]}}`, "idp", "other")
	d := newDecider(p)
	tok := verified(t, "roles", `["admin"]`, "groups", `["reader"]`)
	for i := range 2 {
		if got := d.as(t, "idp", tok); got != verdict.None {
			t.Errorf("round %d, idp: %s, want allowed", i, got.Code())
		}
		if got := d.as(t, "other", tok); got != verdict.Forbidden {
			t.Errorf("round %d, other: %s, want forbidden: idp's roles seen", i, got.Code())
		}
	}
}

// TestConfigurationsShareNothing: two configurations (a config push) whose
// roles_from differ decide the same token each by its own, request after
// request, and each reads only the facts it keeps itself.
func TestConfigurationsShareNothing(t *testing.T) {
	policy := `{"allow": {"any_role": ["admin"], "scopes": ["orders:read"]}}`
	a := compileWith(t, `{"roles_from": {"idp": ["/roles"]}}`, policy, "idp")
	b := compileWith(t, `{"roles_from": {"idp": ["/groups"]}}`, policy, "idp")
	da, db := newDecider(a), newDecider(b)
	tok := verified(t, "roles", `["admin"]`, "groups", `["reader"]`, "scope", `"orders:read"`)
	for i := range 2 {
		if got := da.as(t, "idp", tok); got != verdict.None {
			t.Errorf("round %d, first configuration: %s, want allowed", i, got.Code())
		}
		if tok.Derived(b.vocab) != nil {
			t.Fatalf("round %d: the second configuration sees the first's facts", i)
		}
		if got := db.as(t, "idp", tok); got != verdict.Forbidden {
			t.Errorf("round %d, second configuration: %s, want forbidden", i, got.Code())
		}
		if tok.Derived(a.vocab) != nil {
			t.Fatalf("round %d: the first configuration sees the second's facts", i)
		}
	}
}

// scanHas is how role and scope conditions read a token before tokens kept
// their facts, every request: each source looked up and its strings
// scanned, in order, until the names were found. The oracle the facts must
// agree with: the same outcome and, when it can be judged, the same answer.
func scanHas(tok *jwt.Token, sources []roleSource, names []string, all bool) (held, indeterminate bool) {
	want := 1
	if all {
		want = len(names)
	}
	found := map[string]bool{}
	for _, src := range sources {
		if len(found) >= want {
			break
		}
		v, ok, overflow := src.claim.Lookup(tok)
		indeterminate = indeterminate || overflow
		if !ok {
			continue
		}
		it := claims.NewStrings(v, src.words)
		for len(found) < want {
			s, ok := it.Next()
			if !ok {
				break
			}
			if slices.Contains(names, s) {
				found[s] = true
			}
		}
		indeterminate = indeterminate || it.Overflow
	}
	return len(found) >= want, indeterminate
}

// FuzzHeldNames: a token's facts answer any and all of any names as reading
// its claims every time did (scanHas), over a flat source, a nested one
// and a space-delimited one, whatever the claims hold, with more names in
// the vocabulary than one word of bits.
func FuzzHeldNames(f *testing.F) {
	many, plain := make([]string, 1100), make([]string, 1100)
	for i := range many {
		many[i], plain[i] = `"r`+strconv.Itoa(i)+`"`, "r"+strconv.Itoa(i)
	}
	huge, words := "["+strings.Join(many, ",")+"]", strings.Join(plain, " ")
	for _, seed := range []struct {
		roles, realm, groups, names string
		all                         bool
	}{
		{`["admin"]`, `{"roles": ["x"]}`, `"ops"`, "admin", false},
		{`["admin", "admin"]`, `{"roles": ["ops"]}`, `"a b"`, "admin ops", true},
		{huge, `{"roles": ["admin"]}`, `""`, "admin", false},
		{huge, `{"roles": ["admin"]}`, `""`, "r3 admin", true},
		{huge, `{"roles": ["admin"]}`, `""`, "r1023 r1024", false},
		{`"r1 r2"`, `{"roles": "r1"}`, `"` + words + `"`, "r1 r2", true},
		{`[1, null, {"a": "b"}, ["admin"]]`, `{"roles": [true, "admin"]}`, `["r5 r6", 7]`, "admin r6", true},
		{`[]`, `[]`, `{"ops": 1}`, "ops", false},
	} {
		f.Add(seed.roles, seed.realm, seed.groups, seed.names, seed.all)
	}
	sources := []roleSource{
		{claim: claims.Pointer{"roles"}},
		{claim: claims.Pointer{"realm_access", "roles"}},
		{claim: claims.Pointer{"groups"}, words: true},
	}
	f.Fuzz(func(t *testing.T, roles, realm, groups, list string, all bool) {
		names := strings.Fields(list)
		if len(names) == 0 || len(names) > maxNames {
			return
		}
		for i, n := range names {
			if slices.Contains(names[:i], n) {
				return
			}
		}
		tok := tokenOf(fmt.Sprintf(`{"iss":"i","aud":"a","roles":%s,"realm_access":%s,"groups":%s}`, roles, realm, groups))
		if tok == nil {
			return
		}
		vocab := map[string]int{}
		for i := range 70 {
			mask(vocab, []string{"filler" + strconv.Itoa(i)})
		}
		m := mask(vocab, names)
		h := heldIn(tok, sources, vocab)
		held, indeterminate := h.has(m, all)
		wantHeld, wantIndeterminate := scanHas(tok, sources, names, all)
		if indeterminate != wantIndeterminate || !indeterminate && held != wantHeld {
			t.Fatalf("names %q (all %t): held %t, indeterminate %t; reading the claims: held %t, indeterminate %t",
				names, all, held, indeterminate, wantHeld, wantIndeterminate)
		}
	})
}

// tokenOf verifies a token of payload, nil when it is no valid payload.
func tokenOf(payload string) *jwt.Token {
	v, _ := jwt.NewVerifier(jwt.Config{Issuer: "i", Audiences: []string{"a"}, MaxTokenSize: 65536, AllowMissingExp: true})
	tok, d := v.Check(testKey.Token(payload), time.Now())
	if d.Denied() {
		return nil
	}
	return tok
}
