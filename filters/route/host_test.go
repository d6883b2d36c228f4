package route

import (
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/filters/verdict"
)

// hostRoutes is two APIs, a tenant wildcard with a more specific wildcard
// and an exact host under it, an IDN, IP literals, a wildcard with a port,
// and routes for any other host.
var hostRoutes = []Spec{
	{Name: "api-orders", Path: "/orders/{id}", Hosts: []string{"api.example.com"}},
	{Name: "api-health", Path: "/healthz", Hosts: []string{"api.example.com", "API.example.com:8443"}},
	{Name: "tenants", Path: "/orders/{id}", Hosts: []string{"*.tenants.example.com"}},
	{Name: "eu-tenants", Path: "/orders/{id}", Hosts: []string{"*.eu.tenants.example.com"}},
	{Name: "vip", Path: "/orders/{id}", Hosts: []string{"vip.tenants.example.com."}},
	{Name: "books", Path: "/**", Hosts: []string{"xn--bcher-kva.example.com"}},
	{Name: "any-health", Path: "/healthz"},
	{Name: "any-orders", Path: "/orders/**"},
	{Name: "local", Path: "/healthz", Hosts: []string{"[::1]:8080", "127.0.0.1"}},
	{Name: "wild-port", Path: "/**", Hosts: []string{"*.example.com:8443"}},
}

// hostCases: (authority, scheme, path) and the route, or the reason.
var hostCases = []struct {
	name, authority, scheme, path string
	want                          string // a route name, or "no_route" / "bad_request"
}{
	{"exact host", "api.example.com", "https", "/orders/7", "api-orders"},
	{"host is case-insensitive", "API.Example.COM", "https", "/orders/7", "api-orders"},
	{"trailing dot", "api.example.com.", "https", "/orders/7", "api-orders"},
	{"trailing dot, case and default port", "API.EXAMPLE.COM.:443", "https", "/orders/7", "api-orders"},
	{"default https port removed", "api.example.com:443", "https", "/orders/7", "api-orders"},
	{"default http port removed", "api.example.com:80", "http", "/orders/7", "api-orders"},
	{"scheme compared case-insensitively", "api.example.com:443", "HTTPS", "/orders/7", "api-orders"},
	{"80 is not https's default: another host", "api.example.com:80", "https", "/orders/7", "any-orders"},
	{"443 is not http's default: another host", "api.example.com:443", "http", "/orders/7", "any-orders"},
	{"pattern with a port", "api.example.com:8443", "https", "/healthz", "api-health"},
	{"a host:port has only its own routes", "api.example.com:8443", "https", "/orders/7", "no_route"},
	{"another port is another host", "api.example.com:9000", "https", "/healthz", "any-health"},
	{"a host's path outside its routes does not fall to any-host routes", "api.example.com", "https", "/other", "no_route"},
	{"host with routes of the same path as any-host", "api.example.com", "https", "/healthz", "api-health"},
	{"unknown host gets the any-host routes", "other.example.org", "https", "/healthz", "any-health"},
	{"wildcard: one label", "a.tenants.example.com", "https", "/orders/7", "tenants"},
	{"wildcard: several labels", "a.b.tenants.example.com", "https", "/orders/7", "tenants"},
	{"longer wildcard wins", "x.eu.tenants.example.com", "https", "/orders/7", "eu-tenants"},
	{"the longer wildcard's own name is under the shorter", "eu.tenants.example.com", "https", "/orders/7", "tenants"},
	{"exact beats wildcard", "vip.tenants.example.com", "https", "/orders/7", "vip"},
	{"exact beats wildcard, any spelling", "VIP.Tenants.Example.Com.", "https", "/orders/7", "vip"},
	{"wildcard never matches the bare name", "tenants.example.com", "https", "/orders/7", "any-orders"},
	{"wildcard matches at label boundaries only", "eviltenants.example.com", "https", "/orders/7", "any-orders"},
	{"wildcard suffix inside another name", "tenants.example.com.evil.com", "https", "/orders/7", "any-orders"},
	{"wildcard match inside another name", "a.tenants.example.com.evil.com", "https", "/orders/7", "any-orders"},
	{"wildcard with a port", "a.tenants.example.com:8443", "https", "/orders/7", "wild-port"},
	{"wildcard with a port never matches without", "a.example.com", "https", "/x", "no_route"},
	{"IDN in punycode", "xn--bcher-kva.example.com", "https", "/anything", "books"},
	{"punycode in upper case", "XN--BCHER-KVA.example.com", "https", "/anything", "books"},
	{"IDN not in punycode", "bücher.example.com", "https", "/anything", "bad_request"},
	{"IPv6 literal with port", "[::1]:8080", "https", "/healthz", "local"},
	{"IPv6 literal on another port", "[::1]", "https", "/healthz", "any-health"},
	{"IPv4 literal, default port", "127.0.0.1:80", "http", "/healthz", "local"},
	{"no authority", "", "https", "/healthz", "bad_request"},
	{"userinfo", "user@api.example.com", "https", "/orders/7", "bad_request"},
	{"userinfo with password and port", "user:pw@api.example.com:443", "https", "/orders/7", "bad_request"},
	{"port out of range", "api.example.com:99999", "https", "/orders/7", "bad_request"},
	{"port zero", "api.example.com:0", "https", "/orders/7", "bad_request"},
	{"port with a leading zero", "api.example.com:0443", "https", "/orders/7", "bad_request"},
	{"empty port", "api.example.com:", "https", "/orders/7", "bad_request"},
	{"signed port", "api.example.com:+443", "https", "/orders/7", "bad_request"},
	{"two ports", "api.example.com:443:443", "https", "/orders/7", "bad_request"},
	{"space", "api example.com", "https", "/orders/7", "bad_request"},
	{"two Host headers joined by Envoy", "api.example.com,evil.example.com", "https", "/orders/7", "bad_request"},
	{"empty label", "api..example.com", "https", "/orders/7", "bad_request"},
	{"leading dot", ".api.example.com", "https", "/orders/7", "bad_request"},
	{"two trailing dots", "api.example.com..", "https", "/orders/7", "bad_request"},
	{"percent-encoded name", "%61pi.example.com", "https", "/orders/7", "bad_request"},
	{"path in the authority", "api.example.com/orders", "https", "/orders/7", "bad_request"},
	{"label over 63 bytes", strings.Repeat("a", 64) + ".example.com", "https", "/orders/7", "bad_request"},
	{"wildcard sent as a host", "*.tenants.example.com", "https", "/orders/7", "bad_request"},
	{"unterminated IPv6 literal", "[::1", "https", "/healthz", "bad_request"},
	{"junk after an IPv6 literal", "[::1]x", "https", "/healthz", "bad_request"},
	{"IPv6 zone identifier", "[fe80::1%25eth0]", "https", "/healthz", "bad_request"},
	{"too long", strings.Repeat("a.", 131), "https", "/healthz", "bad_request"},
}

