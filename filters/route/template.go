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
func parseTemplate(p string, strs *slab.Slab[string]) ([]string, []string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, nil, fmt.Errorf("%q must start with /", p)
	}
	if !utf8.ValidString(p) {
		return nil, nil, fmt.Errorf("not valid UTF-8")
	}
	segs := strs.Make(strings.Count(p, "/"))
	for i, rest := 0, p[1:]; i < len(segs); i++ {
		segs[i], rest, _ = strings.Cut(rest, "/")
	}
	var buf [MaxParams]string
	names := buf[:0]
	for i, s := range segs {
		last := i == len(segs)-1
		switch {
		case s == "**":
			if !last {
				return nil, nil, fmt.Errorf("%q: /** may only end a path", p)
			}
		case strings.HasPrefix(s, "{") || strings.HasSuffix(s, "}"):
			name, ok := strings.CutPrefix(s, "{")
			name, ok2 := strings.CutSuffix(name, "}")
			if !ok || !ok2 || !isIdent(name) {
				return nil, nil, fmt.Errorf("%q: parameter %q must be a whole segment {name} with name [A-Za-z_][A-Za-z0-9_]*", p, s)
			}
			if slices.Contains(names, name) {
				return nil, nil, fmt.Errorf("%q: parameter {%s} appears twice", p, name)
			}
			names = append(names, name)
		case s == "" && !last:
			return nil, nil, fmt.Errorf("%q: empty segment (//)", p)
		case s == "." || s == "..":
			return nil, nil, fmt.Errorf("%q: dot segments never match a normalized path", p)
		default:
			for _, c := range []byte(s) {
				if notInTemplate[c] {
					return nil, nil, fmt.Errorf("%q: character %q is not allowed in a route path", p, c)
				}
			}
		}
	}
	if len(segs) > MaxSegments {
		return nil, nil, fmt.Errorf("%q: more than %d segments", p, MaxSegments)
	}
	if len(names) > MaxParams {
		return nil, nil, fmt.Errorf("%q: more than %d parameters", p, MaxParams)
	}
	return segs, strs.Clone(names), nil
}

// notInTemplate are the bytes a literal segment of a route path must not
// hold: controls, and what a normalized path never holds raw or what marks
// a parameter or a glob. A table: in wasm, strings.IndexByte is a call.
var notInTemplate = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t[0x7f] = true
	for _, c := range []byte("?#%\\;{}*") {
		t[c] = true
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
		case strings.ToUpper(m) != m:
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
