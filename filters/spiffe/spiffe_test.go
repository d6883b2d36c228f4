package spiffe

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
)

func TestParse(t *testing.T) {
	longTD := strings.Repeat("a", MaxTrustDomainLength)
	for _, tc := range []struct {
		name      string
		in        string
		err       error
		td, path  string
		workload  bool
		noPathErr bool
	}{
		{name: "istio service account", in: "spiffe://cluster.local/ns/orders/sa/billing", td: "cluster.local", path: "/ns/orders/sa/billing"},
		{name: "trust domain only", in: "spiffe://cluster.local", td: "cluster.local", noPathErr: true},
		{name: "every allowed character", in: "spiffe://a-b_c.9/A-z_0.9/x", td: "a-b_c.9", path: "/A-z_0.9/x"},
		{name: "longest trust domain", in: "spiffe://" + longTD + "/w", td: longTD, path: "/w"},
		{name: "longest ID", in: "spiffe://td/" + strings.Repeat("a", MaxIDLength-len("spiffe://td/")), td: "td", path: "/" + strings.Repeat("a", MaxIDLength-len("spiffe://td/"))},
		{name: "segment of dots", in: "spiffe://td/.../x", td: "td", path: "/.../x"},

		{name: "empty", in: "", err: ErrEmpty},
		{name: "too long", in: "spiffe://td/" + strings.Repeat("a", MaxIDLength), err: ErrTooLong},
		{name: "upper-case scheme", in: "SPIFFE://cluster.local/ns/a", err: ErrScheme},
		{name: "another scheme", in: "https://cluster.local/ns/a", err: ErrScheme},
		{name: "no authority", in: "spiffe:/cluster.local/ns/a", err: ErrScheme},
		{name: "leading space", in: " spiffe://cluster.local/ns/a", err: ErrScheme},
		{name: "empty trust domain", in: "spiffe:///ns/a", err: ErrTrustDomain},
		{name: "upper-case trust domain", in: "spiffe://Cluster.local/ns/a", err: ErrTrustDomain},
		{name: "trust domain too long", in: "spiffe://" + longTD + "a/w", err: ErrTrustDomain},
		{name: "port", in: "spiffe://cluster.local:443/ns/a", err: ErrTrustDomain},
		{name: "userinfo", in: "spiffe://admin@cluster.local/ns/a", err: ErrTrustDomain},
		{name: "percent-encoded trust domain", in: "spiffe://cluster%2elocal/ns/a", err: ErrTrustDomain},
		{name: "query after the trust domain", in: "spiffe://cluster.local?x=1", err: ErrTrustDomain},
		{name: "query", in: "spiffe://cluster.local/ns/a?x=1", err: ErrPathCharacter},
		{name: "fragment", in: "spiffe://cluster.local/ns/a#frag", err: ErrPathCharacter},
		{name: "percent-encoded path", in: "spiffe://cluster.local/ns/%61", err: ErrPathCharacter},
		{name: "space in the path", in: "spiffe://cluster.local/ns/a b", err: ErrPathCharacter},
		{name: "non-ASCII path", in: "spiffe://cluster.local/ns/é", err: ErrPathCharacter},
		{name: "NUL in the path", in: "spiffe://cluster.local/ns/a\x00", err: ErrPathCharacter},
		{name: "trailing slash", in: "spiffe://cluster.local/ns/a/", err: ErrEmptySegment},
		{name: "root path", in: "spiffe://cluster.local/", err: ErrEmptySegment},
		{name: "empty segment", in: "spiffe://cluster.local/ns//a", err: ErrEmptySegment},
		{name: "dot segment", in: "spiffe://cluster.local/ns/./a", err: ErrDotSegment},
		{name: "dot-dot segment", in: "spiffe://cluster.local/ns/orders/../admin", err: ErrDotSegment},
		{name: "final dot-dot", in: "spiffe://cluster.local/ns/..", err: ErrDotSegment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Parse(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse: error %v, want %v", err, tc.err)
			}
			if err != nil {
				if !id.IsZero() {
					t.Errorf("a refused ID is not zero: %q", id)
				}
				return
			}
			if id.String() != tc.in || id.TrustDomain() != tc.td || id.Path() != tc.path {
				t.Errorf("got %q, trust domain %q, path %q; want %q, %q", id, id.TrustDomain(), id.Path(), tc.td, tc.path)
			}
			if _, err := ParseWorkload(tc.in); (err == ErrNoWorkloadPath) != tc.noPathErr {
				t.Errorf("ParseWorkload: error %v", err)
			}
		})
	}
}

