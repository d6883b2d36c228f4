package authz

import (
	"errors"
	"strings"

	"github.com/tidwall/gjson"
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

// lookup walks the claims object member by member, comparing names
// byte for byte (case-sensitively). The verified payload has no duplicate
// or case-variant member names (filters/jwt refuses them), so the first
// match is the only one.
func (p pointer) lookup(claims gjson.Result, ev *evaluation) (gjson.Result, bool) {
	v := claims
	for _, name := range p {
		if !v.IsObject() {
			return gjson.Result{}, false
		}
		var next gjson.Result
		found, n := false, 0
		v.ForEach(func(k, val gjson.Result) bool {
			if n++; n > maxScanned {
				ev.indeterminate = true
				return false
			}
			if k.Str == name {
				next, found = val, true
				return false
			}
			return true
		})
		if !found {
			return gjson.Result{}, false
		}
		v = next
	}
	return v, true
}

// eachString calls f on every string a claim value holds: itself, or each
// string element of an array; with words, each space-separated word of
// those strings (the OAuth scope syntax, RFC 6749 section 3.3). Other
// values and elements are ignored. f returns false to stop.
func eachString(v gjson.Result, words bool, ev *evaluation, f func(string) bool) {
	budget := maxScanned
	take := func() bool {
		if budget == 0 {
			ev.indeterminate = true
			return false
		}
		budget--
		return true
	}
	visit := func(s string) bool {
		if !words {
			return f(s)
		}
		for s != "" {
			w := s
			if i := strings.IndexByte(s, ' '); i >= 0 {
				w, s = s[:i], s[i+1:]
			} else {
				s = ""
			}
			if w != "" && (!take() || !f(w)) {
				return false
			}
		}
		return true
	}
	switch {
	case v.Type == gjson.String:
		if words || take() {
			visit(v.Str)
		}
	case v.IsArray():
		v.ForEach(func(_, el gjson.Result) bool {
			if !take() {
				return false
			}
			return el.Type != gjson.String || visit(el.Str)
		})
	}
}
