package route

import (
	"errors"
	"strings"

	"github.com/apiguard/apiguard/filters/verdict"
)

// maxAuthority bounds an authority: a 253-byte name (RFC 1035), a trailing
// dot and a port. An IPv6 literal is shorter.
const maxAuthority = 253 + 1 + 6

// Canonical host failures. Each is a fixed sentence: a problem body never
// echoes the request.
var (
	errNoAuthority = errors.New("missing :authority")
	errLong        = errors.New("host too long")
	errTwoHosts    = errors.New("more than one host (two Host headers are joined with a comma)")
	errUserinfo    = errors.New("userinfo in the authority")
	errNonASCII    = errors.New("non-ASCII host: internationalized names must be sent in punycode (xn--)")
	errHostChar    = errors.New("character not allowed in a host name")
	errLabel       = errors.New("empty or over-long label in the host name")
	errPort        = errors.New("invalid port")
	errIPv6        = errors.New("invalid IPv6 literal")
)

// CanonicalHost returns the host a request is routed by: the :authority
// lower-cased, without its trailing dot, and without the port when it is
// the default for scheme (443 for https, 80 for http). scheme is only
// consulted when the authority has a port; see HasPort.
//
// A malformed authority is refused with 400: userinfo, characters outside
// letters, digits, "-", "_" and "." (spaces, "%", non-ASCII: IDNs must
// arrive in punycode), empty or over-long labels, a port that is not 1 to
// 65535 written without leading zeros, or a comma, the trace Envoy leaves
// of two Host headers when it joins them into one :authority.
func CanonicalHost(authority, scheme string) (string, verdict.Decision) {
	host, port, lower, err := splitAuthority(authority)
	if err != nil {
		return "", verdict.Deny(verdict.BadRequest, err.Error())
	}
	if port == "443" && strings.EqualFold(scheme, "https") || port == "80" && strings.EqualFold(scheme, "http") {
		port = ""
	}
	switch {
	case lower:
		host = strings.ToLower(host)
	case port != "" && len(host)+1+len(port) == len(authority):
		return authority, verdict.Decision{} // nothing to change: no copy
	}
	if port == "" {
		return host, verdict.Decision{}
	}
	return host + ":" + port, verdict.Decision{}
}

// HasPort reports whether an authority carries a port, so a caller reads
// :scheme only when CanonicalHost needs it.
func HasPort(authority string) bool {
	i := strings.LastIndexByte(authority, ':')
	return i >= 0 && strings.IndexByte(authority[i:], ']') < 0
}

// ParseHostPattern reads one entry of routes[].match.hosts: an exact name
// ("api.example.com"), an IP literal, or a wildcard whose leading "*."
// stands for one or more labels ("*.example.com" matches a.example.com and
// a.b.example.com, as Envoy's domains do, but never example.com), each with
// an optional port. It returns the pattern's canonical form: lower case,
// without a trailing dot.
func ParseHostPattern(p string) (string, error) {
	rest, wild := strings.CutPrefix(p, "*.")
	switch {
	case p == "*":
		return "", errors.New(`"*" is not a pattern: omit hosts to match any host`)
	case strings.Contains(rest, "*"):
		return "", errors.New(`only a whole leading label may be a wildcard ("*.example.com")`)
	}
	host, port, _, err := splitAuthority(rest)
	switch {
	case err == errNonASCII:
		return "", errors.New("write an internationalized name in punycode (xn--...)")
	case err != nil:
		return "", err
	case port == "80" || port == "443":
		return "", errors.New("ports 80 and 443 are removed from requests of their scheme: write the host without it")
	case wild && (host[0] == '[' || isIPv4(host)):
		return "", errors.New("a wildcard needs a domain name, not an IP address")
	}
	canon := strings.ToLower(host)
	if wild {
		canon = "*." + canon
	}
	if port != "" {
		canon += ":" + port
	}
	return canon, nil
}

// splitAuthority checks an authority and splits it into host (trailing
// dot removed) and port; lower says the host has upper-case letters. A
// name is checked in one pass: in wasm every extra scan or call costs more
// than the loop itself.
func splitAuthority(a string) (host, port string, lower bool, err error) {
	switch {
	case a == "":
		return "", "", false, errNoAuthority
	case len(a) > maxAuthority:
		return "", "", false, errLong
	case a[0] == '[':
		return splitIPv6(a)
	}
	end, label := len(a), 0
loop:
	for i := 0; i < len(a); i++ {
		switch c := a[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			if label == 0 {
				return "", "", false, badShape(a[i:], errLabel)
			}
			label = 0
			continue
		case 'A' <= c && c <= 'Z':
			lower = true
		case c == ':':
			end = i
			break loop
		default:
			return "", "", false, badChar(a[i:])
		}
		if label++; label > 63 {
			return "", "", false, errLabel
		}
	}
	host = a[:end]
	if label == 0 {
		// Empty, or ending in the one trailing dot a name may have.
		if host = strings.TrimSuffix(host, "."); host == "" {
			return "", "", false, errLabel
		}
	}
	if end < len(a) {
		if port = a[end+1:]; !validPort(port) {
			return "", "", false, badChar(port)
		}
	}
	return host, port, lower, nil
}

// badChar names what makes an authority malformed, from its first bad byte
// on. Only a refused request pays for the extra scans.
func badChar(rest string) error {
	switch {
	case strings.IndexByte(rest, ',') >= 0:
		return errTwoHosts
	case strings.IndexByte(rest, '@') >= 0:
		return errUserinfo
	case rest != "" && rest[0] >= 0x80:
		return errNonASCII
	case rest == "" || rest[0] >= '0' && rest[0] <= '9' || rest[0] == ':' || rest[0] == '+' || rest[0] == '-':
		return errPort
	}
	return errHostChar
}

// badShape is fallback unless a comma or userinfo further on explains the
// malformed part ("a.,b", ".@b", "[::1,b").
func badShape(rest string, fallback error) error {
	if err := badChar(rest); err == errTwoHosts || err == errUserinfo {
		return err
	}
	return fallback
}

// splitIPv6 is splitAuthority for "[v6]" or "[v6]:port".
func splitIPv6(a string) (host, port string, lower bool, err error) {
	end := strings.IndexByte(a, ']')
	if end < 0 {
		return "", "", false, badShape(a, errIPv6)
	}
	host, port = a[:end+1], a[end+1:]
	if err := checkIPv6(host[1:end]); err != nil {
		return "", "", false, err
	}
	if port != "" {
		if port[0] != ':' || !validPort(port[1:]) {
			return "", "", false, badChar(port)
		}
		port = port[1:]
	}
	return host, port, strings.ContainsAny(host, "ABCDEF"), nil
}

// checkIPv6 checks the characters of an IPv6 literal (RFC 3986 3.2.2,
// without zone identifiers or IPvFuture): hex digits, ":" and a dotted
// IPv4 tail.
func checkIPv6(s string) error {
	if !strings.Contains(s, ":") {
		return errIPv6
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F', c == ':', c == '.':
		default:
			return errIPv6
		}
	}
	return nil
}

// validPort: 1 to 65535, no sign, no leading zero (":0443" would otherwise
// be a second spelling of a port).
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

func isIPv4(h string) bool {
	for i := 0; i < len(h); i++ {
		if (h[i] < '0' || h[i] > '9') && h[i] != '.' {
			return false
		}
	}
	return true
}
