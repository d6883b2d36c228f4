package httpsyntax

import (
	"strings"
	"testing"
)

func TestUnescape(t *testing.T) {
	tests := []struct {
		in      string
		plus    bool
		want    string
		wantBad bool
	}{
		{in: "plain", want: "plain"},
		{in: "a%20b", want: "a b"},
		{in: "%5Fmethod", want: "_method"},
		{in: "a+b", want: "a+b"},
		{in: "a+b", plus: true, want: "a b"},
		{in: "%2525", want: "%25"},
		{in: "%zz", wantBad: true},
		{in: "%2", wantBad: true},
		{in: "%", wantBad: true},
	}
	for _, tc := range tests {
		got, ok := Unescape(tc.in, tc.plus)
		if ok == tc.wantBad || ok && got != tc.want {
			t.Errorf("Unescape(%q, %v) = %q, %v; want %q, bad %v", tc.in, tc.plus, got, ok, tc.want, tc.wantBad)
		}
	}
}

// TestEachQueryPair: "&" alone separates pairs, as Envoy and the upstreams
// that follow the WHATWG URL standard read them; a ";" is data, and only
// SemicolonSplit reads the query as the upstreams that split on it do.
func TestEachQueryPair(t *testing.T) {
	tests := []struct {
		name, query string
		want        string // "name|value" pairs, ","-separated
		wantSplit   string // read after SemicolonSplit; "" when it changes nothing
	}{
		{name: "pairs, an empty one skipped", query: "a=1&&=x&d", want: "a|1,|x,d|"},
		{name: "the first = splits", query: "c=3=4", want: "c|3=4"},
		{name: "a semicolon is data", query: "a=1;b=2&c", want: "a|1;b=2,c|", wantSplit: "a|1,b|2,c|"},
		{name: "a semicolon in a name", query: "x;org=b", want: "x;org|b", wantSplit: "x|,org|b"},
		{name: "a trailing semicolon", query: "a=1;", want: "a|1;", wantSplit: "a|1"},
	}
	read := func(query string) string {
		var got []string
		EachQueryPair(query, func(name, value string) bool {
			got = append(got, name+"|"+value)
			return true
		})
		return strings.Join(got, ",")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := read(tc.query); got != tc.want {
				t.Errorf("pairs %q, want %q", got, tc.want)
			}
			split, ok := SemicolonSplit(tc.query)
			if ok != (tc.wantSplit != "") || ok && read(split) != tc.wantSplit {
				t.Errorf("split %q (%v) reads %q, want %q", split, ok, read(split), tc.wantSplit)
			}
		})
	}
	var seen []string
	EachQueryPair("a&b&c", func(name, _ string) bool {
		seen = append(seen, name)
		return name != "b"
	})
	if strings.Join(seen, ",") != "a,b" {
		t.Errorf("read %q after each returned false", seen)
	}
}

func TestIsToken(t *testing.T) {
	for s, want := range map[string]bool{"GET": true, "x-tenant": true, "gzip": true, "": false, "a b": false, "a/b": false, "é": false, "a\x7f": false} {
		if IsToken(s) != want {
			t.Errorf("IsToken(%q) = %v", s, !want)
		}
	}
}

func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"a%20b", "%zz", "+%2B+", "%"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, plus bool) {
		got, ok := Unescape(s, plus)
		if ok && len(got) > len(s) {
			t.Fatalf("Unescape(%q) grew to %q", s, got)
		}
		if ok && !strings.ContainsAny(s, "%+") && got != s {
			t.Fatalf("Unescape(%q) = %q without anything to decode", s, got)
		}
	})
}

func TestTrimOWS(t *testing.T) {
	for in, want := range map[string]string{
		"":                "",
		" \t ":            "",
		"Bearer x":        "Bearer x",
		" \tBearer x\t ":  "Bearer x",
		"\vBearer x\r\n":  "\vBearer x\r\n",
		"  a \t b  ":      "a \t b",
		"\u00a0a\u00a0":   "\u00a0a\u00a0",
		"\t\t\t\t\t\t\tz": "z",
	} {
		if got := TrimOWS(in); got != want || got != strings.Trim(in, " \t") {
			t.Errorf("TrimOWS(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTokenCharsAreRFC9110s: every byte is a tchar exactly when RFC 9110
// section 5.6.2 lists it: "!#$%&'*+-.^_`|~", a digit or a letter.
func TestTokenCharsAreRFC9110s(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		want := strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0 || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
		if IsTokenChar(b) != want {
			t.Errorf("IsTokenChar(%q) = %v", b, !want)
		}
	}
	for _, tc := range []struct {
		s    string
		want bool
	}{{"GET", true}, {"x-api-key", true}, {"", false}, {"a b", false}, {"a:b", false}, {"caf\xc3\xa9", false}} {
		if IsToken(tc.s) != tc.want {
			t.Errorf("IsToken(%q) = %v", tc.s, !tc.want)
		}
	}
}
