package route

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apiguard/apiguard/filters/verdict"
)

// Spec is one route's match clause as configured.
type Spec struct {
	Name string
	// Path is an exact path ("/healthz"), a template whose {param} segments
	// each match one non-empty segment ("/tenants/{tenant}/orders"), or a glob
	// whose final "/**" matches the prefix itself and everything below it
	// ("/static/**"; "/**" alone matches every path). Segments are compared
	// with the decoded, normalized request path.
	Path string
	// Methods are upper-case HTTP methods; empty means any. HEAD is allowed
	// wherever GET is.
	Methods []string
}

// MaxParams bounds the {param} segments of one route.
const MaxParams = 16

// Table is an immutable compiled route set, safe for concurrent use.
//
// Precedence does not depend on configuration order: candidate routes are
// compared segment by segment from the left, and at the first difference a
// literal segment beats a {param}, which beats "/**". Among routes of the
// same shape (which must have disjoint methods) the one allowing the method
// is chosen. When the most specific route for a path does not allow the
// method, less specific routes are tried; if none allows it, the answer is
// 405 with the most specific route's methods in Allow.
type Table struct {
	root   *node
	params [][]string
}

type node struct {
	// Literal children: a short list scanned in order, or a map once a node
	// has many (lookups stay O(segment length) however many routes exist).
	literals   []literalChild
	literalMap map[string]*node
	param      *node
	// exact are routes ending at this node; glob are routes ending in "/**"
	// here, which also match everything below.
	exact, glob terminal
}

// terminal is the routes of one shape ending at a node.
type literalChild struct {
	segment string
	child   *node
}

// maxLiteralList is the fan-out up to which a list beats a map: in wasm a
// map lookup costs several calls (hash, probe, compare) that a short scan of
// length-checked strings does not.
const maxLiteralList = 8

func (n *node) literal(seg string) *node {
	if n.literalMap != nil {
		return n.literalMap[seg]
	}
	for i := range n.literals {
		if c := &n.literals[i]; len(c.segment) == len(seg) && c.segment == seg {
			return c.child
		}
	}
	return nil
}

type terminal struct {
	entries []entry
	allow   string // the Allow header for a 405 here
}

type entry struct {
	route   int
	methods []string // nil: any method
}

func (t *terminal) find(method string) (int, bool) {
	for _, e := range t.entries {
		if e.methods == nil || slices.Contains(e.methods, method) || (method == "HEAD" && slices.Contains(e.methods, "GET")) {
			return e.route, true
		}
	}
	return 0, false
}

// Params holds captured template parameters. Reuse one per request: Match
// resets it and fills it without allocating.
type Params struct {
	names  []string
	values [MaxParams]string
	n      int
}

// Get returns the value captured for {name}.
func (p *Params) Get(name string) (string, bool) {
	for i := 0; i < p.n; i++ {
		if p.names[i] == name {
			return p.values[i], true
		}
	}
	return "", false
}

// Len is the number of captured parameters.
func (p *Params) Len() int { return p.n }

// Reset forgets the captures, dropping their references to the request
// path (a loop, not clear: in wasm clear is a runtime call).
func (p *Params) Reset() {
	for i := 0; i < p.n; i++ {
		p.values[i] = ""
	}
	p.names = nil
	p.n = 0
}

// Compile builds a Table. It reports every error, each starting with its JSON
// path ("routes[2].match.path: ...").
func Compile(specs []Spec) (*Table, []error) {
	t := &Table{root: &node{}, params: make([][]string, len(specs))}
	var errs []error
	shapes := map[string][]int{}
	for i, s := range specs {
		prefix := "routes[" + strconv.Itoa(i) + "].match"
		segs, names, err := parseTemplate(s.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.path: %w", prefix, err))
		}
		methods, merrs := checkMethods(prefix, s.Methods)
		errs = append(errs, merrs...)
		if err != nil || len(merrs) > 0 {
			continue
		}
		shape := shapeOf(segs)
		for _, j := range shapes[shape] {
			if overlap(methods, specs[j].Methods) {
				errs = append(errs, fmt.Errorf("%s.path: same path shape as routes[%d] with overlapping methods", prefix, j))
			}
		}
		shapes[shape] = append(shapes[shape], i)
		t.params[i] = names
		t.insert(segs, entry{route: i, methods: methods})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	t.root.finish()
	return t, nil
}

// ParamNames returns the names route i's template captures, in order, so
// later stages can check references like "{tenant}" at compile time.
func (t *Table) ParamNames(i int) []string { return t.params[i] }

func shapeOf(segs []string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		if strings.HasPrefix(s, "{") {
			b.WriteString("{}")
		} else {
			b.WriteString(s)
		}
	}
	return b.String()
}

func overlap(a []string, b []string) bool {
	if a == nil || len(b) == 0 {
		return true
	}
	for _, m := range a {
		if slices.Contains(b, m) {
			return true
		}
	}
	return false
}

