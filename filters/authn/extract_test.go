package authn

import (
	"testing"

	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/verdict"
)

// TestCredentialsCannotHide: on an optional route, where "no token" lets the
// request through, every value that starts with the scheme is a credential
// that must verify, and anything else next to a credential is a second one.
func TestCredentialsCannotHide(t *testing.T) {
	a, keys := compile(t)
	optional, _ := a.Require("routes[0].auth", []string{"idp"}, true)
	good := idpToken()
	tests := []struct {
		name    string
		headers [][2]string
		reason  verdict.Reason
		anon    bool // passes without a token
	}{
		{name: "Bearer and a tab", headers: [][2]string{{"authorization", "Bearer\tforged"}}, reason: verdict.TokenMalformed},
		{name: "Bearer and a comma", headers: [][2]string{{"authorization", "Bearer,forged"}}, reason: verdict.TokenMalformed},
		{name: "Bearer glued to the token", headers: [][2]string{{"authorization", "Bearerforged"}}, reason: verdict.TokenMalformed},
		{name: "lower-case scheme, two spaces, a forged token", headers: [][2]string{{"authorization", "bearer  forged"}}, reason: verdict.TokenMalformed},
		{name: "lower-case scheme, two spaces, a good token", headers: [][2]string{{"authorization", "bearer  " + good}}},
		{name: "leading whitespace", headers: [][2]string{{"authorization", " \tBEARER forged"}}, reason: verdict.TokenMalformed},
		{name: "scheme alone", headers: [][2]string{{"authorization", "Bearer"}}, reason: verdict.TokenMalformed},
		{name: "a space inside the token", headers: [][2]string{{"authorization", "Bearer " + good + " x"}}, reason: verdict.TokenMalformed},
		{name: "a tab after the spaces", headers: [][2]string{{"authorization", "Bearer \t" + good}}, reason: verdict.TokenMalformed},
		{name: "a tab after the scheme", headers: [][2]string{{"authorization", "Bearer\t"}}, reason: verdict.TokenMalformed},
		{name: "whitespace around a good token", headers: [][2]string{{"authorization", "\t Bearer " + good + " \t"}}},
		{name: "a tab inside the token", headers: [][2]string{{"authorization", "Bearer " + good[:40] + "\t" + good[40:]}}, reason: verdict.TokenMalformed},
		{name: "a comma inside the token", headers: [][2]string{{"authorization", "Bearer " + good[:40] + "," + good[40:]}}, reason: verdict.TokenDuplicate},
		{name: "Envoy joined two headers", headers: [][2]string{{"authorization", "Bearer " + good + ",Bearer " + good}}, reason: verdict.TokenDuplicate},
		{name: "Envoy joined a forged one", headers: [][2]string{{"authorization", "Bearer " + good + ",Bearer forged"}}, reason: verdict.TokenDuplicate},
		{name: "a forged second header", headers: [][2]string{{"authorization", "Bearer " + good}, {"authorization", "Bearer\tforged"}}, reason: verdict.TokenMalformed},
		{name: "Basic next to Bearer", headers: [][2]string{{"authorization", "Bearer " + good}, {"authorization", "Basic YTpi"}}, reason: verdict.TokenDuplicate},
		{name: "Basic alone is not ours", headers: [][2]string{{"authorization", "Basic YTpi"}}, anon: true},
		{name: "nothing", anon: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := authenticate(a, optional, Input{Headers: tc.headers, Now: now, Keys: keys, Cache: jwt.NewCache(0, 0)})
			if res.Reason != tc.reason {
				t.Fatalf("reason %s (%s), want %s", res.Reason.Code(), res.Detail(), tc.reason.Code())
			}
			if anon := !res.Denied() && res.Principal.Token == nil; anon != tc.anon {
				t.Errorf("anonymous = %v, want %v", anon, tc.anon)
			}
		})
	}
}

func TestStrippingACookieTokenKeepsEveryOtherCookie(t *testing.T) {
	b, errs := Compile([]ProviderConfig{{Name: "c", JWT: jwt.Config{Issuer: "https://partner.example/", Audiences: []string{"orders"}},
		Sources: []Source{{Cookie: "session"}}}})
	if errs != nil {
		t.Fatal(errs)
	}
	_, keys := compile(t)
	req, _ := b.Require("r", []string{"c"}, false)
	res := authenticate(b, req, Input{Now: now, Keys: keys[1:], Headers: [][2]string{
		{"cookie", "theme=dark; session=" + partnerToken()}, {"cookie", "lang=fr"}, {"cookie", "a=1; b=2"},
	}})
	if res.Denied() {
		t.Fatal(res.Detail())
	}
	var cookies []string
	for _, kv := range res.Set {
		if kv[0] == "cookie" {
			cookies = append(cookies, kv[1])
		}
	}
	if len(cookies) != 1 || cookies[0] != "theme=dark; lang=fr; a=1; b=2" {
		t.Errorf("cookie headers set: %q, want one holding every other cookie", cookies)
	}
}

// TestStrayValuesAreSecondCredentials: a value of a header some provider of
// the route reads is either a credential or, next to one, a second one,
// whichever provider's source found the first.
func TestStrayValuesAreSecondCredentials(t *testing.T) {
	a, keys := compile(t)
	both, _ := a.Require("routes[0].auth", []string{"idp", "partner"}, false)
	res := authenticate(a, both, Input{Query: "access_token=" + partnerToken(), Headers: [][2]string{{"authorization", "Basic YTpi"}}, Now: now, Keys: keys})
	if res.Reason != verdict.TokenDuplicate {
		t.Errorf("a query token next to Basic: %s, want token_duplicate", res.Reason.Code())
	}
	dpop, errs := Compile([]ProviderConfig{
		{Name: "bearer", JWT: jwt.Config{Issuer: "https://idp.example.com/", Audiences: []string{"orders"}}},
		{Name: "dpop", JWT: jwt.Config{Issuer: "https://partner.example/", Audiences: []string{"orders"}}, Sources: []Source{{Header: "authorization", Prefix: "DPoP "}}},
	})
	if errs != nil {
		t.Fatal(errs)
	}
	req, _ := dpop.Require("r", []string{"bearer", "dpop"}, false)
	for _, tc := range []struct {
		name    string
		headers [][2]string
		reason  verdict.Reason
	}{
		{name: "Bearer, read by one provider", headers: [][2]string{{"authorization", "Bearer " + idpToken()}}},
		{name: "DPoP, read by the other", headers: [][2]string{{"authorization", "DPoP " + partnerToken()}}},
		{name: "both", headers: [][2]string{{"authorization", "Bearer " + idpToken()}, {"authorization", "DPoP " + partnerToken()}}, reason: verdict.TokenDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := authenticate(dpop, req, Input{Headers: tc.headers, Now: now, Keys: keys}); res.Reason != tc.reason {
				t.Errorf("reason %s (%s), want %s", res.Reason.Code(), res.Detail(), tc.reason.Code())
			}
		})
	}
}
