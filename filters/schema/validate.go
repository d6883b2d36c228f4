package schema

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/apiguard/apiguard/internal/swar"
)

// Violation is one place where a document breaks its schema or apiguard's
// JSON rules: where, as a JSON pointer (RFC 6901, capped in length), and the
// rule, a schema keyword ("maximum", "required", "additionalProperties") or
// one of the Rule constants. It never holds a value from the document.
type Violation struct {
	Pointer string
	Rule    string
}

// The rules a document breaks by its text rather than by its schema. Each
// ends the check: what follows cannot be read reliably.
const (
	RuleSyntax       = "syntax"
	RuleDuplicateKey = "duplicate_key"
	RuleCaseVariant  = "case_variant"
	RuleDepth        = "max_depth"
	RuleText         = "utf8"
	RuleTrailingData = "trailing_data"
	RuleNumberRange  = "number_range"
	RuleFalse        = "false"
)

// Limits bound one document's check.
type Limits struct {
	// Depth is the deepest nesting of objects and arrays accepted.
	Depth int
	// Violations is how many violations are collected before the check
	// stops.
	Violations int
}

// DefaultLimits: 64 levels hold every real API payload (deeply nested
// documents are an attack on recursive parsers), and 8 violations tell a
// client what to fix without a report as large as its request.
var DefaultLimits = Limits{Depth: 64, Violations: 8}

// MaxPointer caps a reported pointer's length, in bytes: member names come
// from the client, and a report must stay small. Parameter and header
// names are cut to it too (filters/validate).
const MaxPointer = 256

// Check validates doc, one JSON value, against s (nil: any value, apiguard's
// JSON rules only) and returns the violations, none when valid. Its cost is
// linear in len(doc), within lim.
func (s *Schema) Check(doc []byte, lim Limits) []Violation {
	v := checker{b: doc, lim: lim}
	var root *node
	if s != nil {
		root = s.root
	}
	v.value(root, 0)
	if !v.stop {
		v.space()
		if v.i < len(v.b) {
			v.fail(RuleTrailingData)
		}
	}
	return v.out
}

// segment is one step of the path to the current value: a member name
// (a view into the document or a copy of its unescaped text) or an index.
type segment struct {
	key   []byte
	index int
}

type checker struct {
	b    []byte
	i    int
	lim  Limits
	path []segment
	out  []Violation
	// stop ends the check: a fatal rule, or enough violations.
	stop bool
	buf  []byte
	// num is the number being compared, kept here rather than on the
	// stack, where zeroing it would be a call in wasm.
	num decimal
	// keys are the member names of the objects being read, innermost
	// last, for finding duplicates without allocating per object.
	keys [][]byte
}

// report records a schema violation at the current path, or at the
// current path's member name when member is not "".
func (v *checker) report(rule string, member []byte) {
	if v.stop {
		return
	}
	p := v.pointer(member)
	v.out = append(v.out, Violation{Pointer: p, Rule: rule})
	if len(v.out) >= v.lim.Violations {
		v.stop = true
	}
}

// fail records a violation of a text rule and ends the check.
func (v *checker) fail(rule string) {
	if !v.stop {
		v.out = append(v.out, Violation{Pointer: v.pointer(nil), Rule: rule})
	}
	v.stop = true
}

func (v *checker) pointer(member []byte) string {
	var b strings.Builder
	add := func(s []byte) {
		b.WriteByte('/')
		for i := 0; i < len(s) && b.Len() < MaxPointer; i++ {
			switch s[i] {
			case '~':
				b.WriteString("~0")
			case '/':
				b.WriteString("~1")
			default:
				b.WriteByte(s[i])
			}
		}
	}
	for _, s := range v.path {
		if b.Len() >= MaxPointer {
			break
		}
		if s.index >= 0 {
			b.WriteByte('/')
			b.WriteString(strconv.Itoa(s.index))
		} else {
			add(s.key)
		}
	}
	if member != nil && b.Len() < MaxPointer {
		add(member)
	}
	out := b.String()
	if len(out) > MaxPointer {
		out = strings.ToValidUTF8(out[:MaxPointer], "")
	}
	return out
}

