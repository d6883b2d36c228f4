// Package pattern matches RE2 regular expressions (Go's regexp syntax) in
// time linear in the input, like regexp, and faster on the expressions
// policies are made of: character classes, repetitions, alternations and
// the ^ and $ anchors. Compile turns such an expression into a DFA once,
// at configure time, so that a match is one table load per character;
// regexp builds and runs a machine per call, which made a schema's
// "^[A-Z0-9-]{1,32}$" a quarter of a JSON body's check in wasm. An
// expression the DFA does not cover (word boundaries, multi-line anchors)
// or that would pass its limits (classes, states, the work of building it)
// runs in regexp.
package pattern

import (
	"encoding/binary"
	"regexp"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// Pattern is a compiled expression, immutable and safe for concurrent use.
// It holds a DFA or, for an expression the DFA does not cover, a regexp.
type Pattern struct {
	dfa *dfa
	re  *regexp.Regexp
}

// Compile parses expr as regexp.Compile does, with its errors.
func Compile(expr string) (*Pattern, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, err
	}
	if d := buildDFA(re); d != nil {
		return &Pattern{dfa: d}, nil
	}
	std, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	return &Pattern{re: std}, nil
}

// Match reports whether b contains a match, as regexp.Regexp.Match: bytes
// that are not UTF-8 read as U+FFFD each.
func (p *Pattern) Match(b []byte) bool {
	if p.dfa == nil {
		return p.re.Match(b)
	}
	return match(p.dfa, b)
}

// MatchString reports whether s contains a match.
func (p *Pattern) MatchString(s string) bool {
	if p.dfa == nil {
		return p.re.MatchString(s)
	}
	return match(p.dfa, s)
}

// Limits on what becomes a DFA, so that building one at configure time
// stays cheap (dfaWork counts the instructions the construction visits: a
// few milliseconds in wasm at most) and its table small: an expression
// past them runs in regexp. A schema's "^[A-Z0-9-]{1,32}$" takes 34 states
// of 7 classes; "[a-z]{1,200}", unanchored, is past dfaWork.
const (
	dfaInsts   = 1000
	dfaClasses = 64
	dfaStates  = 512
	dfaWork    = 1 << 18
)

// dfa is a deterministic automaton over classes of runes: runes no
// instruction tells apart share a class. Each state is a set of the
// program's threads, and next[state*classes+class] is the state after a
// rune of that class; state 0 is dead (no thread can match).
type dfa struct {
	// ascii is the class of each ASCII rune; cuts are the first runes of
	// the classes, in order, for the others.
	ascii   [utf8.RuneSelf]uint8
	cuts    []rune
	classes int
	next    []uint16
	start   uint16
	// matched: a match has been seen, whatever follows. atEnd: the input
	// matches if it ends here ($ holds).
	matched, atEnd []bool
}

// match runs the DFA over s, a string or a byte slice.
func match[S string | []byte](d *dfa, s S) bool {
	state := d.start
	for i := 0; i < len(s); {
		if d.matched[state] {
			return true
		}
		var class uint8
		if c := s[i]; c < utf8.RuneSelf {
			class = d.ascii[c]
			i++
		} else {
			// At most four bytes converted: no copy of the rest of s.
			r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			class = d.class(r)
			i += size
		}
		state = d.next[int(state)*d.classes+int(class)]
		if state == 0 {
			return false
		}
	}
	return d.matched[state] || d.atEnd[state]
}

// class finds a rune's class: the last cut at or below it.
func (d *dfa) class(r rune) uint8 {
	lo, hi := 0, len(d.cuts)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if d.cuts[mid] <= r {
			lo = mid
		} else {
			hi = mid
		}
	}
	return uint8(lo)
}

// buildDFA compiles re to a DFA, or returns nil when the expression needs
// more than one (see the package doc).
func buildDFA(re *syntax.Regexp) *dfa {
	prog, err := syntax.Compile(re.Simplify())
	if err != nil || len(prog.Inst) > dfaInsts {
		return nil
	}
	b := builder{prog: prog, ids: map[string]uint16{}}
	if !b.alphabet() {
		return nil
	}
	return b.build()
}