// parseTemplate splits a route path into segments and validates each.
func parseTemplate(p string) ([]string, []string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, nil, fmt.Errorf("%q must start with /", p)
	}
	if !utf8.ValidString(p) {
		return nil, nil, fmt.Errorf("not valid UTF-8")
	}
	segs := strings.Split(p[1:], "/")
	var names []string
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
				if isControl(c) || strings.IndexByte("?#%\\;{}*", c) >= 0 {
					return nil, nil, fmt.Errorf("%q: character %q is not allowed in a route path", p, c)
				}
			}
		}
	}
	if len(names) > MaxParams {
		return nil, nil, fmt.Errorf("%q: more than %d parameters", p, MaxParams)
	}
	return segs, names, nil
}

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

// isToken reports an RFC 9110 token, which a method name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func checkMethods(prefix string, methods []string) ([]string, []error) {
	if len(methods) == 0 {
		return nil, nil
	}
	var errs []error
	for j, m := range methods {
		path := fmt.Sprintf("%s.methods[%d]", prefix, j)
		switch {
		case !isToken(m):
			errs = append(errs, fmt.Errorf("%s: %q is not an HTTP method", path, m))
		case strings.ToUpper(m) != m:
			errs = append(errs, fmt.Errorf("%s: %q must be upper-case (methods are case-sensitive)", path, m))
		case slices.Contains(methods[:j], m):
			errs = append(errs, fmt.Errorf("%s: %q is listed twice", path, m))
		}
	}
	return slices.Clone(methods), errs
}

func (t *Table) insert(segs []string, e entry) {
	n := t.root
	for i, s := range segs {
		if s == "**" && i == len(segs)-1 {
			n.glob.entries = append(n.glob.entries, e)
			return
		}
		if strings.HasPrefix(s, "{") {
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
			continue
		}
		c := n.literal(s)
		if c == nil {
			c = &node{}
			n.literals = append(n.literals, literalChild{s, c})
		}
		n = c
	}
	n.exact.entries = append(n.exact.entries, e)
}

// finish precomputes each terminal's Allow header and puts method-restricted
// entries before an any-method one.
func (n *node) finish() {
	for _, t := range []*terminal{&n.exact, &n.glob} {
		sort.SliceStable(t.entries, func(i, j int) bool { return t.entries[i].methods != nil && t.entries[j].methods == nil })
		t.allow = allowHeader(t.entries)
	}
	if len(n.literals) > maxLiteralList {
		n.literalMap = make(map[string]*node, len(n.literals))
		for _, c := range n.literals {
			n.literalMap[c.segment] = c.child
		}
	}
	for _, c := range n.literals {
		c.child.finish()
	}
	if n.param != nil {
		n.param.finish()
	}
}

func allowHeader(entries []entry) string {
	var ms []string
	for _, e := range entries {
		if e.methods == nil {
			return ""
		}
		ms = append(ms, e.methods...)
		if slices.Contains(e.methods, "GET") {
			ms = append(ms, "HEAD")
		}
	}
	sort.Strings(ms)
	return strings.Join(slices.Compact(ms), ", ")
}

// search is the state of one Match walk.
type search struct {
	method string
	params *Params
	// allow is the most specific matching terminal's Allow, for a 405.
	allow   string
	matched bool
}

// Match finds the most specific route for a normalized (Decoded) path and a
// method. It returns the route's index, or -1 with a NoRoute or
// MethodNotAllowed denial (the latter with an Allow header).
func (t *Table) Match(method, path string, params *Params) (int, verdict.Decision) {
	params.Reset()
	if !strings.HasPrefix(path, "/") {
		return -1, verdict.Deny(verdict.NoRoute, "")
	}
	s := search{method: method, params: params}
	if i, ok := t.walk(t.root, path[1:], false, 0, &s); ok {
		params.names = t.params[i]
		return i, verdict.Decision{}
	}
	params.Reset()
	if s.matched {
		d := verdict.Deny(verdict.MethodNotAllowed, "")
		d.Headers = [][2]string{{"allow", s.allow}}
		return -1, d
	}
	return -1, verdict.Deny(verdict.NoRoute, "")
}

// walk tries n's children for the segment at the head of rest in precedence
// order; done means every segment has been consumed.
func (t *Table) walk(n *node, rest string, done bool, depth int, s *search) (int, bool) {
	if done {
		if i, ok := s.try(&n.exact); ok {
			return i, true
		}
		return s.try(&n.glob)
	}
	seg, tail, more := rest, "", false
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			seg, tail, more = rest[:i], rest[i+1:], true
			break
		}
	}
	if c := n.literal(seg); c != nil {
		if i, ok := t.walk(c, tail, !more, depth, s); ok {
			return i, true
		}
	}
	if n.param != nil && seg != "" && depth < MaxParams {
		s.params.values[depth] = seg
		s.params.n = depth + 1
		if i, ok := t.walk(n.param, tail, !more, depth+1, s); ok {
			return i, true
		}
		s.params.n = depth
	}
	return s.try(&n.glob)
}

func (s *search) try(t *terminal) (int, bool) {
	if len(t.entries) == 0 {
		return 0, false
	}
	if !s.matched {
		s.matched, s.allow = true, t.allow
	}
	return t.find(s.method)
}
