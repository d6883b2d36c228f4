package schema

import (
	"bytes"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
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

// maxPointer caps a reported pointer's length: member names come from the
// client, and a report must stay small.
const maxPointer = 256

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

type segment struct {
	key   string
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
}

// report records a schema violation at the current path, or at the
// current path's member name when member is not "".
func (v *checker) report(rule, member string) {
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
		v.out = append(v.out, Violation{Pointer: v.pointer(""), Rule: rule})
	}
	v.stop = true
}

func (v *checker) pointer(member string) string {
	var b strings.Builder
	add := func(s string) {
		b.WriteByte('/')
		for i := 0; i < len(s) && b.Len() < maxPointer; i++ {
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
		if b.Len() >= maxPointer {
			break
		}
		if s.index >= 0 {
			b.WriteByte('/')
			b.WriteString(strconv.Itoa(s.index))
		} else {
			add(s.key)
		}
	}
	if member != "" && b.Len() < maxPointer {
		add(member)
	}
	out := b.String()
	if len(out) > maxPointer {
		out = strings.ToValidUTF8(out[:maxPointer], "")
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
		v.report(RuleFalse, "")
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

func (v *checker) typeOK(n *node, k kind) bool {
	if n == nil || n.types == 0 || n.types&k != 0 {
		return true
	}
	v.report("type", "")
	return false
}

func (v *checker) object(n *node, depth int) {
	if depth > v.lim.Depth {
		v.fail(RuleDepth)
		return
	}
	ok := v.typeOK(n, kObject)
	if !ok {
		n = nil
	}
	v.i++
	var seen []string
	var seenSet map[string]bool
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
			key, good := v.readString()
			if !good {
				return
			}
			// Member names are compared after unescaping: "a" and "\u0061"
			// are one name, which two readers would resolve differently.
			dup := false
			if seenSet != nil {
				dup = seenSet[key]
			} else {
				for _, s := range seen {
					if s == key {
						dup = true
						break
					}
				}
			}
			if dup {
				v.path = append(v.path, segment{key: key, index: -1})
				v.fail(RuleDuplicateKey)
				return
			}
			if seenSet == nil && len(seen) == 32 {
				seenSet = make(map[string]bool, 64)
				for _, s := range seen {
					seenSet[s] = true
				}
			}
			if seenSet != nil {
				seenSet[key] = true
			} else {
				seen = append(seen, key)
			}
			v.space()
			if v.i >= len(v.b) || v.b[v.i] != ':' {
				v.fail(RuleSyntax)
				return
			}
			v.i++
			v.path = append(v.path, segment{key: key, index: -1})
			v.value(v.member(n, key), depth)
			v.path = v.path[:len(v.path)-1]
			if v.stop {
				return
			}
			v.space()
			if v.i < len(v.b) && v.b[v.i] == ',' {
				v.i++
				continue
			}
			if v.i < len(v.b) && v.b[v.i] == '}' {
				v.i++
				break
			}
			v.fail(RuleSyntax)
			return
		}
	}
	if n == nil {
		return
	}
	for _, name := range n.required {
		present := false
		if seenSet != nil {
			present = seenSet[name]
		} else {
			for _, s := range seen {
				if s == name {
					present = true
					break
				}
			}
		}
		if !present {
			v.report("required", name)
		}
	}
}

// member is the schema of member key of an object of schema n, nil for
// any, reporting a name the schema does not allow.
func (v *checker) member(n *node, key string) *node {
	if n == nil {
		return nil
	}
	if p, ok := n.props[key]; ok {
		return p
	}
	if name, ok := n.folded[fold(key)]; ok && name != key {
		// "Role" beside a schema's "role": an upstream that matches
		// names case-insensitively would read it as the checked member.
		v.report(RuleCaseVariant, "")
		return nil
	}
	if a := follow(n.additional); a != nil && a.never {
		v.report("additionalProperties", "")
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
			if v.stop {
				return
			}
			v.space()
			if v.i < len(v.b) && v.b[v.i] == ',' {
				v.i++
				continue
			}
			if v.i < len(v.b) && v.b[v.i] == ']' {
				v.i++
				break
			}
			v.fail(RuleSyntax)
			return
		}
	}
	if n != nil {
		if n.minItems >= 0 && count < n.minItems {
			v.report("minItems", "")
		}
		if n.maxItems >= 0 && count > n.maxItems {
			v.report("maxItems", "")
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
				v.enum(n, scalar{l.k, l.text})
			}
			return
		}
	}
	v.fail(RuleSyntax)
}

func (v *checker) enum(n *node, s scalar) {
	for _, e := range n.enum {
		if e == s {
			return
		}
	}
	v.report("enum", "")
}

