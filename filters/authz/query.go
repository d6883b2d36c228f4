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
// compared percent-decoded, so "%5Fmethod" is "_method". Both "&" and ";"
// separate parameters: some frameworks split on either, and a parameter
// hidden behind one of them must still count as a repetition.
func queryParam(query, name string) (string, queryLookup) {
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