func TestHostRouting(t *testing.T) {
	forward, errs := Compile(hostRoutes)
	if errs != nil {
		t.Fatal(errs)
	}
	reversed := slices.Clone(hostRoutes)
	slices.Reverse(reversed)
	backward, errs := Compile(reversed)
	if errs != nil {
		t.Fatal(errs)
	}
	for _, tc := range hostCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := hostMatch(forward, hostRoutes, tc.authority, tc.scheme, tc.path); got != tc.want {
				t.Errorf("%q %s: got %s, want %s", tc.authority, tc.path, got, tc.want)
			}
			if got := hostMatch(backward, reversed, tc.authority, tc.scheme, tc.path); got != tc.want {
				t.Errorf("routes in reverse order: %q %s: got %s, want %s", tc.authority, tc.path, got, tc.want)
			}
		})
	}
}

func hostMatch(t *Table, specs []Spec, authority, scheme, path string) string {
	host, d := CanonicalHost(authority, scheme)
	if d.Denied() {
		return d.Reason.Code()
	}
	var p Params
	i, d := t.Match(t.Host(host), "GET", path, &p)
	if i < 0 {
		return d.Reason.Code()
	}
	return specs[i].Name
}

func TestHostPatternErrors(t *testing.T) {
	specs := []Spec{
		{Name: "a", Path: "/a", Hosts: []string{"*"}},
		{Name: "b", Path: "/b", Hosts: []string{"api.*.com", "*example.com", "a.example.*"}},
		{Name: "c", Path: "/c", Hosts: []string{"*.127.0.0.1", "*.[::1]"}},
		{Name: "d", Path: "/d", Hosts: []string{"bücher.example.com", "api.example.com:443", "api.example.com:80", "api.example.com:99999", "u@api.example.com", "api..example.com"}},
		{Name: "e", Path: "/e", Hosts: []string{"api.example.com", "API.example.com."}},
		{Name: "f", Path: "/orders/{id}", Methods: []string{"GET"}, Hosts: []string{"api.example.com"}},
		{Name: "g", Path: "/orders/{order}/", Methods: []string{"GET", "PUT"}, Hosts: []string{"admin.example.com", "API.example.com"}},
		// Same shape and methods on another host, or on any host: no conflict.
		{Name: "h", Path: "/orders/{id}", Methods: []string{"GET"}, Hosts: []string{"*.example.com"}},
		{Name: "i", Path: "/orders/{id}", Methods: []string{"GET"}},
	}
	_, errs := Compile(specs)
	want := []string{
		`routes[0].match.hosts[0]: "*": "*" is not a pattern: omit hosts to match any host`,
		`routes[1].match.hosts[0]: "api.*.com": only a whole leading label may be a wildcard ("*.example.com")`,
		`routes[1].match.hosts[1]: "*example.com": only a whole leading label may be a wildcard ("*.example.com")`,
		`routes[1].match.hosts[2]: "a.example.*": only a whole leading label may be a wildcard ("*.example.com")`,
		`routes[2].match.hosts[0]: "*.127.0.0.1": a wildcard needs a domain name, not an IP address`,
		`routes[2].match.hosts[1]: "*.[::1]": a wildcard needs a domain name, not an IP address`,
		`routes[3].match.hosts[0]: "bücher.example.com": write an internationalized name in punycode (xn--...)`,
		`routes[3].match.hosts[1]: "api.example.com:443": ports 80 and 443 are removed from requests of their scheme: write the host without it`,
		`routes[3].match.hosts[2]: "api.example.com:80": ports 80 and 443 are removed from requests of their scheme: write the host without it`,
		`routes[3].match.hosts[3]: "api.example.com:99999": invalid port`,
		`routes[3].match.hosts[4]: "u@api.example.com": userinfo in the authority`,
		`routes[3].match.hosts[5]: "api..example.com": empty or over-long label in the host name`,
		`routes[4].match.hosts[1]: "API.example.com." is listed twice`,
		`routes[6].match.hosts[1]: same host "api.example.com" and path shape as routes[5] with overlapping methods`,
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d: %q", len(errs), len(want), errs)
	}
	for i, e := range errs {
		if e.Error() != want[i] {
			t.Errorf("error %d:\n%s\nwant\n%s", i, e, want[i])
		}
	}
}

