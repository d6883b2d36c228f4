package validate

import (
	"strings"

	"github.com/apiguard/apiguard/filters/httpsyntax"
)

// parseMediaType reads an RFC 9110 media type, type "/" subtype followed by
// parameters, lower-casing what is case-insensitive. It returns the
// type/subtype and the charset parameter; ok is false for anything
// malformed, or a parameter given twice (two readers would pick different
// ones). Package mime would do, but it pulls file access into the module,
// which Envoy does not provide.
func parseMediaType(s string) (mt, charset string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	i := 0
	for i < len(s) && httpsyntax.IsTokenChar(s[i]) {
		i++
	}
	typ := s[:i]
	if typ == "" || i >= len(s) || s[i] != '/' {
		return "", "", false
	}
	s = s[i+1:]
	i = 0
	for i < len(s) && httpsyntax.IsTokenChar(s[i]) {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	mt = strings.ToLower(typ + "/" + s[:i])
	s = s[i:]
	var seen []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return mt, charset, true
		}
		if s[0] != ';' {
			return "", "", false
		}
		s = strings.TrimLeft(s[1:], " \t")
		if s == "" {
			return mt, charset, true
		}
		i = 0
		for i < len(s) && httpsyntax.IsTokenChar(s[i]) {
			i++
		}
		name := strings.ToLower(s[:i])
		if name == "" || i >= len(s) || s[i] != '=' {
			return "", "", false
		}
		for _, n := range seen {
			if n == name {
				return "", "", false
			}
		}
		seen = append(seen, name)
		s = s[i+1:]
		var value string
		if value, s, ok = paramValue(s); !ok {
			return "", "", false
		}
		if name == "charset" {
			charset = value
		}
	}
}

// paramValue reads a token or a quoted-string.
func paramValue(s string) (value, rest string, ok bool) {
	if s != "" && s[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch c := s[i]; c {
			case '\\':
				if i+1 >= len(s) {
					return "", "", false
				}
				i++
				b.WriteByte(s[i])
			case '"':
				return b.String(), s[i+1:], true
			default:
				b.WriteByte(c)
			}
		}
		return "", "", false
	}
	i := 0
	for i < len(s) && httpsyntax.IsTokenChar(s[i]) {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	return s[:i], s[i:], true
}