// number reads RFC 8259's number grammar.
func (v *checker) number(n *node) {
	start := v.i
	b := v.b
	if b[v.i] == '-' {
		v.i++
	}
	digits := func() int {
		d := 0
		for v.i < len(b) && '0' <= b[v.i] && b[v.i] <= '9' {
			v.i++
			d++
		}
		return d
	}
	switch {
	case v.i < len(b) && b[v.i] == '0':
		v.i++
	case digits() == 0:
		v.fail(RuleSyntax)
		return
	}
	integer := true
	if v.i < len(b) && b[v.i] == '.' {
		v.i++
		integer = false
		if digits() == 0 {
			v.fail(RuleSyntax)
			return
		}
	}
	exp := 0
	if v.i < len(b) && (b[v.i] == 'e' || b[v.i] == 'E') {
		v.i++
		integer = false
		if v.i < len(b) && (b[v.i] == '+' || b[v.i] == '-') {
			v.i++
		}
		es := v.i
		if digits() == 0 {
			v.fail(RuleSyntax)
			return
		}
		if v.i-es > 4 {
			exp = 1 << 20
		} else {
			exp, _ = strconv.Atoi(string(b[es:v.i]))
		}
	}
	text := b[start:v.i]
	// Beyond float64's range a reader gets an infinity, an error or a
	// rounded zero, each its own way: refuse what no two agree on. Only a
	// long or large number can be out of range, so most skip the parse.
	if exp > 400 {
		v.report(RuleNumberRange, "")
		return
	}
	if len(text)+exp > 300 {
		if f, err := strconv.ParseFloat(string(text), 64); err != nil && (f > 1 || f < -1) {
			v.report(RuleNumberRange, "")
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
	small, isSmall := int64(0), false
	if integer && len(text) <= 18 {
		small, _ = strconv.ParseInt(string(text), 10, 64)
		isSmall = true
	}
	var rat *big.Rat
	exact := func() *big.Rat {
		if rat == nil {
			rat, _ = new(big.Rat).SetString(string(text))
		}
		return rat
	}
	if b := n.min; b != nil {
		if c := compare(small, isSmall, exact, b); c < 0 || c == 0 && b.exclusive {
			v.report(b.keyword, "")
		}
	}
	if b := n.max; b != nil {
		if c := compare(small, isSmall, exact, b); c > 0 || c == 0 && b.exclusive {
			v.report(b.keyword, "")
		}
	}
	if len(n.enum) > 0 {
		v.enum(n, scalar{kNumber, exact().RatString()})
	}
}

// compare is the sign of x - b, x given as a small integer when isSmall.
func compare(small int64, isSmall bool, exact func() *big.Rat, b *bound) int {
	if isSmall && b.isSmall {
		switch {
		case small < b.small:
			return -1
		case small > b.small:
			return 1
		}
		return 0
	}
	return exact().Cmp(b.rat)
}

func (v *checker) str(n *node) {
	if !v.typeOK(n, kString) {
		n = nil
	}
	need := n != nil && (n.minLen >= 0 || n.maxLen >= 0 || n.pattern != nil || n.format != "" || len(n.enum) > 0)
	if !need {
		v.skipString()
		return
	}
	s, ok := v.readString()
	if !ok {
		return
	}
	if n.minLen >= 0 || n.maxLen >= 0 {
		l := utf8.RuneCountInString(s)
		if n.minLen >= 0 && l < n.minLen {
			v.report("minLength", "")
		}
		if n.maxLen >= 0 && l > n.maxLen {
			v.report("maxLength", "")
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		v.report("pattern", "")
	}
	if n.format != "" && !FormatValid(n.format, s) {
		v.report("format", "")
	}
	if len(n.enum) > 0 {
		v.enum(n, scalar{kString, s})
	}
}

// skipString checks a string's text without keeping its value.
func (v *checker) skipString() {
	v.buf = v.buf[:0]
	v.scanString(false)
}

// readString reads a string's value, unescaped.
func (v *checker) readString() (string, bool) {
	v.buf = v.buf[:0]
	start := v.i + 1
	raw, ok := v.scanString(true)
	if !ok {
		return "", false
	}
	if raw {
		return string(v.b[start : v.i-1]), true
	}
	return string(v.buf), true
}

// scanString reads the string at v.i, checking its UTF-8 and escapes; with
// keep it unescapes into v.buf when the text has escapes (raw false).
func (v *checker) scanString(keep bool) (raw bool, ok bool) {
	b := v.b
	v.i++
	start := v.i
	raw = true
	for v.i < len(b) {
		c := b[v.i]
		switch {
		case c == '"':
			v.i++
			return raw, true
		case c < 0x20:
			v.fail(RuleSyntax)
			return false, false
		case c == '\\':
			if keep && raw {
				v.buf = append(v.buf, b[start:v.i]...)
				raw = false
			}
			r, ok := v.escape()
			if !ok {
				return false, false
			}
			if keep {
				v.buf = utf8.AppendRune(v.buf, r)
			}
		case c < utf8.RuneSelf:
			if keep && !raw {
				v.buf = append(v.buf, c)
			}
			v.i++
		default:
			r, size := utf8.DecodeRune(b[v.i:])
			if r == utf8.RuneError && size <= 1 {
				v.fail(RuleText)
				return false, false
			}
			if keep && !raw {
				v.buf = append(v.buf, b[v.i:v.i+size]...)
			}
			v.i += size
		}
	}
	v.fail(RuleSyntax)
	return false, false
}

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
// comments; the 8-4-4-4-12 hex form; RFC 3339 with a time zone; an absolute
// URI with a scheme.
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
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "uri":
		u, err := url.Parse(s)
		return err == nil && u.Scheme != "" && !strings.ContainsAny(s, " \t\r\n")
	}
	return false
}

// CheckText validates a parameter's text (a query or path parameter, which
// has no JSON type of its own) against s: as a number when it is written
// as one and s accepts numbers, as true or false when s accepts booleans,
// and as a string otherwise. "1.0" is not an integer, as in a body; text
// that is not UTF-8 breaks the utf8 rule.
func (s *Schema) CheckText(text string, lim Limits) []Violation {
	n := follow(s.root)
	doc := []byte(text)
	if !n.accepts(kNumber|kInteger) || !isNumber(doc) {
		if !n.accepts(kBoolean) || text != "true" && text != "false" {
			doc = quote(text)
		}
	}
	return s.Check(doc, lim)
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

// quote writes text as a JSON string, byte for byte but for the escapes
// JSON requires.
func quote(text string) []byte {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, len(text)+2)
	out = append(out, '"')
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c < 0x20:
			out = append(out, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}