// TestHostLookupIsConstant: finding a host's group allocates nothing, and
// a request's host costs the same lookups whatever the number of patterns.
func TestHostLookupAllocatesNothing(t *testing.T) {
	table, errs := Compile(hostRoutes)
	if errs != nil {
		t.Fatal(errs)
	}
	var p Params
	n := testing.AllocsPerRun(100, func() {
		host, _ := CanonicalHost("a.b.tenants.example.com:443", "https")
		table.Match(table.Host(host), "GET", "/orders/7", &p)
	})
	if n != 0 {
		t.Errorf("%v allocations per match", n)
	}
}

// FuzzCanonicalHost: any authority is refused or canonical: lower case, no
// trailing dot, a fixed point, and never containing what makes it malformed.
func FuzzCanonicalHost(f *testing.F) {
	for _, tc := range hostCases {
		f.Add(tc.authority, tc.scheme)
	}
	f.Fuzz(func(t *testing.T, authority, scheme string) {
		host, d := CanonicalHost(authority, scheme)
		if d.Denied() {
			if d.Reason != verdict.BadRequest || host != "" {
				t.Fatalf("refused %q with %v and host %q", authority, d, host)
			}
			return
		}
		name := host
		if HasPort(host) {
			name = host[:strings.LastIndexByte(host, ':')]
		}
		if host != strings.ToLower(host) || strings.ContainsAny(host, "@, %/*") || strings.HasSuffix(name, ".") {
			t.Fatalf("%q canonicalized to %q", authority, host)
		}
		if again, d := CanonicalHost(host, scheme); d.Denied() || again != host {
			t.Fatalf("%q -> %q -> %q (%v)", authority, host, again, d)
		}
	})
}

// FuzzHostPattern: an accepted pattern's canonical form is accepted again
// unchanged, and a host spelled like an exact pattern is routed to it.
func FuzzHostPattern(f *testing.F) {
	for _, s := range hostRoutes {
		for _, h := range s.Hosts {
			f.Add(h)
		}
	}
	for _, h := range []string{"*", "api.*.com", "*.127.0.0.1", "bücher.example.com", "a:443", "*.a:8443", "[::1]"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		canon, err := ParseHostPattern(pattern)
		if err != nil {
			return
		}
		if again, err := ParseHostPattern(canon); err != nil || again != canon {
			t.Fatalf("%q -> %q -> %q, %v", pattern, canon, again, err)
		}
		table, errs := Compile([]Spec{{Name: "r", Path: "/", Hosts: []string{pattern}}})
		if errs != nil {
			t.Fatalf("%q: %v", pattern, errs)
		}
		if strings.HasPrefix(canon, "*.") {
			return
		}
		host, d := CanonicalHost(canon, "https")
		if d.Denied() || table.Host(host) == AnyHost {
			t.Fatalf("pattern %q: host %q (%v) is not routed to it", pattern, host, d)
		}
	})
}