type builder struct {
	prog *syntax.Prog
	d    dfa
	// sets[i] is state i's threads: the program counters of the
	// instructions that read a rune, match, or wait for the end ($).
	sets [][]uint32
	// ids finds a state by its threads; the start state's key is marked,
	// as ^ holds there alone.
	ids map[string]uint16
	// classes[pc] has bit c set when instruction pc reads a rune of class
	// c; it is 0 for the instructions that read none.
	classes []uint64
	// Scratch space, reused for every step of the construction.
	key        []byte
	moved, set []uint32
	stack      []uint32
	seen       []uint32
	visit      uint32
}

// runeRanges is what instruction i matches, as ranges lo, hi, ...; false
// for an instruction that is not a rune's.
func runeRanges(i *syntax.Inst) ([]rune, bool) {
	switch i.Op {
	case syntax.InstRune1:
		return []rune{i.Rune[0], i.Rune[0]}, true
	case syntax.InstRune:
		if len(i.Rune) == 1 {
			return foldRanges(i.Rune[0], syntax.Flags(i.Arg)&syntax.FoldCase != 0), true
		}
		return i.Rune, true
	case syntax.InstRuneAny:
		return []rune{0, unicode.MaxRune}, true
	case syntax.InstRuneAnyNotNL:
		return []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}, true
	}
	return nil, false
}

// foldRanges is one rune's range, and with fold those of its case-fold
// orbit ('k', 'K' and the Kelvin sign).
func foldRanges(r rune, fold bool) []rune {
	ranges := []rune{r, r}
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			ranges = append(ranges, f, f)
		}
	}
	return ranges
}

// addCut adds r to cuts, which it keeps sorted and without repeats; false
// when they would be more than dfaClasses. A repetition repeats its
// instructions, so most cuts are there already.
func addCut(cuts *[]rune, r rune) bool {
	c := *cuts
	i := 0
	for i < len(c) && c[i] < r {
		i++
	}
	switch {
	case i < len(c) && c[i] == r:
		return true
	case len(c) == dfaClasses:
		return false
	}
	c = append(c, 0)
	copy(c[i+1:], c[i:])
	c[i] = r
	*cuts = c
	return true
}

// alphabet splits the runes into classes at every bound of every
// instruction's ranges; false when the program has an instruction the DFA
// does not run or too many classes.
func (b *builder) alphabet() bool {
	cuts := make([]rune, 1, dfaClasses)
	for i := range b.prog.Inst {
		inst := &b.prog.Inst[i]
		if inst.Op == syntax.InstEmptyWidth && syntax.EmptyOp(inst.Arg)&^(syntax.EmptyBeginText|syntax.EmptyEndText) != 0 {
			return false
		}
		ranges, _ := runeRanges(inst)
		for j := 0; j+1 < len(ranges); j += 2 {
			if !addCut(&cuts, ranges[j]) || ranges[j+1] < unicode.MaxRune && !addCut(&cuts, ranges[j+1]+1) {
				return false
			}
		}
	}
	b.d.cuts, b.d.classes = cuts, len(cuts)
	for c := range b.d.ascii {
		b.d.ascii[c] = b.d.class(rune(c))
	}
	// A class's first rune stands for the class: no instruction tells its
	// runes apart.
	b.classes = make([]uint64, len(b.prog.Inst))
	for pc := range b.prog.Inst {
		inst := &b.prog.Inst[pc]
		if _, reads := runeRanges(inst); !reads {
			continue
		}
		for c, r := range cuts {
			if inst.MatchRune(r) {
				b.classes[pc] |= 1 << c
			}
		}
	}
	return true
}

