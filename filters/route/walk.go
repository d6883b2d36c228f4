package route

import (
	"strings"

	"github.com/apiguard/apiguard/filters/verdict"
)

// MaxSegments bounds the segments of one route path, so the memo of a walk
// (segmentMemo) covers every segment a route can compare.
const MaxSegments = 64

// Params holds captured template parameters, and Match's scratch space.
// Reuse one per request: Match resets it and fills it without allocating.
type Params struct {
	names  []string
	values [MaxParams]string
	n      int
	memo   segmentMemo
}

// segmentMemo remembers what one Match learnt about each path segment, so
// that a walk which backtracks into a {param} branch neither scans a segment
// for its end nor compares it with a literal twice. Together with each trie
// node being visited at most once, that bounds a match by the path's length
// plus the table's size, however adversarial the path.
type segmentMemo struct {
	// cut[d] is where segment d ends in the rest of the path: the index of
	// its "/", or -1 for the last segment; known segments have one.
	cut   [MaxSegments]int32
	known int
	// looked has bit d once segment d was compared with a node's literals;
	// id[d] is then its number in Table.intern once needed: 0 not yet, -1
	// equal to no literal of the table.
	looked uint64
	id     [MaxSegments]int32
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

// search is the state of one Match walk.
type search struct {
	method string
	params *Params
	// allow is the most specific matching terminal's Allow, for a 405.
	allow   string
	matched bool
	// serving, when set, makes the walk go on past every terminal that
	// serves the path, collecting them (Table.serving).
	serving *[]servingTerminal
}

// servingTerminal is a terminal that serves a path, and the path's slash
// form there.
type servingTerminal struct {
	t        *terminal
	trailing int
}

// serving appends to buf every terminal of host group g that serves a
// normalized path, in the order Match tries them: the route Match finds for
// a method is the first of them that has an entry serving it, and Match
// answers 405 when none does. One walk thus answers for every method.
func (t *Table) serving(g int, path string, params *Params, buf []servingTerminal) []servingTerminal {
	params.Reset()
	if !strings.HasPrefix(path, "/") {
		return buf
	}
	params.memo.known, params.memo.looked = 0, 0
	s := search{params: params, serving: &buf}
	t.walk(t.groups[g].root, path[1:], false, 0, 0, &s)
	params.Reset()
	return buf
}

// Match finds the most specific route of host group g (see Host) for a
// normalized (Decoded) path and a method. It returns the route's index, or
// -1 with a NoRoute or MethodNotAllowed denial (the latter with an Allow
// header).
func (t *Table) Match(g int, method, path string, params *Params) (int, verdict.Decision) {
	params.Reset()
	if !strings.HasPrefix(path, "/") {
		return -1, verdict.Deny(verdict.NoRoute, "")
	}
	s := search{method: method, params: params}
	i, ok, sure := t.descend(t.groups[g].root, path[1:], &s)
	if !sure {
		i, ok = t.backtrack(g, path, &s)
	}
	return t.result(i, ok, &s)
}

// backtrack searches group g for a path starting with "/" with walk,
// afresh: nothing of an earlier search of s counts.
func (t *Table) backtrack(g int, path string, s *search) (int, bool) {
	s.params.Reset()
	s.params.memo.known, s.params.memo.looked = 0, 0
	s.allow, s.matched = "", false
	return t.walk(t.groups[g].root, path[1:], false, 0, 0, s)
}

// result is Match's answer for a search that found route i (ok) or not.
func (t *Table) result(i int, ok bool, s *search) (int, verdict.Decision) {
	if ok {
		s.params.names = t.routes[i].params
		return i, verdict.Decision{}
	}
	s.params.Reset()
	if s.matched {
		return -1, verdict.DenyWith(verdict.MethodNotAllowed, &verdict.Denial{Headers: [][2]string{{"allow", s.allow}}})
	}
	return -1, verdict.Deny(verdict.NoRoute, "")
}

// descend is walk without its backtracking, in a loop: at each segment it
// takes walk's first choice (the literal child, else the {param} child,
// else the node's glob) and tries the terminals where the path ends. Where
// no segment offered a second choice, walk would have followed that one
// path, so descend's answer is walk's, search state included (the first
// terminal serving the path, for a 405): sure is then true. It is false
// when descend found nothing after passing over a choice, and walk must
// search. Most tables give most paths a single choice per segment, and in
// wasm walk's call per segment costs more than the rest of matching.
func (t *Table) descend(n *node, rest string, s *search) (i int, ok, sure bool) {
	passed, done, depth := false, false, 0
	for !done && rest != "" {
		seg, tail, more := rest, "", false
		for j := 0; j < len(rest); j++ {
			if rest[j] == '/' {
				seg, tail, more = rest[:j], rest[j+1:], true
				break
			}
		}
		param := n.param != nil && seg != "" && depth < MaxParams
		var c *node
		if len(n.literals) > 0 {
			c = n.literal(seg)
		}
		switch {
		case c != nil:
			passed = passed || param || n.glob != nil
		case param:
			s.params.values[depth] = seg
			depth++
			s.params.n = depth
			c = n.param
			passed = passed || n.glob != nil
		default:
			i, ok = s.try(n.glob, 0)
			return i, ok, ok || !passed
		}
		n, rest, done = c, tail, !more
	}
	trailing := 0
	if !done {
		trailing = 1
	}
	if i, ok = s.try(n.exact, trailing); ok {
		return i, true, true
	}
	i, ok = s.try(n.glob, trailing)
	return i, ok, ok || !passed
}

// walk tries n's children for segment d, at the head of rest, in precedence
// order; done means every segment has been consumed. An empty rest that is
// not done is a trailing slash: the path ends at n too. depth counts the
// captures so far.
//
// When a literal child finds no route, its {param} sibling is tried: this
// backtracking visits each trie node at most once, and segmentMemo keeps
// each visit's cost constant (see BenchmarkMatchWorstCase).
func (t *Table) walk(n *node, rest string, done bool, d, depth int, s *search) (int, bool) {
	if done || rest == "" {
		trailing := 0
		if !done {
			trailing = 1
		}
		if i, ok := s.try(n.exact, trailing); ok {
			return i, true
		}
		return s.try(n.glob, trailing)
	}
	// Inline rather than helpers: in wasm every call costs more than the
	// memo's bookkeeping.
	m := &s.params.memo
	cut := -1
	if d < m.known {
		cut = int(m.cut[d])
	} else {
		for i := 0; i < len(rest); i++ {
			if rest[i] == '/' {
				cut = i
				break
			}
		}
		if d < MaxSegments {
			m.cut[d], m.id[d], m.known = int32(cut), 0, d+1
		}
	}
	seg, tail, more := rest, "", false
	if cut >= 0 {
		seg, tail, more = rest[:cut], rest[cut+1:], true
	}
	if len(n.literals) > 0 {
		var c *node
		// bit is 0 past MaxSegments, where no route has a literal.
		if bit := uint64(1) << uint(d); m.looked&bit == 0 {
			m.looked |= bit
			c = n.literal(seg)
		} else {
			c = t.literalAgain(n, seg, d, m)
		}
		if c != nil {
			if i, ok := t.walk(c, tail, !more, d+1, depth, s); ok {
				return i, true
			}
		}
	}
	if n.param != nil && seg != "" && depth < MaxParams {
		s.params.values[depth] = seg
		s.params.n = depth + 1
		if i, ok := t.walk(n.param, tail, !more, d+1, depth+1, s); ok {
			return i, true
		}
		s.params.n = depth
	}
	return s.try(n.glob, 0)
}

// literalAgain returns n's literal child equal to segment d, which an
// earlier node already compared with its literals: the segment is looked up
// once in the table's interned literals, then only numbers are compared.
func (t *Table) literalAgain(n *node, seg string, d int, m *segmentMemo) *node {
	if m.id[d] == 0 {
		m.id[d] = -1
		if id, ok := t.intern[seg]; ok {
			m.id[d] = id
		}
	}
	if m.id[d] < 0 {
		return nil
	}
	return n.literalID(m.id[d])
}

// try looks in a terminal for the route serving the request; the first
// terminal that serves its path decides the Allow of a 405.
func (s *search) try(t *terminal, trailing int) (int, bool) {
	if t == nil || !t.has[trailing] {
		return 0, false
	}
	if !s.matched {
		s.matched, s.allow = true, t.allow[trailing]
	}
	if s.serving != nil {
		*s.serving = append(*s.serving, servingTerminal{t, trailing})
		return 0, false
	}
	return t.find(s.method, trailing)
}
