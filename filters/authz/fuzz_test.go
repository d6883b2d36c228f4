package authz

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/testkit/hosttest"
)

// FuzzPolicy compiles any route policy and, when it compiles, decides a
// request with any claims: compiling reports errors and never panics, and a
// decision is one of the reasons authorization gives.
func FuzzPolicy(f *testing.F) {
	for _, seed := range []struct{ policy, claims, path string }{
		{`{"allow": {"any_role": ["admin"]}}`, `"roles", ["admin"]`, "/tenants/a/orders/1"},
		{`{"allow": {"any_role": ["orders:read"], "claims": {"/tenant_id": "{tenant}"}}}`, `"tenant_id", "a"`, "/tenants/%61/orders/1"},
		{`{"allow": {"any": [{"scopes": ["x"]}, {"not": {"claims": {"/a~1b": {"gte": 1, "lt": 2}}}}]}, "deny": {"all_roles": ["x", "y"]}}`, `"scope", "x y"`, "/tenants/a/orders/1?x=1"},
		{`{"query_params": ["org"], "headers": ["x-org"], "allow": {"claims": {"/org": "{query:org}", "/o": "{header:x-org}"}}}`, `"org", "acme"`, "/tenants/a/orders/1?org=acme"},
		{`{"allow_method_override": true, "methods": {"DELETE": {"allow": {"claims": {"/email": {"matches": "^a.*$"}}}}}}`, `"email", "a@b"`, "/tenants/a/orders/1?_method=delete"},
		{`{"deny_all": true, "status": 404, "dry_run": true}`, `"a", 1`, "/tenants/a/orders/1"},
	} {
		f.Add(seed.policy, seed.claims, seed.path)
	}
	f.Fuzz(func(t *testing.T, policy, claims, path string) {
		r := &config.Reader{}
		if _, ok := r.Parse([]byte(policy)); !ok {
			return
		}
		st := Compile(r, "authz", gjson.Parse(policy), ReadSettings(r, "g", gjson.Parse(settings)))
		if st == nil || r.Errors() != nil {
			return
		}
		bound, errs := st.(stage.RouteStage).ForRoute(stage.Route{Name: "orders", Providers: []string{"idp"}})
		if errs != nil {
			return
		}
		for _, u := range bound.(stage.ParamStage).AppendPathParams(nil) {
			if !slices.Contains(route.Spec{Path: ordersTemplate}.Params(), u.Name) {
				return
			}
		}
		norm, d := route.Normalize(path)
		if d.Denied() {
			return
		}
		table, _ := route.Compile([]route.Spec{{Name: "orders", Path: ordersTemplate}})
		tok := fuzzToken(claims)
		stream := func() *stage.Stream {
			s := &stage.Stream{Route: "orders", Method: "GET", Path: path}
			if i, _ := table.Match(route.AnyHost, "GET", norm.Decoded, &s.Params); i < 0 {
				return nil
			}
			if tok != nil {
				s.Principal.Provider, s.Principal.Token = "idp", tok
			}
			return s
		}
		s := stream()
		if s == nil {
			return
		}
		w := hosttest.Worker(&hosttest.Host{}, bound)
		d = bound.RequestHeaders(s, s.Begin(headers{{"x-org", "acme"}}, w))
		// The token keeps what the first request read of it; the second
		// decides from that.
		s = stream()
		if d2 := bound.RequestHeaders(s, s.Begin(headers{{"x-org", "acme"}}, w)); d2.Reason != d.Reason {
			t.Fatalf("the same token's second request: %s, the first's %s", d2.Reason.Code(), d.Reason.Code())
		}
		switch d.Reason {
		case verdict.None, verdict.Forbidden, verdict.InsufficientScope, verdict.MethodOverride, verdict.NoRoute:
		default:
			t.Fatalf("reason %s", d.Reason.Code())
		}
		if d.Denied() && bound.(*Policy).dryRun {
			t.Fatalf("a dry-run route denied: %s", d.Reason.Code())
		}
	})
}

// fuzzToken verifies a token of one extra claim (`"name", value`), nil when
// that is no valid payload.
func fuzzToken(claim string) *jwt.Token {
	name, value, ok := strings.Cut(claim, ", ")
	if !ok || !gjson.Valid(value) {
		return nil
	}
	v, _ := jwt.NewVerifier(jwt.Config{Issuer: "i", Audiences: []string{"a"}, MaxTokenSize: 65536, AllowMissingExp: true})
	tok, d := v.Check(testKey.Token(`{"iss":"i","aud":"a",`+name+`:`+value+`}`), time.Now())
	if d.Denied() {
		return nil
	}
	return tok
}

// FuzzQueryParam: a value found once is the one Go's form decoder reads,
// wherever the two can agree (no "+"; Go refuses a ";").
func FuzzQueryParam(f *testing.F) {
	for _, q := range []string{"org=acme", "%6Frg=%61cme&x=1", "org=a&org=b", "org=a;org=b", "org=a+b", "org=%2541", "org", "org=%zz", "=&&org="} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v, found := queryParam(q, "org")
		if found != queryOne || strings.IndexByte(q, '+') >= 0 {
			return
		}
		std, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		if got := std["org"]; len(got) != 1 || got[0] != v {
			t.Fatalf("%q: %q, net/url reads %q", q, v, got)
		}
	})
}
