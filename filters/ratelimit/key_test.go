package ratelimit

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/filters/claims"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

func TestForwardedClient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		hops   int
		want   string
	}{
		{name: "zero hops trusts nothing", values: []string{"1.2.3.4"}, hops: 0, want: ""},
		{name: "one hop: the right-most entry", values: []string{"6.6.6.6, 1.2.3.4"}, hops: 1, want: "1.2.3.4"},
		{name: "two hops", values: []string{"6.6.6.6, 1.2.3.4, 10.0.0.1"}, hops: 2, want: "1.2.3.4"},
		{name: "field lines joined in order", values: []string{"6.6.6.6, 1.2.3.4", "10.0.0.1"}, hops: 2, want: "1.2.3.4"},
		{name: "shorter than the hops: missing, never the left-most", values: []string{"1.2.3.4"}, hops: 2, want: ""},
		{name: "not an address", values: []string{"1.2.3.4, unknown"}, hops: 1, want: ""},
		{name: "an address with a port", values: []string{"1.2.3.4:5678"}, hops: 1, want: "1.2.3.4"},
		{name: "IPv6 by its /64", values: []string{"2001:db8:1:2:3:4:5:6"}, hops: 1, want: "2001:db8:1:2::/64"},
		{name: "bracketed IPv6 with a port", values: []string{"[2001:db8::1]:443"}, hops: 1, want: "2001:db8::/64"},
		{name: "IPv4-mapped IPv6 is the IPv4 address", values: []string{"::ffff:1.2.3.4"}, hops: 1, want: "1.2.3.4"},
		{name: "empty entries count", values: []string{"1.2.3.4,,"}, hops: 2, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keyText(forwardedClient(tc.values, tc.hops)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// keyText renders an address key for reading: "" when there is none.
func keyText(k [17]byte, ok bool) string {
	if !ok {
		return ""
	}
	ip := netip.AddrFrom16([16]byte(k[:16])).Unmap()
	if k[16] == 64 {
		return netip.PrefixFrom(ip, 64).String()
	}
	return ip.String()
}

func FuzzForwardedClient(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "6.6.6.6, 1.2.3.4", "[::1]:80, ::ffff:1.2.3.4", ",,", " , 1.2.3.4 "} {
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, xff string, hops int) {
		hops = hops & 15
		got := keyText(forwardedClient([]string{xff}, hops))
		if got == "" {
			return
		}
		// The answer is always one of the right-most hops entries, as a key.
		entries := strings.Split(xff, ",")
		if hops > len(entries) || keyText(peerKey(strings.Trim(entries[len(entries)-hops], " \t"))) != got {
			t.Errorf("%q with %d hops: %q is not the entry %d from the right", xff, hops, got, hops)
		}
	})
}

func TestParsePart(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    part
		wantErr bool
	}{
		{in: "peer", want: part{kind: partPeer}},
		{in: "route", want: part{kind: partRoute}},
		{in: "claim:/sub", want: part{kind: partClaim, claim: claims.Pointer{"sub"}}},
		{in: "claim:/realm_access/roles", want: part{kind: partClaim, claim: claims.Pointer{"realm_access", "roles"}}},
		{in: "claim:/a.b~1c~0d", want: part{kind: partClaim, claim: claims.Pointer{"a.b/c~d"}}},
		{in: "header:x-api-key", want: part{kind: partHeader, name: "x-api-key"}},
		{in: "header:X-Api-Key", wantErr: true},
		{in: "header::path", wantErr: true},
		{in: "claim:sub", wantErr: true},
		{in: "claim:/a//b", wantErr: true},
		{in: "claim:/a~2", wantErr: true},
		{in: "client_ip", wantErr: true},
		// Claims are UTF-8, so such a pointer could never match.
		{in: "claim:/\x8b", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parsePart(tc.in)
			if (err != nil) != tc.wantErr || err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestClaimHas(t *testing.T) {
	v, err := jwt.NewVerifier(jwt.Config{Issuer: "i", Audiences: []string{"a"}, MaxTokenSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	tok, d := v.Check(jwttest.HMAC("k", "HS256", 32).Token(jwttest.Claims("i", "a", time.Now().Add(time.Hour).Unix(),
		"roles", `["reader", "premium"]`, "scope", `"orders:read premium"`, "plan", `"premium-plus"`, "n", "7")), time.Now())
	if d.Denied() {
		t.Fatal(d.Reason.Code())
	}
	for _, tc := range []struct {
		path, value string
		want        bool
	}{
		{"/roles", "premium", true}, {"/roles", "prem", false}, {"/scope", "premium", true},
		{"/plan", "premium", false}, {"/n", "7", false}, {"/missing", "premium", false},
	} {
		if got := claimHas(tok, claims.Pointer{tc.path[1:]}, tc.value); got != tc.want {
			t.Errorf("%s has %q: %v, want %v", tc.path, tc.value, got, tc.want)
		}
	}
}
