package authn

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/verdict"
)

func TestClaimValue(t *testing.T) {
	tests := []struct {
		name, claim string
		want        string
		reason      verdict.Reason
	}{
		{name: "ASCII string as is", claim: `"alice@example.com"`, want: "alice@example.com"},
		{name: "number and boolean as JSON", claim: `[1.5e3,true,false]`, want: "1.5e3,true,false"},
		{name: "non-ASCII percent-encoded", claim: `"café"`, want: "caf%C3%A9"},
		{name: "escaped non-ASCII the same", claim: `"caf\u00e9"`, want: "caf%C3%A9"},
		{name: "line and paragraph separators", claim: `"a\u2028b\u2029c"`, want: "a%E2%80%A8b%E2%80%A9c"},
		{name: "percent encoded so decoding is exact", claim: `"100%25"`, want: "100%2525"},
		{name: "spaces kept from trimming", claim: `" admin "`, want: "%20admin%20"},
		{name: "an element with a comma", claim: `["admin,ops"]`, want: "admin%2Cops"},
		{name: "two elements", claim: `["admin","ops"]`, want: "admin,ops"},
		{name: "scalar with a comma", claim: `"Doe, John"`, want: "Doe%2C%20John"},
		{name: "plus and other printable ASCII kept", claim: `"a+b=c/d?e;f"`, want: "a+b=c/d?e;f"},
		{name: "empty array", claim: `[]`, want: ""},
		{name: "CRLF refused", claim: `"a\r\nx-admin: 1"`, reason: verdict.TokenClaimHeader},
		{name: "NUL refused", claim: `"a\u0000"`, reason: verdict.TokenClaimHeader},
		{name: "DEL refused", claim: `"a\u007f"`, reason: verdict.TokenClaimHeader},
		{name: "tab refused", claim: `["ok","a\tb"]`, reason: verdict.TokenClaimHeader},
		{name: "object refused", claim: `{"a":1}`, reason: verdict.TokenClaimHeader},
		{name: "null refused", claim: `null`, reason: verdict.TokenClaimHeader},
		{name: "nested array refused", claim: `[["a"]]`, reason: verdict.TokenClaimHeader},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, d := claimValue(gjson.Parse(tc.claim))
			if d.Reason != tc.reason {
				t.Fatalf("reason %s, want %s", d.Reason.Code(), tc.reason.Code())
			}
			if ok != (tc.reason == verdict.None) || got != tc.want && ok {
				t.Errorf("got %q (%v), want %q", got, ok, tc.want)
			}
		})
	}
}

func TestAbsentClaimIsNoHeader(t *testing.T) {
	if got, ok, d := claimValue(gjson.Result{}); ok || got != "" || d.Denied() {
		t.Errorf("claimValue of an absent claim = %q, %v, %v; want no value and no denial", got, ok, d)
	}
}

// FuzzEncodeClaim: an encoded claim is printable ASCII without space or
// comma, and percent-decoding gives the claim back exactly.
func FuzzEncodeClaim(f *testing.F) {
	for _, s := range []string{"alice", "café", "a\u2028b", " Doe, 100% ", "a+b", "\xc0\xaf", "a\r\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		if !encodeClaim(&b, s) {
			if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Fatalf("refused %q, which has no control character", s)
			}
			return
		}
		out := b.String()
		for i := 0; i < len(out); i++ {
			if c := out[i]; c <= ' ' || c >= 0x7f || c == ',' {
				t.Fatalf("%q encodes to %q, with byte %#x", s, out, c)
			}
		}
		if back, err := url.PathUnescape(out); err != nil || back != s {
			t.Fatalf("%q encodes to %q, which decodes to %q (%v)", s, out, back, err)
		}
	})
}