func (v *checker) space() {
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

func follow(n *node) *node {
	for n != nil && n.target != nil {
		n = n.target
	}
	return n
}

func (v *checker) value(n *node, depth int) {
	n = follow(n)
	v.space()
	if v.i >= len(v.b) {
		v.fail(RuleSyntax)
		return
	}
	if n != nil && n.never {
		v.report(RuleFalse, nil)
		n = nil
	}
	switch c := v.b[v.i]; {
	case c == '{':
		v.object(n, depth+1)
	case c == '[':
		v.array(n, depth+1)
	case c == '"':
		v.str(n)
	case c == '-' || '0' <= c && c <= '9':
		v.number(n)
	default:
		v.literal(n)
	}
}

// typeOK reports whether n allows a value of kind k, reporting "type" if
// not. It inlines: it runs for every value.
func (v *checker) typeOK(n *node, k kind) bool {
	if n == nil || n.allowed&k != 0 {
		return true
	}
	return v.wrongType()
}

func (v *checker) wrongType() bool {
	v.report("type", nil)
	return false
}

func (v *checker) object(n *node, depth int) {
	if depth > v.lim.Depth {
		v.fail(RuleDepth)
		return
	}
	if !v.typeOK(n, kObject) {
		n = nil
	}
	v.i++
	base := len(v.keys)
	v.members(n, depth, base)
	v.keys = v.keys[:base]
}

// members reads an object's members after its '{', and checks its
// required ones. The names of the first 64 properties its schema names
// are remembered as bits; other names go to v.keys after base.
func (v *checker) members(n *node, depth, base int) {
	// A wide object's other names go to a set, so that finding duplicates
	// stays linear; most objects have a few members and never need one.
	var set map[string]bool
	var props uint64
	v.space()
	if v.i < len(v.b) && v.b[v.i] == '}' {
		v.i++
	} else {
		for !v.stop {
			v.space()
			if v.i >= len(v.b) || v.b[v.i] != '"' {
				v.fail(RuleSyntax)
				return
			}
			key, good := v.readKey()
			if !good {
				return
			}
			prop := n.property(key)
			// Member names are compared after unescaping: "a" and "\u0061"
			// are one name, which two readers would resolve differently.
			var dup bool
			if prop >= 0 && prop < 64 {
				dup = props&(1<<prop) != 0
				props |= 1 << prop
			} else {
				dup = !v.remember(base, &set, key)
			}
			if dup {
				v.path = append(v.path, segment{key: key, index: -1})
				v.fail(RuleDuplicateKey)
				return
			}
			v.space()
			if v.i >= len(v.b) || v.b[v.i] != ':' {
				v.fail(RuleSyntax)
				return
			}
			v.i++
			v.path = append(v.path, segment{key: key, index: -1})
			sub := n.propNode(prop)
			if prop < 0 {
				sub = v.member(n, key)
			}
			v.value(sub, depth)
			v.path = v.path[:len(v.path)-1]
			if v.stop || !v.listNext('}') {
				break
			}
		}
	}
	if n == nil || v.stop {
		return
	}
	for k, name := range n.required {
		var found bool
		if prop := n.requiredProps[k]; prop >= 0 && prop < 64 {
			found = props&(1<<prop) != 0
		} else {
			found = v.seen(base, set, []byte(name))
		}
		if !found {
			v.report("required", []byte(name))
		}
	}
}

// remember adds key to the object's names after base, or to its set once
// they are many; false when it is there already.
func (v *checker) remember(base int, set *map[string]bool, key []byte) bool {
	if v.seen(base, *set, key) {
		return false
	}
	switch {
	case *set != nil:
		(*set)[string(key)] = true
	case len(v.keys)-base == 32:
		*set = make(map[string]bool, 64)
		for _, k := range v.keys[base:] {
			(*set)[string(k)] = true
		}
		(*set)[string(key)] = true
	default:
		v.keys = append(v.keys, key)
	}
	return true
}

// seen reports whether the object whose names start at keys[base] (or are
// in set) has a member named key.
func (v *checker) seen(base int, set map[string]bool, key []byte) bool {
	if set != nil {
		return set[string(key)]
	}
	for _, k := range v.keys[base:] {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}

// listNext reads what follows a member or an element: a comma (more
// follow), the list's closing bracket (it ends), or a syntax error.
func (v *checker) listNext(closer byte) (more bool) {
	v.space()
	switch {
	case v.i < len(v.b) && v.b[v.i] == ',':
		v.i++
		return true
	case v.i < len(v.b) && v.b[v.i] == closer:
		v.i++
	default:
		v.fail(RuleSyntax)
	}
	return false
}

// member is the schema of member key of an object of schema n, a name n
// does not name among its properties: nil for any, reporting a name the
// schema does not allow.
func (v *checker) member(n *node, key []byte) *node {
	if n == nil {
		return nil
	}
	if len(n.folded) > 0 {
		if _, ok := n.folded[fold(string(key))]; ok {
			// "Role" beside a schema's "role": an upstream that matches
			// names case-insensitively would read it as the checked member.
			v.report(RuleCaseVariant, nil)
			return nil
		}
	}
	if a := follow(n.additional); a != nil && a.never {
		v.report("additionalProperties", nil)
		return nil
	}
	return n.additional
}

func (v *checker) array(n *node, depth int) {
	if depth > v.lim.Depth {
		v.fail(RuleDepth)
		return
	}
	if !v.typeOK(n, kArray) {
		n = nil
	}
	v.i++
	var items *node
	if n != nil {
		items = n.items
	}
	count := 0
	v.space()
	if v.i < len(v.b) && v.b[v.i] == ']' {
		v.i++
	} else {
		for !v.stop {
			v.path = append(v.path, segment{index: count})
			v.value(items, depth)
			v.path = v.path[:len(v.path)-1]
			count++
			if v.stop || !v.listNext(']') {
				break
			}
		}
	}
	if n != nil && !v.stop {
		if n.minItems >= 0 && count < n.minItems {
			v.report("minItems", nil)
		}
		if n.maxItems >= 0 && count > n.maxItems {
			v.report("maxItems", nil)
		}
	}
}

func (v *checker) literal(n *node) {
	for _, l := range [...]struct {
		text string
		k    kind
	}{{"true", kBoolean}, {"false", kBoolean}, {"null", kNull}} {
		if bytes.HasPrefix(v.b[v.i:], []byte(l.text)) {
			v.i += len(l.text)
			if v.typeOK(n, l.k) && n != nil && len(n.enum) > 0 {
				v.enum(n, l.k, []byte(l.text))
			}
			return
		}
	}
	v.fail(RuleSyntax)
}

// enum reports a value of kind k, text as scalar holds it, that is not
// among n's enum.
func (v *checker) enum(n *node, k kind, text []byte) {
	if !n.inEnum(k, text) {
		v.report("enum", nil)
	}
}

// inEnum reports whether a value of kind k, text as scalar holds it, is
// among n's enum.
func (n *node) inEnum(k kind, text []byte) bool {
	for _, e := range n.enum {
		if e.k == k && e.text == string(text) {
			return true
		}
	}
	return false
}

// number reads RFC 8259's number grammar.
func (v *checker) number(n *node) {
	b := v.b
	start, i := v.i, v.i
	if b[i] == '-' {
		i++
	}
	mant := i
	switch {
	case i < len(b) && b[i] == '0':
		i++
	default:
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == mant {
			v.fail(RuleSyntax)
			return
		}
	}
	integer := true
	if i < len(b) && b[i] == '.' {
		i++
		integer = false
		fraction := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == fraction {
			v.fail(RuleSyntax)
			return
		}
	}
	mantEnd := i
	// exp is the exponent's magnitude, 1<<20 past four digits; expSign
	// its sign.
	exp, expSign := 0, 1
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		integer = false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			if b[i] == '-' {
				expSign = -1
			}
			i++
		}
		es := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			if i-es < 4 {
				exp = exp*10 + int(b[i]-'0')
			}
			i++
		}
		switch {
		case i == es:
			v.fail(RuleSyntax)
			return
		case i-es > 4:
			exp = 1 << 20
		}
	}
	v.i = i
	text := b[start:i]
	// Beyond float64's range a reader gets an infinity, an error or a
	// rounded zero, each its own way: refuse what no two agree on. Only a
	// long or large number can be out of range, so most skip the parse.
	if exp > 400 {
		v.report(RuleNumberRange, nil)
		return
	}
	if len(text)+exp > 300 {
		if f, err := strconv.ParseFloat(string(text), 64); err != nil && (f > 1 || f < -1) {
			v.report(RuleNumberRange, nil)
			return
		}
	}
	k := kNumber
	if integer {
		k = kInteger
	}
	if !v.typeOK(n, k) || n == nil {
		return
	}
	if n.min == nil && n.max == nil && len(n.enum) == 0 {
		return
	}
	// lo and hi are the signs of the number less its minimum and its
	// maximum.
	var lo, hi int
	inEnum := true
	if integer && n.smallBounds && mantEnd-mant <= 18 {
		// Integers of at most 18 digits, as most are: compared as int64s.
		x := smallInteger(b[start] == '-', b[mant:mantEnd])
		if n.min != nil {
			lo = cmpInt(x, n.min.small)
		}
		if n.max != nil {
			hi = cmpInt(x, n.max.small)
		}
	} else {
		x := &v.num
		x.read(b[start] == '-', b[mant:mantEnd], exp*expSign)
		if n.min != nil {
			lo = x.cmp(&n.min.value)
		}
		if n.max != nil {
			hi = x.cmp(&n.max.value)
		}
		if len(n.enum) > 0 {
			v.buf = x.appendCanonical(v.buf[:0])
			inEnum = n.inEnum(kNumber, v.buf)
		}
	}
	if b := n.min; b != nil && (lo < 0 || lo == 0 && b.exclusive) {
		v.report(b.keyword, nil)
	}
	if b := n.max; b != nil && (hi > 0 || hi == 0 && b.exclusive) {
		v.report(b.keyword, nil)
	}
	if !inEnum {
		v.report("enum", nil)
	}
}

