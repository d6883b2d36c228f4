package route

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/internal/slab"
)

// Params are the names of the parameters the spec's path template
// captures, nil when it has none or is invalid (Compile reports that).
func (s Spec) Params() []string {
	_, names, err := parseTemplate(s.Path, nil)
	if err != nil {
		return nil
	}
	return names
}

// parseTemplate splits a route path into segments and validates each; the
// lists it returns come from strs.
//
// It scans the path with loops of its own: in wasm, each call of a strings
// function (Count, Cut, ValidString) costs about a thousand instructions,
// and they were most of compiling a route.
func parseTemplate(p string, strs *slab.Slab[string]) ([]string, []string, error) {
	if len(p) == 0 || p[0] != '/' {
		return nil, nil, fmt.Errorf("%q must start with /", p)
	}
	// One pass counts the segments and the braces that may open a
	// parameter, and finds whether the path is all ASCII, which needs no
	// UTF-8 validation. The counts are sums of table entries, with no
	// branch per byte: in wasm a taken branch is a jump through the
	// function's block table.
	var n, braces, high int
	for i := 0; i < len(p); i++ {
		k := templateBytes[p[i]]
		n += int(k & 1)
		braces += int(k >> 1 & 1)
		high += int(k >> 2)
	}
	if high > 0 && !utf8.ValidString(p) {
		return nil, nil, fmt.Errorf("not valid UTF-8")
	}
	segs := strs.Make(n)
	// Each parameter opens with a brace, so the names fit.
	names := strs.Make(braces)[:0]
	// Splitting classes each segment's bytes as it goes: a segment longer
	// than two bytes with none that a literal refuses is a literal, known
	// without a second loop over it; the rest (parameters, globs, dots,
	// empty and refused segments, and short literals) are told apart by
	// checkSegment.
	var refused uint8
	for i, start, k := 1, 1, 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			refused |= literalRefuses[p[i]]
			continue
		}
		s := p[start:i]
		segs[k] = s
		k++
		if refused != 0 || len(s) <= 2 {
			var err error
			if names, err = checkSegment(p, s, k == len(segs), names); err != nil {
				return nil, nil, err
			}
		}
		start, refused = i+1, 0
	}
	if len(segs) > MaxSegments {
		return nil, nil, fmt.Errorf("%q: more than %d segments", p, MaxSegments)
	}
	if len(names) > MaxParams {
		return nil, nil, fmt.Errorf("%q: more than %d parameters", p, MaxParams)
	}
	if len(names) == 0 {
		names = nil
	}
	return segs, names, nil
}

// checkSegment checks segment s of path p, the last one if last, and
// returns names with the parameter it names, if it is one.
func checkSegment(p, s string, last bool, names []string) ([]string, error) {
	switch {
	case s == "**":
		if !last {
			return nil, fmt.Errorf("%q: /** may only end a path", p)
		}
	case strings.HasPrefix(s, "{") || strings.HasSuffix(s, "}"):
		name, ok := strings.CutPrefix(s, "{")
		name, ok2 := strings.CutSuffix(name, "}")
		if !ok || !ok2 || !isIdent(name) {
			return nil, fmt.Errorf("%q: parameter %q must be a whole segment {name} with name [A-Za-z_][A-Za-z0-9_]*", p, s)
		}
		if slices.Contains(names, name) {
			return nil, fmt.Errorf("%q: parameter {%s} appears twice", p, name)
		}
		names = append(names, name)
	case s == "" && !last:
		return nil, fmt.Errorf("%q: empty segment (//)", p)
	case s == "." || s == "..":
		return nil, fmt.Errorf("%q: dot segments never match a normalized path", p)
	default:
		for i := 0; i < len(s); i++ {
			if literalRefuses[s[i]] != 0 {
				return nil, fmt.Errorf("%q: character %q is not allowed in a route path", p, s[i])
			}
		}
	}
	return names, nil
}

// templateBytes classes a path's bytes for parseTemplate's counts: 1 a
// slash, 2 an opening brace, 4 a byte of a multi-byte character.
var templateBytes = func() (t [256]uint8) {
	t['/'], t['{'] = 1, 2
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = 4
	}
	return t
}()

// literalRefuses is 1 for the bytes a literal segment of a route path must
// not hold: controls, and what a normalized path never holds raw or what
// marks a parameter or a glob. A table: in wasm, strings.IndexByte is a
// call. Bytes, so that a segment's are ORed without a branch.
var literalRefuses = func() (t [256]uint8) {
	for c := range 0x20 {
		t[c] = 1
	}
	t[0x7f] = 1
	for _, c := range []byte("?#%\\;{}*") {
		t[c] = 1
	}
	return t
}()

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return true
}

func checkMethods(field matchPath, methods []string, strs *slab.Slab[string]) ([]string, []config.Error) {
	if len(methods) == 0 {
		return nil, nil
	}
	var errs []config.Error
	for j, m := range methods {
		var problem string
		switch {
		case !httpsyntax.IsToken(m):
			problem = "%q is not an HTTP method"
		case hasLower(m):
			problem = "%q must be upper-case (methods are case-sensitive)"
		case slices.Contains(methods[:j], m):
			problem = "%q is listed twice"
		default:
			continue
		}
		errs = append(errs, config.Errorf(field.at(".methods["+strconv.Itoa(j)+"]"), problem, m))
	}
	return strs.Clone(methods), errs
}

// hasLower reports an ASCII lower-case letter: a token that strings.ToUpper
// would change. A loop, not that call, which in wasm costs more than the
// rest of checking a method.
func hasLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			return true
		}
	}
	return false
}