func TestZeroIDIsNoIdentity(t *testing.T) {
	var id ID
	if !id.IsZero() || id.String() != "" || id.TrustDomain() != "" || id.Path() != "" {
		t.Errorf("zero ID: %q %q %q", id, id.TrustDomain(), id.Path())
	}
	m := compile(t, `{"trust_domains": ["cluster.local"]}`)
	if m.Match(id) {
		t.Error("the zero ID matched")
	}
}

func compile(t *testing.T, cfg string) *Matcher {
	t.Helper()
	r := &config.Reader{}
	m := ReadMatcher(r, "peer", gjson.Parse(cfg), nil)
	if errs := r.Errors(); len(errs) > 0 {
		t.Fatalf("%s: %v", cfg, errs)
	}
	return m
}

func TestMatch(t *testing.T) {
	const (
		billing = "spiffe://cluster.local/ns/orders/sa/billing"
		orders  = `{"spiffe_prefixes": ["spiffe://cluster.local/ns/orders/"]}`
	)
	for _, tc := range []struct {
		name, config, id string
		want             bool
	}{
		{name: "exact ID", config: `{"spiffe_ids": ["` + billing + `"]}`, id: billing, want: true},
		{name: "exact ID: another service", config: `{"spiffe_ids": ["` + billing + `"]}`, id: "spiffe://cluster.local/ns/orders/sa/shipping"},
		{name: "exact ID: a longer path", config: `{"spiffe_ids": ["` + billing + `"]}`, id: billing + "/x"},
		{name: "exact ID: another letter case", config: `{"spiffe_ids": ["` + billing + `"]}`, id: "spiffe://cluster.local/ns/orders/sa/Billing"},
		{name: "exact ID: another trust domain", config: `{"spiffe_ids": ["` + billing + `"]}`, id: "spiffe://evil.local/ns/orders/sa/billing"},
		{name: "exact ID: a trust domain that extends it", config: `{"spiffe_ids": ["` + billing + `"]}`, id: "spiffe://cluster.local.evil/ns/orders/sa/billing"},

		{name: "prefix: an ID under it", config: orders, id: billing, want: true},
		{name: "prefix: one segment under it", config: orders, id: "spiffe://cluster.local/ns/orders/x", want: true},
		{name: "prefix: a sibling sharing its letters", config: orders, id: "spiffe://cluster.local/ns/orders-evil/sa/billing"},
		{name: "prefix: its own ID", config: orders, id: "spiffe://cluster.local/ns/orders"},
		{name: "prefix: a parent", config: orders, id: "spiffe://cluster.local/ns"},
		{name: "prefix: another letter case", config: orders, id: "spiffe://cluster.local/ns/Orders/sa/billing"},
		{name: "prefix: another trust domain", config: orders, id: "spiffe://other.local/ns/orders/sa/billing"},
		{name: "prefix written without its slash", config: `{"spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}`, id: billing, want: true},
		{name: "prefix written without its slash: a sibling", config: `{"spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}`, id: "spiffe://cluster.local/ns/orders-evil/sa/billing"},

		{name: "trust domain", config: `{"trust_domains": ["cluster.local"]}`, id: billing, want: true},
		{name: "trust domain: another", config: `{"trust_domains": ["cluster.local"]}`, id: "spiffe://partner.example/ns/orders/sa/billing"},
		{name: "trust domain: a subdomain", config: `{"trust_domains": ["cluster.local"]}`, id: "spiffe://eu.cluster.local/ns/orders/sa/billing"},
		{name: "trust domain: a suffix of another", config: `{"trust_domains": ["cluster.local"]}`, id: "spiffe://evilcluster.local/ns/a"},
		{name: "trust domain: its own ID", config: `{"trust_domains": ["cluster.local"]}`, id: "spiffe://cluster.local", want: true},

		{name: "trust domains narrow the IDs: in", config: `{"trust_domains": ["cluster.local", "eu.cluster.local"], "spiffe_prefixes": ["spiffe://eu.cluster.local/ns/orders"]}`, id: "spiffe://eu.cluster.local/ns/orders/sa/billing", want: true},
		{name: "IDs or prefixes: the ID", config: `{"spiffe_ids": ["spiffe://cluster.local/ns/ops/sa/admin"], "spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}`, id: "spiffe://cluster.local/ns/ops/sa/admin", want: true},
		{name: "IDs or prefixes: under the prefix", config: `{"spiffe_ids": ["spiffe://cluster.local/ns/ops/sa/admin"], "spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}`, id: billing, want: true},
		{name: "IDs or prefixes: neither", config: `{"spiffe_ids": ["spiffe://cluster.local/ns/ops/sa/admin"], "spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}`, id: "spiffe://cluster.local/ns/ops/sa/viewer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Parse(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if got := compile(t, tc.config).Match(id); got != tc.want {
				t.Errorf("Match(%s) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestMatcherConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{name: "nothing named", config: `{}`, want: []string{"peer: names no identity"}},
		{name: "empty list", config: `{"spiffe_ids": []}`, want: []string{"peer.spiffe_ids: must not be empty"}},
		{name: "malformed ID", config: `{"spiffe_ids": ["spiffe://Cluster.local/a"]}`, want: []string{"peer.spiffe_ids[0]: a SPIFFE ID's trust domain"}},
		{name: "ID without a path", config: `{"spiffe_ids": ["spiffe://cluster.local"]}`, want: []string{"peer.spiffe_ids[0]: a workload's SPIFFE ID has a path"}},
		{name: "duplicate ID", config: `{"spiffe_ids": ["spiffe://td/a", "spiffe://td/a"]}`, want: []string{`peer.spiffe_ids[1]: "spiffe://td/a" is listed twice`}},
		{name: "prefix of a whole trust domain", config: `{"spiffe_prefixes": ["spiffe://cluster.local/"]}`, want: []string{"peer.spiffe_prefixes[0]: a prefix names a path under the trust domain"}},
		{name: "prefix with a dot segment", config: `{"spiffe_prefixes": ["spiffe://td/ns/../"]}`, want: []string{`peer.spiffe_prefixes[0]: a SPIFFE ID's path has no "." or ".." segment`}},
		{name: "same prefix twice, with and without slash", config: `{"spiffe_prefixes": ["spiffe://td/ns", "spiffe://td/ns/"]}`, want: []string{`peer.spiffe_prefixes[1]: "spiffe://td/ns/" is listed twice`}},
		{name: "upper-case trust domain", config: `{"trust_domains": ["Cluster.local"]}`, want: []string{"peer.trust_domains[0]: a SPIFFE ID's trust domain"}},
		{name: "trust domain with a scheme", config: `{"trust_domains": ["spiffe://cluster.local"]}`, want: []string{"peer.trust_domains[0]: a SPIFFE ID's trust domain"}},
		{name: "ID outside the trust domains", config: `{"trust_domains": ["cluster.local"], "spiffe_ids": ["spiffe://other.local/a"], "spiffe_prefixes": ["spiffe://other.local/ns"]}`,
			want: []string{`peer.spiffe_ids[0]: trust domain "other.local" is not in trust_domains`, `peer.spiffe_prefixes[0]: trust domain "other.local" is not in trust_domains`}},
		{name: "unknown field", config: `{"spiffe_id": ["spiffe://td/a"]}`, want: []string{"peer.spiffe_id: unknown", "peer: names no identity"}},
		{name: "not a string", config: `{"spiffe_ids": [1]}`, want: []string{"peer.spiffe_ids[0]: must be a string"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &config.Reader{}
			ReadMatcher(r, "peer", gjson.Parse(tc.config), nil)
			errs := r.Errors()
			if len(errs) != len(tc.want) {
				t.Fatalf("errors %v, want %d: %v", errs, len(tc.want), tc.want)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tc.want[i]) {
					t.Errorf("error %d: %q, want it to start with %q", i, e, tc.want[i])
				}
			}
		})
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	const s = "spiffe://cluster.local/ns/orders/sa/billing"
	m := compile(t, `{"trust_domains": ["cluster.local"], "spiffe_prefixes": ["spiffe://cluster.local/ns/orders"]}`)
	if n := testing.AllocsPerRun(100, func() {
		id, _ := Parse(s)
		m.Match(id)
	}); n != 0 {
		t.Errorf("%v allocations per parse and match", n)
	}
}
