// Package httpsyntax holds the lexical rules of HTTP that several stages
// check the same way: tokens (RFC 9110 section 5.6.2), percent-escapes
// (RFC 3986 section 2.1) and the pairs of a query string. One definition,
// so that the router, validation and authorization can never read one
// request differently.
package httpsyntax

import (
	"iter"
	"strings"
)

// IsTokenChar reports a tchar: a visible ASCII character other than a
// delimiter.
func IsTokenChar(c byte) bool { return tchar[c] }

// tchar is IsTokenChar's table. In wasm, the strings.IndexByte over the
// delimiters it replaces was a chain of calls costing hundreds of
// instructions per character.
var tchar = func() (t [256]bool) {
	for c := byte('!'); c < 0x7f; c++ {
		t[c] = strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) < 0
	}
	return t
}()

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

// TrimOWS drops the optional whitespace (spaces and tabs, RFC 9110 section
// 5.6.3) around s. strings.Trim with a cutset of two builds a byte set on
// every call, which a request's header values pay for in wasm.
func TrimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
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

// QueryPairs yields the raw pairs of a query, empty ones included, as
// sent: "&" separates them and ";" is data. That is how Envoy reads a query
// (Http::Utility::QueryParamsMulti), and so do the WHATWG URL standard
// (URLSearchParams) and Python since 3.9.2; Go since 1.17 drops a pair
// holding a ";". Every stage reads a query with this rule, so that a
// parameter the plugin checks is the one Envoy and the upstream read.
func QueryPairs(query string) iter.Seq[string] { return strings.SplitSeq(query, "&") }

// EachQueryPair calls each with the raw name and value of every non-empty
// pair of a query (QueryPairs), in order, until it returns false.
func EachQueryPair(query string, each func(name, value string) bool) {
	for pair := range QueryPairs(query) {
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if !each(name, value) {
			return
		}
	}
}

// SemicolonSplit is query as an upstream that splits pairs on ";" as well
// as "&" reads it (Rack 2's Request#GET, Perl's CGI.pm, Go before 1.17,
// Python before 3.9.2), for EachQueryPair to read; ok is false when query
// has no ";", and both read it alike. A stage that takes one parameter's
// value (a token, a value bound to a claim) refuses a query the two read
// differently: such an upstream would act on one the plugin never saw.
func SemicolonSplit(query string) (split string, ok bool) {
	if strings.IndexByte(query, ';') < 0 {
		return query, false
	}
	return strings.ReplaceAll(query, ";", "&"), true
}
