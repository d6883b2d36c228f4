package schema

import "testing"

// TestURIFormat: format "uri" is RFC 3986's URI (section 3, collected in
// appendix A): a scheme and what may follow it, nothing else.
func TestURIFormat(t *testing.T) {
	tests := []struct {
		name, uri string
		want      bool
	}{
		{name: "https with a path", uri: "https://example.com/x", want: true},
		{name: "every part", uri: "http://user:pa%20ss@example.com:8080/a/b;c=d?q=1&r=/x?y#frag/?", want: true},
		{name: "empty port", uri: "http://example.com:/", want: true},
		{name: "IPv4 host", uri: "http://192.0.2.1/", want: true},
		{name: "IPv6 host and port", uri: "http://[2001:db8::1]:443/", want: true},
		{name: "IPv4-mapped IPv6", uri: "http://[::ffff:192.0.2.1]/", want: true},
		{name: "IPvFuture", uri: "http://[v1a.x:y]/", want: true},
		{name: "empty authority", uri: "file:///etc/hosts", want: true},
		{name: "rootless path with an @", uri: "mailto:orders@example.com", want: true},
		{name: "URN", uri: "urn:isbn:0451450523", want: true},
		{name: "scheme alone", uri: "about:", want: true},
		{name: "scheme with + - .", uri: "git+ssh.v-2://host/repo", want: true},
		{name: "sub-delims and unreserved", uri: "x:!$&'()*+,;=-._~:@", want: true},

		{name: "relative reference", uri: "/relative"},
		{name: "no scheme", uri: "example.com/x"},
		{name: "empty", uri: ""},
		{name: "scheme starting with a digit", uri: "1http://example.com"},
		{name: "empty scheme", uri: "://example.com"},
		{name: "space", uri: "http://example.com/a b"},
		{name: "tab in the host", uri: "http://exa\tmple.com/"},
		{name: "non-ASCII", uri: "http://example.com/café"},
		{name: "pipe", uri: "http://example.com/a|b"},
		{name: "bad escape", uri: "http://example.com/%zz"},
		{name: "truncated escape", uri: "http://example.com/%4"},
		{name: "non-digit port", uri: "http://example.com:http/"},
		{name: "two @", uri: "http://a@b@example.com/"},
		{name: "bracket in the path", uri: "http://example.com/[x]"},
		{name: "IPv6 without brackets", uri: "http://2001:db8::1/"},
		{name: "IPv4 in brackets", uri: "http://[192.0.2.1]/"},
		{name: "IPv6 with a zone", uri: "http://[fe80::1%25eth0]/"},
		{name: "unclosed bracket", uri: "http://[2001:db8::1/"},
		{name: "text after the bracket", uri: "http://[2001:db8::1]x/"},
		{name: "empty IPvFuture version", uri: "http://[v.x]/"},
		{name: "percent in IPvFuture", uri: "http://[v1.%41]/"},
		{name: "# in the fragment", uri: "http://example.com/#a#b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatValid("uri", tc.uri); got != tc.want {
				t.Errorf("FormatValid(uri, %q) = %v, want %v", tc.uri, got, tc.want)
			}
		})
	}
}