// build runs the subset construction from the start state, breadth first.
func (b *builder) build() *dfa {
	b.seen = make([]uint32, len(b.prog.Inst))
	start := uint32(b.prog.Start)
	b.state(nil, false) // 0: dead
	work := 0
	b.d.start = b.state(b.closure([]uint32{start}, syntax.EmptyBeginText), true)
	for s := 1; s < len(b.sets); s++ {
		for class := range b.d.classes {
			// A match may start at any rune (the search is unanchored),
			// where ^ no longer holds: the start is always among the moved.
			b.moved = append(b.moved[:0], start)
			for _, pc := range b.sets[s] {
				if b.classes[pc]&(1<<class) != 0 {
					b.moved = append(b.moved, b.prog.Inst[pc].Out)
				}
			}
			b.d.next = append(b.d.next, b.state(b.closure(b.moved, 0), false))
			if work += len(b.prog.Inst); len(b.sets) > dfaStates || work > dfaWork {
				return nil
			}
		}
	}
	for s, set := range b.sets {
		b.d.matched = append(b.d.matched, b.matches(set, 0))
		end := syntax.EmptyEndText
		if uint16(s) == b.d.start {
			end |= syntax.EmptyBeginText
		}
		b.d.atEnd = append(b.d.atEnd, b.matches(set, end))
	}
	// The dead state's row: it stays dead.
	b.d.next = append(make([]uint16, b.d.classes), b.d.next...)
	return &b.d
}

// state is the id of the state of threads set, added when new.
func (b *builder) state(set []uint32, begin bool) uint16 {
	b.key = append(b.key[:0], 0)
	if begin {
		b.key[0] = 1
	}
	for _, pc := range set {
		b.key = binary.AppendUvarint(b.key, uint64(pc))
	}
	if id, ok := b.ids[string(b.key)]; ok {
		return id
	}
	id := uint16(len(b.sets))
	b.ids[string(b.key)] = id
	b.sets = append(b.sets, append([]uint32(nil), set...))
	return id
}

// closure is the threads reachable from pcs without reading a rune, where
// the empty-width conditions in holds are true, in order of their program
// counters; a thread that waits for $ is kept, for the input's end. The
// list is b.set's, valid until the next call.
func (b *builder) closure(pcs []uint32, holds syntax.EmptyOp) []uint32 {
	// seen marks this call's visits with its own number, so that no call
	// clears a mark per instruction.
	b.visit++
	b.set = b.set[:0]
	b.stack = append(b.stack[:0], pcs...)
	for len(b.stack) > 0 {
		pc := b.stack[len(b.stack)-1]
		b.stack = b.stack[:len(b.stack)-1]
		if b.seen[pc] == b.visit {
			continue
		}
		b.seen[pc] = b.visit
		inst := &b.prog.Inst[pc]
		switch inst.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			b.stack = append(b.stack, inst.Arg, inst.Out)
		case syntax.InstCapture, syntax.InstNop:
			b.stack = append(b.stack, inst.Out)
		case syntax.InstEmptyWidth:
			need := syntax.EmptyOp(inst.Arg)
			switch {
			case need&^holds == 0:
				b.stack = append(b.stack, inst.Out)
			case need&^(holds|syntax.EmptyEndText) == 0:
				b.set = append(b.set, pc)
			}
		case syntax.InstFail:
		default:
			b.set = append(b.set, pc)
		}
	}
	// Sorted by insertion: a set holds a few threads.
	for i := 1; i < len(b.set); i++ {
		for j := i; j > 0 && b.set[j] < b.set[j-1]; j-- {
			b.set[j], b.set[j-1] = b.set[j-1], b.set[j]
		}
	}
	return b.set
}

// matches reports whether threads set reach a match where the conditions
// in holds are true.
func (b *builder) matches(set []uint32, holds syntax.EmptyOp) bool {
	var pcs []uint32
	for _, pc := range set {
		if inst := &b.prog.Inst[pc]; inst.Op == syntax.InstEmptyWidth && syntax.EmptyOp(inst.Arg)&^holds == 0 {
			pcs = append(pcs, inst.Out)
		} else if inst.Op == syntax.InstMatch {
			return true
		}
	}
	for _, pc := range b.closure(pcs, holds) {
		if b.prog.Inst[pc].Op == syntax.InstMatch {
			return true
		}
	}
	return false
}
