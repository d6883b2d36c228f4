package cors

import (
	"strconv"
	"strings"
)

// Origin is a parsed serialized origin (RFC 6454 section 6.2, as browsers
// send it in the Origin header): scheme, host and port, the port filled in
// when the scheme's default was omitted.
type Origin struct {
	Scheme string
	Host   string
	Port   int
}

// ParseOrigin parses an Origin header value as a browser serializes it:
// "http" or "https", "://", a lower-case ASCII host (LDH labels, punycode
// for internationalized names, or a bracketed IPv6 literal), and a port
// only when it is not the scheme's default. Anything a browser would not
// send (upper case, a trailing dot, non-ASCII, a path, userinfo, a default
// port written out, a list of origins) is not an origin: ok is false. The
// opaque origin "null" is not parsed here.
func ParseOrigin(s string) (o Origin, ok bool) {
	rest, found := strings.CutPrefix(s, "https://")
	o.Scheme, o.Port = "https", 443
	if !found {
		if rest, found = strings.CutPrefix(s, "http://"); !found {
			return Origin{}, false
		}
		o.Scheme, o.Port = "http", 80
	}
	host, port := rest, ""
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasSuffix(rest, "]") {
		host, port = rest[:i], rest[i+1:]
		n, valid := parsePort(port)
		if !valid || n == o.Port {
			return Origin{}, false
		}
		o.Port = n
	}
	if !validHost(host) {
		return Origin{}, false
	}
	o.Host = host
	return o, true
}

// parsePort reads 1 to 65535 without a sign or leading zeros.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n <= 65535
}

// validHost accepts a bracketed lower-case IPv6 literal or a domain of
// LDH labels (underscores too, which URL parsers let through) of 1 to 63
// characters, at most 253 in all, none empty.
func validHost(h string) bool {
	if strings.HasPrefix(h, "[") {
		if len(h) < 4 || h[len(h)-1] != ']' {
			return false
		}
		for i := 1; i < len(h)-1; i++ {
			if c := h[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			if label++; label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}

// String serializes o as a browser does.
func (o Origin) String() string {
	if o.Port == defaultPort(o.Scheme) {
		return o.Scheme + "://" + o.Host
	}
	return o.Scheme + "://" + o.Host + ":" + strconv.Itoa(o.Port)
}

func defaultPort(scheme string) int {
	if scheme == "https" {
		return 443
	}
	return 80
}

// pattern is one allowed origin of the configuration: exact, or a
// subdomain wildcard (https://*.example.com) when suffix is set.
type pattern struct {
	scheme string
	// host is the exact host; suffix, for a wildcard, is ".example.com".
	host, suffix string
	port         int
}

// parsePattern parses an allowed origin as configured: an origin, or one
// whose host starts with "*." followed by a domain of at least two labels.
func parsePattern(s string) (pattern, bool) {
	wild := strings.Replace(s, "://*.", "://", 1)
	o, ok := ParseOrigin(wild)
	if !ok {
		return pattern{}, false
	}
	p := pattern{scheme: o.Scheme, port: o.Port}
	if wild == s {
		p.host = o.Host
		return p, true
	}
	// A wildcard over a top-level domain or an IP literal is refused.
	if !strings.Contains(o.Host, ".") || strings.HasPrefix(o.Host, "[") {
		return pattern{}, false
	}
	p.suffix = "." + o.Host
	return p, true
}

// matches compares by scheme, port, and host exactly or, for a wildcard, by
// the parsed host's suffix on a label boundary: *.example.com matches
// a.example.com and a.b.example.com, never example.com or
// a.example.com.evil.com.
func (p pattern) matches(o Origin) bool {
	if o.Scheme != p.scheme || o.Port != p.port {
		return false
	}
	if p.suffix == "" {
		return o.Host == p.host
	}
	return len(o.Host) > len(p.suffix) && strings.HasSuffix(o.Host, p.suffix) && !strings.HasPrefix(o.Host, "[")
}
