package authz

import (
	"errors"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/jwt"
)

// pointer is a claim path: a JSON pointer (RFC 6901) into the verified
// claims, "/realm_access/roles" for the member roles of the member
// realm_access. Its tokens are literal member names: "/a.b" is the claim
// named "a.b", never a → b, and no character is special but "/" and the
// "~0" / "~1" escapes. Only objects are walked: a token never indexes an
// array.
type pointer []string

// maxPointerTokens bounds a claim path's depth.
const maxPointerTokens = 16

// maxScanned bounds the members of one object and the elements of one array
// (or the words of one space-delimited string) a request's evaluation looks
// at. A token with more cannot be judged in bounded time: its evaluation is
// indeterminate, which denies.
const maxScanned = 1024

var errNotPointer = errors.New(`claim paths are JSON pointers (RFC 6901): write "/a/b" for the member b of the claim a, "/a.b" for the claim named "a.b"`)

// parsePointer reads a claim path.
func parsePointer(s string) (pointer, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, errNotPointer
	}
	tokens := strings.Split(s[1:], "/")
	if len(tokens) > maxPointerTokens {
		return nil, errors.New("a claim path has at most 16 members")
	}
	for i, t := range tokens {
		if t == "" {
			return nil, errors.New("a claim path's members must not be empty (// or a trailing /)")
		}
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 == len(t) || t[j+1] != '0' && t[j+1] != '1') {
				return nil, errors.New(`"~" must be escaped as "~0" ("~1" is "/")`)
			}
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

// lookup finds the claim p names in the verified token: its first member
// from the token's index of top-level claims, the rest by walking objects,
// comparing names byte for byte (case-sensitively). The verified payload has
// no duplicate or case-variant member names (filters/jwt refuses them), so
// the first match is the only one.
func (p pointer) lookup(tok *jwt.Token, ev *evaluation) (gjson.Result, bool) {
	v, found := tok.Claim(p[0])
	if !found || len(p) == 1 {
		return v, found
	}
	raw := v.Raw
	for _, name := range p[1:] {
		if raw, found = member(raw, name, ev); !found {
			return gjson.Result{}, false
		}
	}
	return gjson.Parse(raw), true
}

// member returns the raw value of the member name of the JSON object raw,
// skipping the other values without decoding them (gjson's ForEach parses
// every value, numbers to floats). raw is the verified payload or part of
// it, so valid JSON; anything else finds nothing, and never reads out of
// bounds.
func member(raw, name string, ev *evaluation) (string, bool) {
	it := scanner{raw: raw, open: '{'}
	for n := 0; ; n++ {
		key, escaped, value, ok := it.next()
		if !ok {
			return "", false
		}
		if n == maxScanned {
			ev.indeterminate = true
			return "", false
		}
		if keyIs(key, escaped, name) {
			return value, true
		}
	}
}

// scanner yields the members of a raw JSON object (open '{') or the
// elements of an array ('['). An iterator rather than callbacks: in wasm
// every indirect call is costly, and this runs for every claim a request
// reads.
type scanner struct {
	raw  string
	open byte
	i    int
	// started: the opening bracket was read; done: nothing more to yield.
	started, done bool
}

// next returns the next member (its name as written, quoted, and whether
// that holds an escape) or element (key ""), and its raw value.
func (sc *scanner) next() (key string, escaped bool, value string, ok bool) {
	raw := sc.raw
	if sc.done {
		return "", false, "", false
	}
	i := sc.i
	if !sc.started {
		sc.started = true
		i = skipSpace(raw, 0)
		if i >= len(raw) || raw[i] != sc.open {
			sc.done = true
			return "", false, "", false
		}
		i = skipSpace(raw, i+1)
	} else {
		if i = skipSpace(raw, i); i >= len(raw) || raw[i] != ',' {
			sc.done = true
			return "", false, "", false
		}
		i = skipSpace(raw, i+1)
	}
	if sc.open == '{' {
		if i >= len(raw) || raw[i] != '"' {
			sc.done = true
			return "", false, "", false
		}
		var keyEnd int
		keyEnd, escaped = skipString(raw, i)
		key = raw[i:keyEnd]
		if i = skipSpace(raw, keyEnd); i >= len(raw) || raw[i] != ':' {
			sc.done = true
			return "", false, "", false
		}
		i = skipSpace(raw, i+1)
	}
	end := skipValue(raw, i)
	if end <= i || raw[i] == ']' || raw[i] == '}' {
		sc.done = true
		return "", false, "", false
	}
	sc.i = end
	return key, escaped, raw[i:end], true
}

