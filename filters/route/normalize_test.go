package route

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apiguard/apiguard/filters/verdict"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		wantDecoded string
		wantEscaped string // defaults to wantDecoded
		wantQuery   string
		wantDetail  string // non-empty: a BadPath denial with this detail
	}{
		{name: "canonical", raw: "/api/v1/orders", wantDecoded: "/api/v1/orders"},
		{name: "root", raw: "/", wantDecoded: "/"},
		{name: "trailing slash kept", raw: "/a/", wantDecoded: "/a/"},
		{name: "query split off untouched", raw: "/a?x=%00&y=..", wantDecoded: "/a", wantQuery: "x=%00&y=.."},
		{name: "dot-dot", raw: "/a/../admin", wantDecoded: "/admin"},
		{name: "encoded dot-dot", raw: "/%2e%2e/admin", wantDecoded: "/admin"},
		{name: "mixed-case encoded dot-dot", raw: "/a/%2e%2E/admin", wantDecoded: "/admin"},
		{name: "dot-dot above root clamps", raw: "/..", wantDecoded: "/"},
		{name: "dot segments", raw: "/./a/./b/", wantDecoded: "/a/b/"},
		{name: "dot-dot at the end keeps the slash", raw: "/a/b/..", wantDecoded: "/a/"},
		{name: "dot at the end keeps the slash", raw: "/a/.", wantDecoded: "/a/"},
		{name: "double slash", raw: "//admin", wantDecoded: "/admin"},
		{name: "many slashes", raw: "/a///b//", wantDecoded: "/a/b/"},
		{name: "matrix parameter", raw: "/admin;x", wantDecoded: "/admin"},
		{name: "matrix parameters on segments", raw: "/admin;x/users;y=1?y=1", wantDecoded: "/admin/users", wantQuery: "y=1"},
		{name: "tomcat-style ..;", raw: "/public/..;/admin", wantDecoded: "/admin"},
		{name: "encoded semicolon is data", raw: "/a%3Bb", wantDecoded: "/a;b", wantEscaped: "/a%3Bb"},
		{name: "space re-encoded", raw: "/files/a%20b", wantDecoded: "/files/a b", wantEscaped: "/files/a%20b"},
		{name: "UTF-8", raw: "/caf%C3%A9", wantDecoded: "/café", wantEscaped: "/caf%C3%A9"},
		{name: "raw UTF-8 escaped canonically", raw: "/café", wantDecoded: "/café", wantEscaped: "/caf%C3%A9"},
		{name: "unreserved escapes decoded", raw: "/%61%7E", wantDecoded: "/a~"},
		{name: "lone percent as data", raw: "/100%25", wantDecoded: "/100%", wantEscaped: "/100%25"},
		{name: "encoded slash", raw: "/%2fadmin", wantDetail: detailEncodedSep},
		{name: "encoded slash upper-case", raw: "/a%2Fb", wantDetail: detailEncodedSep},
		{name: "encoded backslash", raw: "/a%5cb", wantDetail: detailEncodedSep},
		{name: "raw backslash", raw: `/a\b`, wantDetail: detailBackslash},
		{name: "encoded NUL", raw: "/admin%00", wantDetail: detailEncodedSep},
		{name: "encoded control", raw: "/a%0ab", wantDetail: detailControl},
		{name: "raw control", raw: "/a\tb", wantDetail: detailControl},
		{name: "raw DEL", raw: "/a\x7f", wantDetail: detailControl},
		{name: "double-encoded dots", raw: "/%252e%252e/admin", wantDetail: detailDoubleEncoding},
		{name: "double-encoded slash", raw: "/a%252fb", wantDetail: detailDoubleEncoding},
		{name: "overlong dot", raw: "/%c0%ae%c0%ae/admin", wantDetail: detailUTF8},
		{name: "surrogate", raw: "/%ed%a0%80", wantDetail: detailUTF8},
		{name: "truncated UTF-8", raw: "/%c3", wantDetail: detailUTF8},
		{name: "raw invalid UTF-8", raw: "/\xff", wantDetail: detailUTF8},
		{name: "truncated escape", raw: "/a%4", wantDetail: detailBadEscape},
		{name: "bad hex", raw: "/a%g1", wantDetail: detailBadEscape},
		{name: "lone percent", raw: "/a%", wantDetail: detailBadEscape},
		{name: "fragment", raw: "/a#b", wantDetail: detailFragment},
		{name: "fragment after the query", raw: "/a?x=1#b", wantDetail: detailFragment},
		{name: "raw NUL in the query", raw: "/?access_token=\x00", wantDetail: detailControl},
		{name: "raw CR LF in the query", raw: "/a?x=1\r\nx-admin: 1", wantDetail: detailControl},
		{name: "raw DEL in the query of a canonical path", raw: "/api?x=\x7f", wantDetail: detailControl},
		{name: "empty", raw: "", wantDetail: detailNotOriginForm},
		{name: "asterisk-form", raw: "*", wantDetail: detailNotOriginForm},
		{name: "absolute-form", raw: "http://x/a", wantDetail: detailNotOriginForm},
		{name: "too long", raw: "/" + strings.Repeat("a", MaxPathLength), wantDetail: detailTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, d := Normalize(tc.raw)
			if tc.wantDetail != "" {
				if d.Reason != verdict.BadPath || d.Detail() != tc.wantDetail {
					t.Fatalf("Normalize(%q) = %+v, %+v; want BadPath %q", tc.raw, got, d, tc.wantDetail)
				}
				return
			}
			if d.Denied() {
				t.Fatalf("Normalize(%q) denied: %s", tc.raw, d.Detail())
			}
			wantEscaped := tc.wantEscaped
			if wantEscaped == "" {
				wantEscaped = tc.wantDecoded
			}
			if got.Decoded != tc.wantDecoded || got.Escaped != wantEscaped || got.Query != tc.wantQuery {
				t.Errorf("Normalize(%q) = %+v, want {%s %s %s}", tc.raw, got, tc.wantDecoded, wantEscaped, tc.wantQuery)
			}
		})
	}
}

func TestNormalizeCanonicalPathDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { Normalize("/api/v1/orders/42?limit=10") }); n != 0 {
		t.Errorf("%v allocations for an already-canonical path", n)
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2E/x", "/a;b/c", "/%252e", "//x//y/", "/caf%C3%A9?q=1", "/a%3Bb", "/\xc0\xae"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, d := Normalize(raw)
		if d.Denied() {
			if d.Reason != verdict.BadPath || d.Detail() == "" {
				t.Fatalf("denial %+v", d)
			}
			return
		}
		if !strings.HasPrefix(p.Decoded, "/") || strings.Contains(p.Decoded, "//") || !utf8.ValidString(p.Decoded) {
			t.Fatalf("Decoded %q is not normal", p.Decoded)
		}
		for _, seg := range strings.Split(p.Decoded, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("Decoded %q keeps a dot segment", p.Decoded)
			}
		}
		for i := 0; i < len(p.Escaped); i++ {
			c := p.Escaped[i]
			if c == '%' {
				if i+2 >= len(p.Escaped) || strings.IndexByte(upperHex, p.Escaped[i+1]) < 0 || strings.IndexByte(upperHex, p.Escaped[i+2]) < 0 {
					t.Fatalf("Escaped %q has a bad escape at %d", p.Escaped, i)
				}
				continue
			}
			if c != '/' && !literal[c] {
				t.Fatalf("Escaped %q has a raw %q", p.Escaped, c)
			}
		}
		for i := 0; i < len(p.Query); i++ {
			if isControl(p.Query[i]) || p.Query[i] == '#' {
				t.Fatalf("Query %q forwards a raw %q", p.Query, p.Query[i])
			}
		}
		forward := p.Escaped
		if p.Query != "" {
			forward += "?" + p.Query
		}
		again, d := Normalize(forward)
		if d.Denied() || again.Decoded != p.Decoded || again.Escaped != p.Escaped || again.Query != p.Query {
			t.Fatalf("not idempotent: %q -> %+v -> %+v %+v", raw, p, again, d)
		}
	})
}