// smallInteger is the value of an integer of at most 18 digits.
func smallInteger(neg bool, digits []byte) int64 {
	var n int64
	for _, c := range digits {
		n = n*10 + int64(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

func (v *checker) str(n *node) {
	if !v.typeOK(n, kString) {
		n = nil
	}
	if n == nil || !n.checksText {
		v.buf = v.buf[:0]
		v.scanString(false)
		return
	}
	s, ok := v.readKey()
	if ok {
		v.text(n, s)
	}
}

// text checks a string's text, unescaped, against n: its length, pattern,
// format and enum.
func (v *checker) text(n *node, s []byte) {
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCount(s)
		if n.minLen >= 0 && l < n.minLen {
			v.report("minLength", nil)
		}
		if n.maxLen >= 0 && l > n.maxLen {
			v.report("maxLength", nil)
		}
	}
	if n.pattern != nil && !n.pattern.Match(s) {
		v.report("pattern", nil)
	}
	// FormatValid keeps nothing of the string: a view of s, not a copy.
	if n.format != "" && !FormatValid(n.format, unsafe.String(unsafe.SliceData(s), len(s))) {
		v.report("format", nil)
	}
	if len(n.enum) > 0 {
		v.enum(n, kString, s)
	}
}

// readKey reads a string's value, unescaped: a view into the document when
// it has no escapes, else a copy (a member name outlives the next string).
func (v *checker) readKey() ([]byte, bool) {
	v.buf = v.buf[:0]
	start := v.i + 1
	raw, ok := v.scanString(true)
	switch {
	case !ok:
		return nil, false
	case raw:
		return v.b[start : v.i-1], true
	}
	return bytes.Clone(v.buf), true
}

// scanString reads the string at v.i, checking its UTF-8 and escapes; with
// keep it unescapes into v.buf when the text has escapes (raw false).
func (v *checker) scanString(keep bool) (raw bool, ok bool) {
	b := v.b
	i := v.i + 1
	start := i
	raw = true
	for {
		// Most of a document's strings are printable ASCII: skip those
		// bytes eight at a time, then the last few with one table load
		// each, and copy the run at once. In wasm a byte loop pays a jump
		// through the function's block table per byte.
		run := i
		for i+8 <= len(b) {
			if m := swar.TextStops(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for i < len(b) && plainText[b[i]] {
			i++
		}
		if keep && !raw {
			v.buf = append(v.buf, b[run:i]...)
		}
		if i >= len(b) {
			v.i = i
			v.fail(RuleSyntax)
			return false, false
		}
		switch c := b[i]; {
		case c == '"':
			v.i = i + 1
			return raw, true
		case c < 0x20:
			v.i = i
			v.fail(RuleSyntax)
			return false, false
		case c == '\\':
			if keep && raw {
				v.buf = append(v.buf, b[start:i]...)
				raw = false
			}
			v.i = i
			r, ok := v.escape()
			if !ok {
				return false, false
			}
			i = v.i
			if keep {
				v.buf = utf8.AppendRune(v.buf, r)
			}
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				v.i = i
				v.fail(RuleText)
				return false, false
			}
			if keep && !raw {
				v.buf = append(v.buf, b[i:i+size]...)
			}
			i += size
		}
	}
}

// plainText marks the bytes a string holds as they are: printable ASCII
// but the quote and the backslash.
var plainText = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escape reads one escape at v.i (the backslash), refusing lone surrogates.
func (v *checker) escape() (rune, bool) {
	b := v.b
	if v.i+1 >= len(b) {
		v.fail(RuleSyntax)
		return 0, false
	}
	c := b[v.i+1]
	v.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'u':
		r, ok := v.hex4()
		if !ok {
			return 0, false
		}
		if !utf16.IsSurrogate(r) {
			return r, true
		}
		if r < 0xdc00 && v.i+1 < len(b) && b[v.i] == '\\' && b[v.i+1] == 'u' {
			v.i += 2
			lo, ok := v.hex4()
			if !ok {
				return 0, false
			}
			if p := utf16.DecodeRune(r, lo); p != utf8.RuneError {
				return p, true
			}
		}
		v.fail(RuleText)
		return 0, false
	}
	v.fail(RuleSyntax)
	return 0, false
}

func (v *checker) hex4() (rune, bool) {
	if v.i+4 > len(v.b) {
		v.fail(RuleSyntax)
		return 0, false
	}
	var r rune
	for _, c := range v.b[v.i : v.i+4] {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			v.fail(RuleSyntax)
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	v.i += 4
	return r, true
}

// FormatValid reports whether s is valid in format (email, uuid, date-time,
// uri), as apiguard reads them: an addr-spec without display name or
// comments; the 8-4-4-4-12 hex form; an RFC 3339 date-time; an RFC 3986
// URI, which has a scheme.
func FormatValid(format, s string) bool {
	switch format {
	case "email":
		local, domain, ok := strings.Cut(s, "@")
		return ok && local != "" && domain != "" && len(s) <= 254 && !strings.ContainsAny(s, " \t\r\n<>()[],;:\"\\") &&
			!strings.Contains(domain, "@") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") && !strings.Contains(domain, "..")
	case "uuid":
		if len(s) != 36 {
			return false
		}
		for i := 0; i < 36; i++ {
			c := s[i]
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if c != '-' {
					return false
				}
				continue
			}
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		return true
	case "date-time":
		return isDateTime(s)
	case "uri":
		return isURI(s)
	}
	return false
}

// CheckText validates a parameter's text (a query or path parameter, which
// has no JSON type of its own) against s: as a number when it is written
// as one and s accepts numbers, as true or false when s accepts booleans,
// and as a string otherwise. "1.0" is not an integer, as in a body; text
// that is not UTF-8 breaks the utf8 rule. It reads text in place: a
// request's parameters are checked without allocating.
func (s *Schema) CheckText(text string, lim Limits) []Violation {
	n := follow(s.root)
	// Read only: the checker never writes to the document.
	doc := unsafe.Slice(unsafe.StringData(text), len(text))
	if n.accepts(kNumber|kInteger) && isNumber(doc) || n.accepts(kBoolean) && (text == "true" || text == "false") {
		return s.Check(doc, lim)
	}
	// A string, checked as the JSON string of its text would be.
	v := checker{lim: lim}
	if n != nil && n.never {
		v.report(RuleFalse, nil)
		n = nil
	}
	if !v.typeOK(n, kString) {
		n = nil
	}
	switch {
	case !utf8.Valid(doc):
		v.fail(RuleText)
	case n != nil && n.checksText:
		v.text(n, doc)
	}
	return v.out
}

func (n *node) accepts(k kind) bool { return n != nil && n.types&k != 0 }

// isNumber reports whether b is exactly one JSON number.
func isNumber(b []byte) bool {
	if len(b) == 0 || b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		return false
	}
	v := checker{b: b, lim: Limits{Depth: 1, Violations: 1}}
	v.number(nil)
	return !v.stop && v.i == len(b)
}