func keyIs(key string, escaped bool, name string) bool {
	return len(key) == len(name)+2 && key[1:len(key)-1] == name || escaped && gjson.Parse(key).Str == name
}

func skipSpace(raw string, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the end of the string starting at raw[i] (a quote),
// and whether it holds an escape. A byte loop: claim strings are short, and
// for them a call to strings.IndexByte costs more than the scan.
func skipString(raw string, i int) (int, bool) {
	escaped := false
	for i++; i < len(raw); i++ {
		switch raw[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			return i + 1, escaped
		}
	}
	return len(raw), true
}

// skipValue returns the end of the value starting at raw[i].
func skipValue(raw string, i int) int {
	if i >= len(raw) {
		return i
	}
	switch raw[i] {
	case '"':
		end, _ := skipString(raw, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(raw) {
			switch raw[i] {
			case '"':
				i, _ = skipString(raw, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(raw) && raw[i] != ',' && raw[i] != '}' && raw[i] != ']' && raw[i] != ' ' && raw[i] != '\t' && raw[i] != '\n' && raw[i] != '\r' {
		i++
	}
	return i
}

// claimStrings yields every string a claim value holds: itself, or each
// string element of an array; with words, each space-separated word of
// those strings (the OAuth scope syntax, RFC 6749 section 3.3). Other values
// and elements are ignored. At most maxScanned elements and words are
// looked at: past that it stops and sets overflow, which makes the
// evaluation indeterminate.
type claimStrings struct {
	// one is a string value not yet yielded (or split).
	one     string
	hasOne  bool
	arr     scanner
	isArray bool
	words   bool
	// rest are the words of the current string still to yield.
	rest     string
	budget   int
	overflow bool
}

func newClaimStrings(v gjson.Result, words bool) claimStrings {
	it := claimStrings{words: words, budget: maxScanned}
	switch {
	case v.Type == gjson.String:
		it.one, it.hasOne = v.Str, true
	case v.IsArray():
		it.arr, it.isArray = scanner{raw: v.Raw, open: '['}, true
	}
	return it
}

func (it *claimStrings) take() bool {
	if it.budget == 0 {
		it.overflow = true
		return false
	}
	it.budget--
	return true
}

func (it *claimStrings) next() (string, bool) {
	for {
		for it.words && it.rest != "" {
			w := it.rest
			if i := strings.IndexByte(w, ' '); i >= 0 {
				w, it.rest = w[:i], w[i+1:]
			} else {
				it.rest = ""
			}
			if w != "" {
				return w, it.take()
			}
		}
		var s string
		switch {
		case it.hasOne:
			s, it.hasOne = it.one, false
		case it.isArray:
			_, _, el, ok := it.arr.next()
			if !ok || !it.take() {
				return "", false
			}
			if el[0] != '"' {
				continue
			}
			s = unquote(el)
		default:
			return "", false
		}
		if !it.words {
			if !it.isArray && !it.take() {
				return "", false
			}
			return s, true
		}
		it.rest = s
	}
}

// unquote returns the string a raw JSON string holds, without allocating
// unless it has an escape.
func unquote(raw string) string {
	if end, escaped := skipString(raw, 0); !escaped && end == len(raw) {
		return raw[1 : len(raw)-1]
	}
	return gjson.Parse(raw).Str
}
