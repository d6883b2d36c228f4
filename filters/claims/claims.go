// Package claims reads a verified token's claims the one way every stage
// does: claim paths are JSON pointers (RFC 6901) whose tokens are literal
// member names, values are walked without decoding what is skipped, and the
// work one request may cause is bounded.
package claims

import (
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/jwt"
)

// Pointer is a claim path: a JSON pointer (RFC 6901) into the verified
// claims, "/realm_access/roles" for the member roles of the member
// realm_access. Its tokens are literal member names: "/a.b" is the claim
// named "a.b", never a → b, and no character is special but "/" and the
// "~0" / "~1" escapes. Only objects are walked: a token never indexes an
// array.
type Pointer []string

// maxPointerTokens bounds a claim path's depth.
const maxPointerTokens = 16

// MaxScanned bounds the members of one object and the elements of one
// array (or the words of one space-delimited string) a request looks at. A
// token with more cannot be judged in bounded time: the reader is told
// (overflow), and a stage that decides on it treats that as indeterminate.
const MaxScanned = 1024

var errNotPointer = errors.New(`claim paths are JSON pointers (RFC 6901): write "/a/b" for the member b of the claim a, "/a.b" for the claim named "a.b"`)

// Parse reads a claim path.
func Parse(s string) (Pointer, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, errNotPointer
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("claims are UTF-8: a claim path that is not could never match")
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

// Lookup finds the claim p names in the verified token: its first member
// from the token's index of top-level claims, the rest by walking objects,
// comparing names byte for byte (case-sensitively). The verified payload has
// no duplicate or case-variant member names (filters/jwt refuses them), so
// the first match is the only one.
// overflow reports an object with more than MaxScanned members on the way.
func (p Pointer) Lookup(tok *jwt.Token) (v gjson.Result, found, overflow bool) {
	v, found = tok.Claim(p[0])
	if !found || len(p) == 1 {
		return v, found, false
	}
	raw := v.Raw
	for _, name := range p[1:] {
		if raw, found, overflow = member(raw, name); !found {
			return gjson.Result{}, false, overflow
		}
	}
	return gjson.Parse(raw), true, false
}

// member returns the raw value of the member name of the JSON object raw,
// skipping the other values without decoding them (gjson's ForEach parses
// every value, numbers to floats). raw is the verified payload or part of
// it, so valid JSON; anything else finds nothing, and never reads out of
// bounds.
func member(raw, name string) (value string, found, overflow bool) {
	it := Members(raw)
	for n := 0; ; n++ {
		key, escaped, value, ok := it.Next()
		if !ok {
			return "", false, false
		}
		if n == MaxScanned {
			return "", false, true
		}
		if keyIs(key, escaped, name) {
			return value, true, false
		}
	}
}

// Scanner yields the members of a raw JSON object or the elements of an
// array. An iterator rather than callbacks: in wasm every indirect call is
// costly, and this runs for every claim a request reads.
type Scanner struct {
	raw  string
	open byte
	i    int
	// started: the opening bracket was read; done: nothing more to yield.
	started, done bool
}

// Members scans the members of the raw JSON object raw.
func Members(raw string) Scanner { return Scanner{raw: raw, open: '{'} }

// Elements scans the elements of the raw JSON array raw.
func Elements(raw string) Scanner { return Scanner{raw: raw, open: '['} }

// Next returns the next member (its name as written, quoted, and whether
// that holds an escape) or element (key ""), and its raw value.
func (sc *Scanner) Next() (key string, escaped bool, value string, ok bool) {
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

// Strings yields every string a claim value holds: itself, or each
// string element of an array; with words, each space-separated word of
// those strings (the OAuth scope syntax, RFC 6749 section 3.3). Other values
// and elements are ignored. At most MaxScanned elements and words are
// looked at: past that it stops and sets Overflow.
type Strings struct {
	// one is a string value not yet yielded (or split).
	one     string
	hasOne  bool
	arr     Scanner
	isArray bool
	words   bool
	// rest are the words of the current string still to yield.
	rest   string
	budget int
	// Overflow: the value held more than MaxScanned strings or words.
	Overflow bool
}

// NewStrings yields the strings of v, and with words their words.
func NewStrings(v gjson.Result, words bool) Strings {
	it := Strings{words: words, budget: MaxScanned}
	switch {
	case v.Type == gjson.String:
		it.one, it.hasOne = v.Str, true
	case v.IsArray():
		it.arr, it.isArray = Elements(v.Raw), true
	}
	return it
}

func (it *Strings) take() bool {
	if it.budget == 0 {
		it.Overflow = true
		return false
	}
	it.budget--
	return true
}

// Next returns the next string or word.
func (it *Strings) Next() (string, bool) {
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
			_, _, el, ok := it.arr.Next()
			if !ok || !it.take() {
				return "", false
			}
			if el[0] != '"' {
				continue
			}
			s = Unquote(el)
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

// Unquote returns the string a raw JSON string holds, without allocating
// unless it has an escape.
func Unquote(raw string) string {
	if end, escaped := skipString(raw, 0); !escaped && end == len(raw) {
		return raw[1 : len(raw)-1]
	}
	return gjson.Parse(raw).Str
}
