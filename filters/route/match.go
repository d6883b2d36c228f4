package route

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

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
	// wherever GET is, unless a route of the same path lists HEAD itself.
	Methods []string
	// StrictSlash makes an exact or template path match only as written:
	// by default "/admin" also matches "/admin/" and "/admin/" also matches
	// "/admin", so an upstream that ignores a trailing slash cannot be
	// reached around the route's policy.
	StrictSlash bool
}

// MaxParams bounds the {param} segments of one route.
const MaxParams = 16

// Table is an immutable compiled route set, safe for concurrent use.
//
// Precedence does not depend on configuration order: candidate routes are
// compared segment by segment from the left, and at the first difference a
// literal segment beats a {param}, which beats "/**". Among routes of the
// same shape (which must have disjoint methods) the one allowing the method
// is chosen, a route listing the method before one allowing HEAD because it
// lists GET. When the most specific route for a path does not allow the
// method, less specific routes are tried; if none allows it, the answer is
// 405 with the most specific route's methods in Allow.
//
// A path's trailing slash does not change which route matches it, except
// for routes with StrictSlash: those of one shape are told apart by it.
type Table struct {
	root   *node
	routes []compiled
}

// compiled is what Compile kept of one Spec.
type compiled struct {
	segs    []string // without a trailing "" or "**"
	params  []string
	methods []string
	slash   slashForm
	glob    bool
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
	// has[f] tells whether an entry serves requests of slash form f (0:
	// without a trailing slash, 1: with one); allow[f] is their Allow
	// header for a 405.
	has   [2]bool
	allow [2]string
}

type entry struct {
	route   int
	methods []string // nil: any method
	slash   slashForm
}

// slashForm is which forms of a path, with or without a trailing slash, a
// route serves.
type slashForm uint8

const (
	eitherSlash slashForm = iota // the default
	noSlash                      // StrictSlash, written without
	withSlash                    // StrictSlash, written with
)

func (f slashForm) serves(trailing int) bool {
	return f == eitherSlash || int(f) == int(noSlash)+trailing
}

func (f slashForm) overlaps(g slashForm) bool { return f == eitherSlash || g == eitherSlash || f == g }

// find returns the entry serving method for a request of slash form
// trailing. An entry listing the method wins over one that allows HEAD only
// because it lists GET, whatever their order in the configuration.
func (t *terminal) find(method string, trailing int) (int, bool) {
	for _, e := range t.entries {
		if e.slash.serves(trailing) && (e.methods == nil || slices.Contains(e.methods, method)) {
			return e.route, true
		}
	}
	if method == "HEAD" {
		for _, e := range t.entries {
			if e.slash.serves(trailing) && slices.Contains(e.methods, "GET") {
				return e.route, true
			}
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
	t := &Table{root: &node{}, routes: make([]compiled, len(specs))}
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
		c := compiled{params: names, methods: methods}
		switch last := len(segs) - 1; {
		case segs[last] == "**":
			c.segs, c.glob = segs[:last], true
		case segs[last] == "" && last > 0:
			c.segs, c.slash = segs[:last], withSlash
		case segs[last] == "":
			c.segs = nil // "/" is the root, with nothing to be strict about
		default:
			c.segs, c.slash = segs, noSlash
		}
		if !s.StrictSlash || c.glob || c.segs == nil {
			if s.StrictSlash {
				errs = append(errs, fmt.Errorf("%s.strict_slash: %q has no trailing-slash form to tell apart", prefix, s.Path))
			}
			c.slash = eitherSlash
		}
		shape := shapeOf(c)
		for _, j := range shapes[shape] {
			if overlap(methods, specs[j].Methods) && c.slash.overlaps(t.routes[j].slash) {
				errs = append(errs, fmt.Errorf("%s.path: same path shape as routes[%d] with overlapping methods", prefix, j))
			}
		}
		shapes[shape] = append(shapes[shape], i)
		t.routes[i] = c
		t.insert(c, entry{route: i, methods: methods, slash: c.slash})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	t.root.finish()
	return t, nil
}

// ParamNames returns the names route i's template captures, in order, so
// later stages can check references like "{tenant}" at compile time.
func (t *Table) ParamNames(i int) []string { return t.routes[i].params }

// shapeOf is the path with parameter names erased; a trailing slash is not
// part of it, and neither is a glob's "/**" (kept apart by its marker).
func shapeOf(c compiled) string {
	var b strings.Builder
	for _, s := range c.segs {
		b.WriteByte('/')
		if strings.HasPrefix(s, "{") {
			b.WriteString("{}")
		} else {
			b.WriteString(s)
		}
	}
	if c.glob {
		b.WriteString("/**")
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

func (t *Table) insert(c compiled, e entry) {
	n := t.root
	for _, s := range c.segs {
		if strings.HasPrefix(s, "{") {
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
			continue
		}
		child := n.literal(s)
		if child == nil {
			child = &node{}
			n.literals = append(n.literals, literalChild{s, child})
		}
		n = child
	}
	if c.glob {
		n.glob.entries = append(n.glob.entries, e)
	} else {
		n.exact.entries = append(n.exact.entries, e)
	}
}

// finish precomputes each terminal's Allow header and puts method-restricted
// entries before an any-method one.
func (n *node) finish() {
	for _, t := range []*terminal{&n.exact, &n.glob} {
		for f := range t.allow {
			t.has[f], t.allow[f] = allowHeader(t.entries, f)
		}
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

// allowHeader lists the methods of the entries serving slash form f.
func allowHeader(entries []entry, f int) (bool, string) {
	has := false
	var ms []string
	for _, e := range entries {
		if !e.slash.serves(f) {
			continue
		}
		has = true
		if e.methods == nil {
			return true, ""
		}
		ms = append(ms, e.methods...)
		if slices.Contains(e.methods, "GET") {
			ms = append(ms, "HEAD")
		}
	}
	sort.Strings(ms)
	return has, strings.Join(slices.Compact(ms), ", ")
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
		params.names = t.routes[i].params
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
// order; done means every segment has been consumed. An empty rest that is
// not done is a trailing slash: the path ends at n too.
//
// Each trie node is visited at most once per walk, but a literal child that
// fails is followed by its {param} sibling: see BenchmarkMatchWorstCase.
func (t *Table) walk(n *node, rest string, done bool, depth int, s *search) (int, bool) {
	if done || rest == "" {
		trailing := 0
		if !done {
			trailing = 1
		}
		if i, ok := s.try(&n.exact, trailing); ok {
			return i, true
		}
		return s.try(&n.glob, trailing)
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
	return s.try(&n.glob, 0)
}

// try looks in a terminal for the route serving the request; the first
// terminal that serves its path decides the Allow of a 405.
func (s *search) try(t *terminal, trailing int) (int, bool) {
	if !t.has[trailing] {
		return 0, false
	}
	if !s.matched {
		s.matched, s.allow = true, t.allow[trailing]
	}
	return t.find(s.method, trailing)
}
