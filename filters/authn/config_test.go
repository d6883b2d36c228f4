package authn

import (
	"strings"
	"testing"
)

// TestProviderNames: a provider's name is 1 to 64 ASCII letters, digits, -
// or _, so that it is safe in metric names and logs.
func TestProviderNames(t *testing.T) {
	tests := []struct {
		name, provider string
		want           bool
	}{
		{name: "letters", provider: "idp", want: true},
		{name: "every allowed character", provider: "AZaz09-_", want: true},
		{name: "64 characters", provider: strings.Repeat("p", 64), want: true},
		{name: "empty", provider: ""},
		{name: "65 characters", provider: strings.Repeat("p", 65)},
		{name: "dot", provider: "idp.example"},
		{name: "space", provider: "my idp"},
		{name: "non-ASCII letter", provider: "ïdp"},
		{name: "trailing newline", provider: "idp\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isProviderName(tc.provider); got != tc.want {
				t.Errorf("isProviderName(%q) = %v, want %v", tc.provider, got, tc.want)
			}
		})
	}
}
