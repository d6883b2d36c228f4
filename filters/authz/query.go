package authz

import (
	"strings"

	"github.com/apiguard/apiguard/filters/httpsyntax"
)

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
// compared percent-decoded, so "%5Fmethod" is "_method". "&" separates
// parameters (httpsyntax.QueryPairs); a query that an upstream splitting on
// ";" too reads otherwise ("org=a&x=1;org=b", "org=a;b") is ambiguous, so
// that no upstream acts on a value the decision did not see.
func queryParam(query, name string) (string, queryLookup) {
	value, found := lookupQuery(query, name)
	if split, ok := httpsyntax.SemicolonSplit(query); ok && found != queryAmbiguous {
		if v, f := lookupQuery(split, name); f != found || v != value {
			return "", queryAmbiguous
		}
	}
	return value, found
}

func lookupQuery(query, name string) (string, queryLookup) {
	var value string
	found := queryAbsent
	httpsyntax.EachQueryPair(query, func(k, raw string) bool {
		if k != name {
			if dk, ok := httpsyntax.Unescape(k, false); !ok || dk != name {
				return true
			}
		}
		if found != queryAbsent {
			found = queryAmbiguous
			return false
		}
		v, ok := httpsyntax.Unescape(raw, false)
		if !ok || strings.IndexByte(raw, '+') >= 0 || strings.IndexByte(v, '%') >= 0 {
			found = queryAmbiguous
			return false
		}
		value, found = v, queryOne
		return true
	})
	if found == queryAmbiguous {
		return "", found
	}
	return value, found
}
