package authz

import "strings"

// queryLookup is what a request's query says of one parameter.
type queryLookup uint8

const (
	queryAbsent queryLookup = iota
	queryOne
	// queryAmbiguous: repeated, or a value two upstreams could read
	// differently (an invalid escape, a "+" that form decoding turns into
	// a space, an escape that decodes to "%").
	queryAmbiguous
)

// queryParam finds the one value of the parameter named name. Names are
// compared percent-decoded, so "%5Fmethod" is "_method". Both "&" and ";"
// separate parameters: some frameworks split on either, and a parameter
// hidden behind one of them must still count as a repetition.
func queryParam(query, name string) (string, queryLookup) {
	var value string
	found := queryAbsent
	for query != "" {
		pair := query
		if i := strings.IndexAny(query, "&;"); i >= 0 {
			pair, query = query[:i], query[i+1:]
		} else {
			query = ""
		}
		k, raw, _ := strings.Cut(pair, "=")
		if k != name {
			if dk, ok := unescape(k); !ok || dk != name {
				continue
			}
		}
		if found != queryAbsent {
			return "", queryAmbiguous
		}
		v, ok := unescape(raw)
		if !ok || strings.IndexByte(raw, '+') >= 0 || strings.IndexByte(v, '%') >= 0 {
			return "", queryAmbiguous
		}
		value, found = v, queryOne
	}
	return value, found
}

// unescape decodes percent-escapes once; ok is false on an invalid one.
// It allocates only when s holds an escape.
func unescape(s string) (string, bool) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
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
