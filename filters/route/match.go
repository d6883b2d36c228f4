package route

import (
	"slices"
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/internal/slab"
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
	// Methods are upper-case HTTP methods; empty means any but TRACE and
	// CONNECT, which echo a request or open a tunnel, and methods with a
	// lower-case letter: a route serves TRACE and CONNECT only by listing
	// them. HEAD is allowed wherever GET is, unless a route
	// of the same path lists HEAD itself.
	Methods []string
	// StrictSlash makes an exact or template path match only as written:
	// by default "/admin" also matches "/admin/" and "/admin/" also matches
	// "/admin", so an upstream that ignores a trailing slash cannot be
	// reached around the route's policy.
	StrictSlash bool
	// Hosts are the host patterns the route serves (see ParseHostPattern);
	// empty means any host no pattern of the table matches.
	Hosts []string
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
//
// Hosts come first: a request's host selects one host group, the routes
// of its most specific pattern (exact, then the longest wildcard, then the
// routes without hosts), and only that group's routes are matched against
// the path, as Envoy selects a virtual host before its routes.
type Table struct {
	groups []hostGroup
	// exact and wild find a host's group: wild is keyed by what follows a
	// wildcard's "*.".
	exact, wild map[string]int
	routes      []compiled
	// intern numbers every literal segment of the table from 1, so a walk
	// that backtracks compares a path segment with literals only once.
	intern map[string]int32
	// blocks hand out the trie's nodes and the routes' short lists while
	// routes are inserted; one allocation each was a tenth of compiling
	// 1,000 routes in wasm. Dropped once the table is compiled.
	blocks blocks
}

type blocks struct {
	nodes     slab.Slab[node]
	terminals slab.Slab[terminal]
	literals  slab.Slab[literalChild]
	entries   slab.Slab[entry]
	strings   slab.Slab[string]
}

// AnyHost is the group of the routes without hosts, which serves every
// host no pattern matches.
const AnyHost = 0

type hostGroup struct {
	pattern string // canonical; "" for AnyHost
	root    *node
	routes  []int // in configuration order
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
	idMap      map[int32]*node // literalMap by interned number
	param      *node
	// exact are routes ending at this node; glob are routes ending in "/**"
	// here, which also match everything below. nil when none do, as at most
	// nodes: a node is then a third of its size.
	exact, glob *terminal
}

type literalChild struct {
	segment string
	id      int32 // the segment's number in Table.intern
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

// literalID is literal for a segment already known by its interned number.
func (n *node) literalID(id int32) *node {
	if n.idMap != nil {
		return n.idMap[id]
	}
	for i := range n.literals {
		if n.literals[i].id == id {
			return n.literals[i].child
		}
	}
	return nil
}

// terminal is the routes of one shape ending at a node.
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
		if e.slash.serves(trailing) && (e.methods == nil && anyServes(method) || slices.Contains(e.methods, method)) {
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

// anyServes reports whether a route that lists no methods serves method: not
// TRACE or CONNECT, and not a method with a lower-case letter, which no route
// can list and an upstream that folds case might take for another ("delete"
// for DELETE) around the checks made for that one.
func anyServes(method string) bool {
	if method == "TRACE" || method == "CONNECT" {
		return false
	}
	for i := 0; i < len(method); i++ {
		if 'a' <= method[i] && method[i] <= 'z' {
			return false
		}
	}
	return true
}

// Compile builds a Table. It reports every error, each starting with its JSON
// path ("routes[2].match.path: ..."). hosts are canonical patterns that get
// a group even if no route names them (a host with only its own default).
func Compile(specs []Spec, hosts ...string) (*Table, []config.Error) {
	t := &Table{routes: make([]compiled, len(specs)), intern: make(map[string]int32, len(specs)), exact: map[string]int{}, wild: map[string]int{}}
	t.groups = []hostGroup{{root: t.blocks.nodes.New()}}
	for _, h := range hosts {
		t.group(h)
	}
	var errs []config.Error
	// By index and pointer: a Spec and a compiled are many words, which
	// Go's wasm port copies with a call.
	for i := range specs {
		s := &specs[i]
		field := matchPath(i)
		segs, names, err := parseTemplate(s.Path, &t.blocks.strings)
		if err != nil {
			errs = append(errs, config.Errorf(field.at(".path"), "%v", err))
		}
		methods, merrs := checkMethods(field, s.Methods, &t.blocks.strings)
		errs = append(errs, merrs...)
		groups, herrs := t.hostGroups(field, s.Hosts)
		errs = append(errs, herrs...)
		if err != nil || len(merrs) > 0 || len(herrs) > 0 {
			continue
		}
		c := &t.routes[i]
		*c = compiled{params: names, methods: methods}
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
				errs = append(errs, config.Errorf(field.at(".strict_slash"), "%q has no trailing-slash form to tell apart", s.Path))
			}
			c.slash = eitherSlash
		}
		for k, g := range groups {
			// The routes of one shape in a group, the path without its
			// parameters' names and trailing slash, end at the same
			// terminal.
			term := t.insert(t.groups[g].root, c)
			for _, e := range term.entries {
				j := e.route
				if !overlap(methods, specs[j].Methods) || !c.slash.overlaps(t.routes[j].slash) {
					continue
				}
				if g == AnyHost {
					errs = append(errs, config.Errorf(field.at(".path"), "same path shape as routes[%d] with overlapping methods", j))
				} else {
					errs = append(errs, config.Errorf(field.at(".hosts["+strconv.Itoa(k)+"]"), "same host %q and path shape as routes[%d] with overlapping methods", t.groups[g].pattern, j))
				}
			}
			t.groups[g].routes = append(t.groups[g].routes, i)
			if term.entries == nil {
				term.entries = t.blocks.entries.Make(1)[:0]
			}
			term.entries = append(term.entries, entry{route: i, methods: methods, slash: c.slash})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var allows allowLines
	for _, g := range t.groups {
		g.root.finish(&allows)
	}
	t.blocks = blocks{}
	return t, nil
}

// matchPath is route i's "match" field, whose JSON path is built only for
// an error: 1,000 routes, nearly all without one, would build 1,000.
type matchPath int

// at is the JSON path of sub (".path") in the field.
func (i matchPath) at(sub string) string { return "routes[" + strconv.Itoa(int(i)) + "].match" + sub }

// anyHostOnly are the groups of a route without hosts; read only.
var anyHostOnly = []int{AnyHost}

// hostGroups parses a route's host patterns into the groups it joins.
func (t *Table) hostGroups(field matchPath, hosts []string) ([]int, []config.Error) {
	if len(hosts) == 0 {
		return anyHostOnly, nil
	}
	var groups []int
	var errs []config.Error
	for k, h := range hosts {
		canon, err := ParseHostPattern(h)
		if err != nil {
			errs = append(errs, config.Errorf(field.at(".hosts["+strconv.Itoa(k)+"]"), "%q: %v", h, err))
			continue
		}
		g := t.group(canon)
		if slices.Contains(groups, g) {
			errs = append(errs, config.Errorf(field.at(".hosts["+strconv.Itoa(k)+"]"), "%q is listed twice", h))
			continue
		}
		groups = append(groups, g)
	}
	return groups, errs
}

// group returns the group of a canonical pattern, adding it if new.
func (t *Table) group(pattern string) int {
	index, key := t.exact, pattern
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		index, key = t.wild, suffix
	}
	if g, ok := index[key]; ok {
		return g
	}
	index[key] = len(t.groups)
	t.groups = append(t.groups, hostGroup{pattern: pattern, root: t.blocks.nodes.New()})
	return len(t.groups) - 1
}

// Hosts lists the canonical pattern of each host group, by group number;
// AnyHost's is "".
func (t *Table) Hosts() []string {
	out := make([]string, len(t.groups))
	for g := range t.groups {
		out[g] = t.groups[g].pattern
	}
	return out
}

// Host returns the group serving a canonical host (see CanonicalHost): its
// exact pattern, else the longest wildcard whose suffix follows one of the
// host's dots, else AnyHost. The cost depends on the host's length, not on
// the number of patterns.
func (t *Table) Host(host string) int {
	if len(t.groups) == 1 {
		return AnyHost
	}
	if g, ok := t.exact[host]; ok {
		return g
	}
	if len(t.wild) > 0 {
		// Left to right is longest suffix first; a suffix starts after a
		// dot, so a wildcard always stands for whole labels.
		for i := 0; i < len(host); i++ {
			if host[i] == '.' {
				if g, ok := t.wild[host[i+1:]]; ok {
					return g
				}
			}
		}
	}
	return AnyHost
}

// ParamNames returns the names route i's template captures, in order, so
// later stages can check references like "{tenant}" at compile time.
func (t *Table) ParamNames(i int) []string { return t.routes[i].params }

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

// insert adds the nodes of c's path below n and returns the terminal its
// route ends at, for the caller to add its entry.
func (t *Table) insert(n *node, c *compiled) *terminal {
	for _, s := range c.segs {
		if strings.HasPrefix(s, "{") {
			if n.param == nil {
				n.param = t.blocks.nodes.New()
			}
			n = n.param
			continue
		}
		// A node with a short list scans it; one with many children
		// looks the segment up by its number, and a segment the table
		// has never seen is a new child wherever it is.
		var child *node
		if n.idMap == nil {
			child = n.literal(s)
		}
		if child == nil {
			id, ok := t.intern[s]
			switch {
			case !ok:
				id = int32(len(t.intern) + 1)
				t.intern[s] = id
			case n.idMap != nil:
				child = n.idMap[id]
			}
			if child != nil {
				n = child
				continue
			}
			child = t.blocks.nodes.New()
			if n.literals == nil {
				n.literals = t.blocks.literals.Make(1)[:0]
			}
			n.literals = append(n.literals, literalChild{s, id, child})
			n.index(len(n.literals) - 1)
		}
		n = child
	}
	term := &n.exact
	if c.glob {
		term = &n.glob
	}
	if *term == nil {
		*term = t.blocks.terminals.New()
	}
	return *term
}

// index keeps the number map of a node with many literal children up to
// date with its list once literal child i was added: it is built as the
// list outgrows maxLiteralList, so that inserting many routes under one
// node looks each segment up in a map, not in a list that grows with them.
// The map by segment, which requests use, is built once by finish, at its
// final size: grown one child at a time, it rehashed every string.
func (n *node) index(i int) {
	switch {
	case len(n.literals) <= maxLiteralList:
	case n.idMap == nil:
		n.idMap = make(map[int32]*node, 2*len(n.literals))
		for _, c := range n.literals {
			n.idMap[c.id] = c.child
		}
	default:
		n.idMap[n.literals[i].id] = n.literals[i].child
	}
}

// finish builds the segment map of a node with many literal children and
// precomputes each terminal's Allow header.
func (n *node) finish(allows *allowLines) {
	if n.idMap != nil {
		n.literalMap = make(map[string]*node, len(n.literals))
		for _, c := range n.literals {
			n.literalMap[c.segment] = c.child
		}
	}
	for _, t := range [2]*terminal{n.exact, n.glob} {
		switch {
		case t == nil:
		case len(t.entries) == 1:
			// Most terminals end one route: its methods are the line.
			e := &t.entries[0]
			line := allows.of(e.methods)
			for f := range t.allow {
				if t.has[f] = e.slash.serves(f); t.has[f] {
					t.allow[f] = line
				}
			}
		default:
			for f := range t.allow {
				t.has[f], t.allow[f] = allowHeader(t.entries, f, allows)
			}
		}
	}
	for _, c := range n.literals {
		c.child.finish(allows)
	}
	if n.param != nil {
		n.param.finish(allows)
	}
}

// anyMethodAllow is the Allow header of a route that lists no methods: it
// serves every method but TRACE, CONNECT and those with a lower-case
// letter, a set no header can list, so it names the registered ones it
// serves (RFC 9110 section 9 and PATCH, RFC 5789). An empty Allow would say
// the resource allows no method at all (RFC 9110 section 10.2.1).
const anyMethodAllow = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

// allowLines builds the Allow lines of a table. The lists repeat across
// its routes (most say GET, HEAD), so it keeps one string per distinct
// line, and remembers the list it last saw: consecutive routes mostly list
// the same methods, and comparing two short lists costs a fraction of
// sorting and joining one in wasm.
type allowLines struct {
	byLine   map[string]string
	last     []string
	lastLine string
}

// of is the Allow line of one route's methods (nil: any).
func (a *allowLines) of(methods []string) string {
	if methods == nil {
		return anyMethodAllow
	}
	if a.last != nil && slices.Equal(methods, a.last) {
		return a.lastLine
	}
	_, line := allowHeader([]entry{{methods: methods}}, 0, a)
	a.last, a.lastLine = methods, line
	return line
}

// allowHeader lists the methods of the entries serving slash form f.
func allowHeader(entries []entry, f int, allows *allowLines) (bool, string) {
	has := false
	var buf [16]string
	ms := buf[:0]
	for _, e := range entries {
		if !e.slash.serves(f) {
			continue
		}
		has = true
		if e.methods == nil {
			return true, anyMethodAllow
		}
		ms = append(ms, e.methods...)
		if slices.Contains(e.methods, "GET") {
			ms = append(ms, "HEAD")
		}
	}
	if len(ms) == 0 {
		return has, ""
	}
	slices.Sort(ms)
	var line [128]byte
	b := line[:0]
	for i, m := range slices.Compact(ms) {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, m...)
	}
	if s, ok := allows.byLine[string(b)]; ok {
		return true, s
	}
	s := string(b)
	if allows.byLine == nil {
		allows.byLine = map[string]string{}
	}
	allows.byLine[s] = s
	return true, s
}
