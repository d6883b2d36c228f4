package schema

import (
	"net/netip"
	"strings"

	"github.com/apiguard/apiguard/filters/httpsyntax"
)

// isURI reports whether s is a URI as RFC 3986 section 3 writes one: a
// scheme, ":", a hierarchical part (an authority after "//", or a path),
// then an optional query and fragment; every character allowed where it
// stands, every "%" followed by two hex digits, ASCII only. A relative
// reference ("/orders") is not a URI. Checked by hand rather than with
// net/url, whose parser accepts what RFC 3986 does not ("a b", "|") and
// added 44 KB to plugin.wasm for this one check.
func isURI(s string) bool {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !isScheme(scheme) {
		return false
	}
	rest, fragment, hasFragment := strings.Cut(rest, "#")
	if hasFragment && !uriChars(fragment, isPchar, "/?") {
		return false
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery && !uriChars(query, isPchar, "/?") {
		return false
	}
	if hier, ok := strings.CutPrefix(rest, "//"); ok {
		authority, path := hier, ""
		if i := strings.IndexByte(hier, '/'); i >= 0 {
			authority, path = hier[:i], hier[i:]
		}
		return isAuthority(authority) && uriChars(path, isPchar, "/")
	}
	// path-absolute, path-rootless or path-empty: "//" went to the authority.
	return uriChars(rest, isPchar, "/")
}

// isScheme is ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
func isScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isAuthority is [ userinfo "@" ] host [ ":" port ], host a bracketed IPv6
// address or IPvFuture, or a reg-name (which an IPv4 address is, as text).
func isAuthority(a string) bool {
	if userinfo, host, ok := strings.Cut(a, "@"); ok {
		if !uriChars(userinfo, isUserinfoChar, "") {
			return false
		}
		a = host
	}
	var port string
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 || !isIPLiteral(a[1:end]) {
			return false
		}
		rest := a[end+1:]
		if rest != "" && rest[0] != ':' {
			return false
		}
		port = strings.TrimPrefix(rest, ":")
	} else {
		var host string
		host, port, _ = strings.Cut(a, ":")
		if !uriChars(host, isRegNameChar, "") {
			return false
		}
	}
	for i := 0; i < len(port); i++ {
		if !isDigit(port[i]) {
			return false
		}
	}
	return true
}

// isIPLiteral is what RFC 3986 allows between brackets: an IPv6 address
// without a zone, or IPvFuture ("v" 1*HEXDIG "." 1*( unreserved /
// sub-delims / ":" )).
func isIPLiteral(s string) bool {
	if rest, ok := strings.CutPrefix(s, "v"); ok {
		version, text, ok := strings.Cut(rest, ".")
		if !ok || version == "" || text == "" || !uriChars(text, isUserinfoChar, "") || strings.Contains(text, "%") {
			return false
		}
		for i := 0; i < len(version); i++ {
			if _, ok := httpsyntax.Unhex(version[i]); !ok {
				return false
			}
		}
		return true
	}
	addr, err := netip.ParseAddr(s)
	return err == nil && addr.Is6() && addr.Zone() == ""
}

// uriChars reports whether every byte of s is allowed by ok, is in extra,
// or starts a percent-escape ("%" HEXDIG HEXDIG).
func uriChars(s string, ok func(byte) bool, extra string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			if i+2 >= len(s) {
				return false
			}
			if _, ok1 := httpsyntax.Unhex(s[i+1]); !ok1 {
				return false
			}
			if _, ok2 := httpsyntax.Unhex(s[i+2]); !ok2 {
				return false
			}
			i += 2
		case ok(c) || strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isRegNameChar is unreserved / sub-delims.
func isRegNameChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("-._~!$&'()*+,;=", c) >= 0
}

// isUserinfoChar adds ":".
func isUserinfoChar(c byte) bool { return isRegNameChar(c) || c == ':' }

// isPchar adds "@": what a path segment, a query and a fragment hold
// (with "/" and "?" where they may).
func isPchar(c byte) bool { return isUserinfoChar(c) || c == '@' }

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
