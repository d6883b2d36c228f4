// Package httpsyntax holds the lexical rules of HTTP that several stages
// check the same way: tokens (RFC 9110 section 5.6.2), percent-escapes
// (RFC 3986 section 2.1) and the pairs of a query string. One definition,
// so that the router, validation and authorization can never read one
// request differently.
package httpsyntax

import "strings"

// IsTokenChar reports a tchar: a visible ASCII character other than a
// delimiter.
func IsTokenChar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) < 0
}

// IsToken reports a non-empty string of tchars: a method, a header name, a
// content coding.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsTokenChar(s[i]) {
			return false
		}
	}
	return true
}

// Unhex is the value of a hexadecimal digit, either case.
func Unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Unescape decodes s's percent-escapes once, and with plusIsSpace a "+" as
// a space (as HTML forms encode a query); ok is false on an invalid escape.
// It allocates only when s has something to decode.
func Unescape(s string, plusIsSpace bool) (string, bool) {
	special := "%"
	if plusIsSpace {
		special = "%+"
	}
	i := strings.IndexAny(s, special)
	if i < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+' && plusIsSpace:
			b = append(b, ' ')
		case c != '%':
			b = append(b, c)
		case i+2 >= len(s):
			return "", false
		default:
			hi, ok1 := Unhex(s[i+1])
			lo, ok2 := Unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			b = append(b, hi<<4|lo)
			i += 2
		}
	}
	return string(b), true
}

// EachQueryPair calls each with the raw name and value of every non-empty
// pair of a query, in order, until it returns false. Both "&" and ";"
// separate pairs: frameworks split on either, and a parameter hidden behind
// a ";" must still be seen.
func EachQueryPair(query string, each func(name, value string) bool) {
	for query != "" {
		pair := query
		if i := strings.IndexAny(query, "&;"); i >= 0 {
			pair, query = query[:i], query[i+1:]
		} else {
			query = ""
		}
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if !each(name, value) {
			return
		}
	}
}
