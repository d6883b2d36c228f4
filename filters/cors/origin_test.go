package cors

import (
	"strings"
	"testing"
)

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Origin
		ok   bool
	}{
		{name: "https, default port", in: "https://app.example.com", want: Origin{"https", "app.example.com", 443}, ok: true},
		{name: "http, default port", in: "http://app.example.com", want: Origin{"http", "app.example.com", 80}, ok: true},
		{name: "another port", in: "https://app.example.com:8443", want: Origin{"https", "app.example.com", 8443}, ok: true},
		{name: "punycode", in: "https://xn--pp-8cd.example.com", want: Origin{"https", "xn--pp-8cd.example.com", 443}, ok: true},
		{name: "IPv6 with port", in: "http://[::1]:3000", want: Origin{"http", "[::1]", 3000}, ok: true},
		{name: "IPv4", in: "http://127.0.0.1:3000", want: Origin{"http", "127.0.0.1", 3000}, ok: true},
		{name: "default port written out", in: "https://app.example.com:443"},
		{name: "upper-case host", in: "https://APP.example.com"},
		{name: "upper-case scheme", in: "HTTPS://app.example.com"},
		{name: "trailing dot", in: "https://app.example.com."},
		{name: "Unicode look-alike (Cyrillic a)", in: "https://\u0430pp.example.com"},
		{name: "path", in: "https://app.example.com/"},
		{name: "userinfo", in: "https://u@app.example.com"},
		{name: "two origins joined", in: "https://app.example.com, https://evil.com"},
		{name: "empty", in: ""},
		{name: "null", in: "null"},
		{name: "other scheme", in: "file://app.example.com"},
		{name: "port zero", in: "https://app.example.com:0"},
		{name: "port too large", in: "https://app.example.com:65536"},
		{name: "leading zero port", in: "https://app.example.com:0443"},
		{name: "empty label", in: "https://app..example.com"},
		{name: "no host", in: "https://"},
		{name: "unclosed IPv6", in: "http://[::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseOrigin(tc.in)
			if ok != tc.ok || got != tc.want {
				t.Errorf("ParseOrigin(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
			if ok && got.String() != tc.in {
				t.Errorf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestPatternsMatchOnParsedParts(t *testing.T) {
	exact, _ := parsePattern("https://app.example.com")
	wild, _ := parsePattern("https://*.partner.example")
	wildPort, _ := parsePattern("http://*.dev.example:3000")
	tests := []struct {
		name    string
		p       pattern
		origin  string
		matches bool
	}{
		{name: "exact", p: exact, origin: "https://app.example.com", matches: true},
		{name: "exact: a suffix attack", p: exact, origin: "https://app.example.com.evil.com"},
		{name: "exact: a prefix attack", p: exact, origin: "https://evilapp.example.com"},
		{name: "exact: a hyphen for a dot", p: exact, origin: "https://app-example.com"},
		{name: "exact: http", p: exact, origin: "http://app.example.com"},
		{name: "exact: another port", p: exact, origin: "https://app.example.com:8443"},
		{name: "wildcard: one label", p: wild, origin: "https://a.partner.example", matches: true},
		{name: "wildcard: two labels", p: wild, origin: "https://a.b.partner.example", matches: true},
		{name: "wildcard: the domain itself", p: wild, origin: "https://partner.example"},
		{name: "wildcard: not on a label boundary", p: wild, origin: "https://evilpartner.example"},
		{name: "wildcard: as a prefix", p: wild, origin: "https://a.partner.example.evil.com"},
		{name: "wildcard: http", p: wild, origin: "http://a.partner.example"},
		{name: "wildcard with port", p: wildPort, origin: "http://x.dev.example:3000", matches: true},
		{name: "wildcard with port: default port", p: wildPort, origin: "http://x.dev.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, ok := ParseOrigin(tc.origin)
			if got := ok && tc.p.matches(o); got != tc.matches {
				t.Errorf("%+v matches %q: %v, want %v", tc.p, tc.origin, got, tc.matches)
			}
		})
	}
	for _, bad := range []string{"https://*.com", "https://*.[::1]", "https://*.*.example.com", "https://a.*.example.com", "https://*example.com"} {
		if _, ok := parsePattern(bad); ok {
			t.Errorf("parsePattern(%q) accepted", bad)
		}
	}
}

// FuzzOrigin checks what the parser and the matcher promise on any input: a
// parsed origin is in browser form and serializes back to its input, and a
// wildcard matches only a strictly longer host ending in its suffix.
func FuzzOrigin(f *testing.F) {
	for _, s := range []string{"https://app.example.com", "http://[::1]:3000", "https://a.partner.example", "https://app.example.com.evil.com", "null", ""} {
		f.Add(s)
	}
	wild, _ := parsePattern("https://*.partner.example")
	f.Fuzz(func(t *testing.T, s string) {
		o, ok := ParseOrigin(s)
		if !ok {
			return
		}
		if o.String() != s {
			t.Fatalf("%q parsed to %+v, which serializes to %q", s, o, o.String())
		}
		if strings.ToLower(s) != s || strings.HasSuffix(o.Host, ".") {
			t.Fatalf("%q accepted, not in browser form", s)
		}
		if wild.matches(o) && (o.Scheme != "https" || o.Port != 443 || !strings.HasSuffix(o.Host, ".partner.example") || len(o.Host) <= len(".partner.example")) {
			t.Fatalf("wildcard matched %q", s)
		}
	})
}
