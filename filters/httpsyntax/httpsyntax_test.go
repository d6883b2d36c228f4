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

func TestEachQueryPair(t *testing.T) {
	var got []string
	EachQueryPair("a=1&&b;c=3=4&=x&d", func(name, value string) bool {
		got = append(got, name+"|"+value)
		return name != "="
	})
	if want := "a|1,b|,c|3=4,|x,d|"; strings.Join(got, ",") != want {
		t.Errorf("pairs %q, want %q", strings.Join(got, ","), want)
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
