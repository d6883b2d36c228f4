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
// every value, numbers to floats). raw is the verified payload or part of it, so valid JSON;
// anything else finds nothing, and never reads out of bounds.
func member(raw, name string, ev *evaluation) (string, bool) {
	var value string
	found, n := false, 0
	eachMember(raw, func(key string, escaped bool, v string) bool {
		if n++; n > maxScanned {
			ev.indeterminate = true
			return false
		}
		if keyIs(key, escaped, name) {
			value, found = v, true
			return false
		}
		return true
	})
	return value, found
}

// eachMember calls f with each member of the JSON object raw: its name as
// written (quoted), whether that holds an escape, and its raw value, until f
// returns false. It reports whether it saw every member.
func eachMember(raw string, f func(key string, escaped bool, value string) bool) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return true
	}
	if i = skipSpace(raw, i+1); i < len(raw) && raw[i] == '}' {
		return true
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return true
		}
		keyEnd, escaped := skipString(raw, i)
		key := raw[i:keyEnd]
		i = skipSpace(raw, keyEnd)
		if i >= len(raw) || raw[i] != ':' {
			return true
		}
		start := skipSpace(raw, i+1)
		end := skipValue(raw, start)
		if end <= start {
			return true
		}
		if !f(key, escaped, raw[start:end]) {
			return false
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ',' {
			return true
		}
		i = skipSpace(raw, i+1)
	}
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
		eachElement(v.Raw, func(el string) bool {
			if !take() {
				return false
			}
			return el[0] != '"' || visit(unquote(el))
		})
	}
}

// eachElement calls f with each raw element of the JSON array raw (valid
// JSON, as a verified payload is), until f returns false; like eachMember,
// it decodes nothing it skips.
func eachElement(raw string, f func(el string) bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return
	}
	if i = skipSpace(raw, i+1); i < len(raw) && raw[i] == ']' {
		return
	}
	for i < len(raw) {
		end := skipValue(raw, i)
		if end <= i || !f(raw[i:end]) {
			return
		}
		if i = skipSpace(raw, end); i >= len(raw) || raw[i] != ',' {
			return
		}
		i = skipSpace(raw, i+1)
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
