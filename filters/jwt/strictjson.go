package jwt

import (
	"bytes"
	"errors"
	"hash/maphash"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// jsonLimits bound what reading one JSON document may cost: its nesting and
// its number of values (every member and array element counts). The scan is
// one linear pass, so a hostile document costs at most its length; the limits
// refuse shapes no real token has before a later stage walks them.
type jsonLimits struct {
	depth, values, members int
}

// Token headers and payloads: real claims nest a few levels (Keycloak's
// resource_access.client.roles is 4), hold at most a few hundred values
// (IdPs cap group lists at 100-200 and switch to an overage claim) and a few
// dozen members per object.
var tokenLimits = jsonLimits{depth: 16, values: 2048, members: 256}

// Key sets hold up to MaxKeys keys of a dozen members each, plus x5c chains.
var keySetLimits = jsonLimits{depth: 16, values: 1 << 14, members: 256}

var (
	errNotJSONObject = errors.New("not a JSON object")
	errDuplicateKey  = errors.New("duplicate JSON key")
	errCaseVariant   = errors.New("two JSON member names differ only in letter case")
	errBadText       = errors.New("invalid UTF-8 or a lone surrogate escape")
	errTooDeep       = errors.New("JSON nested too deeply")
	errTooManyValues = errors.New("too many JSON values or members")
)

// strictObject parses b as one RFC 8259 JSON object and refuses what would
// let two readers see different data:
//   - invalid UTF-8, and \u escapes of lone surrogates, anywhere (decoders
//     replace them with U+FFFD, or not, each its own way);
//   - an object, at any depth, with two member names that are equal after
//     unescaping ("a" and "\u0061"), or equal under Unicode simple case
//     folding ("role" and "Role", "k" and the Kelvin sign): Go's
//     encoding/json matches struct fields that way, so an upstream decoding
//     the forwarded payload would read the member apiguard did not check.
//
// The scan is a single linear pass within lim.
func strictObject(b []byte, lim jsonLimits) (gjson.Result, error) {
	s, err := checkObject(b, lim)
	s.release()
	if err != nil {
		return gjson.Result{}, err
	}
	return gjson.ParseBytes(b), nil
}

// ownedObject is strictObject's check within tokenLimits for a token part
// that decodePart has just decoded, returning the object's top-level members
// as the check found them, so that nothing scans the part again: nothing
// else refers to b or changes it, so the members alias it. They are appended
// to ms[:0] when it has room for them all, else to a list of their own.
func ownedObject(b []byte, ms []member) ([]member, error) {
	s, err := checkObject(b, tokenLimits)
	defer s.release()
	if err != nil {
		return nil, err
	}
	if ms = ms[:0]; cap(ms) < len(s.names) {
		ms = make([]member, 0, len(s.names))
	}
	for _, n := range s.names {
		ms = append(ms, member{name: s.name(n), value: s.parsed(n.valFrom, n.valTo)})
	}
	return ms, nil
}

// parsed is the checked value b[from:to] as gjson.Parse reads it. The check
// knows where it ends, so only numbers, for their value, and strings with
// escapes, to unescape them, are read again.
func (s *jsonScanner) parsed(from, to int) gjson.Result {
	raw := s.owned(from, to)
	switch raw[0] {
	case '{', '[':
		return gjson.Result{Type: gjson.JSON, Raw: raw}
	case 't':
		return gjson.Result{Type: gjson.True, Raw: raw}
	case 'f':
		return gjson.Result{Type: gjson.False, Raw: raw}
	case 'n':
		return gjson.Result{Type: gjson.Null, Raw: raw}
	case '"':
		if strings.IndexByte(raw, '\\') < 0 {
			return gjson.Result{Type: gjson.String, Raw: raw, Str: raw[1 : len(raw)-1]}
		}
	}
	return gjson.Parse(raw)
}

// checkObject is strictObject's check. The scanner it returns holds the
// object's top-level member names, with their values' spans, until its
// release.
func checkObject(b []byte, lim jsonLimits) (jsonScanner, error) {
	list := nameLists.Get().(*[]memberName)
	s := jsonScanner{b: b, lim: lim, list: list, names: (*list)[:0]}
	s.space()
	if s.i >= len(b) || b[s.i] != '{' {
		return s, errNotJSONObject
	}
	if err := s.value(0); err != nil {
		return s, err
	}
	if s.space(); s.i != len(b) {
		return s, errNotJSONObject
	}
	return s, nil
}

type jsonScanner struct {
	b      []byte
	i      int
	values int
	lim    jsonLimits
	// names holds the member names of the objects being read, innermost
	// last, and at the end those of the outermost object; arena holds the
	// folded names that are not the input itself. list is where names came
	// from, and goes back to at release.
	names []memberName
	list  *[]memberName
	arena []byte
}

// nameLists keeps the scanners' name lists between documents. A token
// would otherwise allocate one for its header and one for its payload:
// more than half of the bytes its checks allocate, and allocation is what
// brings on the collector, which marks the whole pipeline each cycle.
var nameLists = sync.Pool{New: func() any {
	list := make([]memberName, 0, byHash)
	return &list
}}

// maxPooledNames bounds a list kept for reuse: a key set's many nested
// names may grow one past what tokens need.
const maxPooledNames = 256

// release gives the scanner's name list back for reuse; the scanner's
// names must not be read after it.
func (s *jsonScanner) release() {
	if cap(s.names) <= maxPooledNames {
		*s.list = s.names[:0]
		nameLists.Put(s.list)
	}
	s.names, s.list = nil, nil
}

// memberName is one member name: from:to is the input between its quotes,
// valFrom:valTo its value's (set in the outermost object only), and
// foldFrom:foldTo its case-folded form, in the input when the name is its own
// fold (as lower-case ASCII names without escapes are), else in the arena.
// Offsets, not slices, keep a list of names free of pointers, which the
// collector need not scan.
type memberName struct {
	from, to, valFrom, valTo, foldFrom, foldTo int
	inArena                                    bool
}

// fold is n's case-folded form.
func (s *jsonScanner) fold(n *memberName) []byte {
	if n.inArena {
		return s.arena[n.foldFrom:n.foldTo]
	}
	return s.b[n.foldFrom:n.foldTo]
}

// owned is b[from:to] as a string without a copy: compared and dropped,
// or kept by ownedObject, whose input nothing else changes.
func (s *jsonScanner) owned(from, to int) string {
	return unsafe.String(unsafe.SliceData(s.b[from:]), to-from)
}

// name is n unescaped; a name without escapes is the input itself, and the
// rest (rare) are unescaped by gjson.
func (s *jsonScanner) name(n memberName) string {
	if bytes.IndexByte(s.b[n.from:n.to], '\\') < 0 {
		return s.owned(n.from, n.to)
	}
	return gjson.ParseBytes(s.b[n.from-1 : n.to+1]).Str
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) value(depth int) error {
	if s.values++; s.values > s.lim.values {
		return errTooManyValues
	}
	if s.i >= len(s.b) {
		return errNotJSONObject
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if depth >= s.lim.depth {
			return errTooDeep
		}
		if c == '{' {
			return s.object(depth + 1)
		}
		return s.array(depth + 1)
	case c == '"':
		return s.str(nil)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return errNotJSONObject
}

func (s *jsonScanner) literal(lit string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		return errNotJSONObject
	}
	s.i += len(lit)
	return nil
}

// number accepts exactly RFC 8259's grammar.
func (s *jsonScanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case !s.digits():
		return errNotJSONObject
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return errNotJSONObject
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return errNotJSONObject
		}
	}
	return nil
}

func (s *jsonScanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// empty reads the opening bracket of an array or object and, if the closing
// one follows, that too.
func (s *jsonScanner) empty(closing byte) bool {
	s.i++
	s.space()
	if s.i < len(s.b) && s.b[s.i] == closing {
		s.i++
		return true
	}
	return false
}

// more reads what follows an element or member: a comma (true) or the
// closing bracket (false).
func (s *jsonScanner) more(closing byte) (bool, error) {
	s.space()
	if s.i >= len(s.b) {
		return false, errNotJSONObject
	}
	s.i++
	switch s.b[s.i-1] {
	case ',':
		return true, nil
	case closing:
		return false, nil
	}
	return false, errNotJSONObject
}

func (s *jsonScanner) array(depth int) error {
	for more := !s.empty(']'); more; {
		s.space()
		if err := s.value(depth); err != nil {
			return err
		}
		var err error
		if more, err = s.more(']'); err != nil {
			return err
		}
	}
	return nil
}

// byHash switches an object's name check from a linear scan to a hash index
// once it has this many members.
const byHash = 16

// foldSeed keys the hash index; it is random per process, so a client cannot
// craft names that collide and turn the check quadratic again.
var foldSeed = maphash.MakeSeed()

func (s *jsonScanner) object(depth int) error {
	first, arenaStart := len(s.names), len(s.arena)
	if depth > 1 {
		defer func() { s.names, s.arena = s.names[:first], s.arena[:arenaStart] }()
	}
	var index map[uint64]struct{}
	for more := !s.empty('}'); more; {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return errNotJSONObject
		}
		if len(s.names)-first >= s.lim.members {
			return errTooManyValues
		}
		var n memberName
		if err := s.str(&n); err != nil {
			return err
		}
		if err := s.unique(n, first, &index); err != nil {
			return err
		}
		s.names = append(s.names, n)
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errNotJSONObject
		}
		s.i++
		s.space()
		from := s.i
		if err := s.value(depth); err != nil {
			return err
		}
		if depth == 1 {
			// Nested objects dropped their names: this member is the last.
			last := &s.names[len(s.names)-1]
			last.valFrom, last.valTo = from, s.i
		}
		var err error
		if more, err = s.more('}'); err != nil {
			return err
		}
	}
	return nil
}

// unique compares a new member name with the earlier ones of its object,
// names[first:]: by a linear scan while the object is small, then through
// a set of the folded names' hashes (only a hit, which is a duplicate but for
// a rare true collision, costs a scan).
func (s *jsonScanner) unique(n memberName, first int, index *map[uint64]struct{}) error {
	earlier := s.names[first:]
	if *index == nil && len(earlier) >= byHash {
		*index = make(map[uint64]struct{}, s.lim.members)
		for i := range earlier {
			(*index)[maphash.Bytes(foldSeed, s.fold(&earlier[i]))] = struct{}{}
		}
	}
	match := -1
	if *index != nil {
		h := maphash.Bytes(foldSeed, s.fold(&n))
		if _, hit := (*index)[h]; hit {
			match = s.scan(n, earlier)
		}
		(*index)[h] = struct{}{}
	} else {
		match = s.scan(n, earlier)
	}
	switch {
	case match < 0:
		return nil
	case s.name(earlier[match]) == s.name(n):
		return errDuplicateKey
	}
	return errCaseVariant
}

func (s *jsonScanner) scan(n memberName, earlier []memberName) int {
	fold := s.fold(&n)
	for i := range earlier {
		if bytes.Equal(s.fold(&earlier[i]), fold) {
			return i
		}
	}
	return -1
}

// str reads a string, checking its UTF-8 and escapes. For a member name (n
// not nil) it also sets n's fold and raw span.
func (s *jsonScanner) str(n *memberName) error {
	s.i++ // "
	start := s.i
	folded := true // so far, the name is its own fold
	// plain is a member name's unescaped bytes once an escape was seen; until
	// then the name is the input itself.
	var plain []byte
	skip := &valueBytes
	if n != nil {
		skip = &nameBytes
	}
	for {
		if plain == nil {
			// Most bytes need no more than this lookup; the cases below take
			// the rest, and a name's bytes once it has an escape.
			b, i := s.b, s.i
			for i < len(b) && skip[b[i]] {
				i++
			}
			s.i = i
		}
		if s.i >= len(s.b) {
			return errNotJSONObject
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			if n != nil {
				n.from, n.to = start, s.i
				n.foldFrom, n.foldTo, n.inArena = start, s.i, !folded
				if !folded {
					if plain == nil {
						plain = s.b[start:s.i]
					}
					n.foldFrom = len(s.arena)
					s.arena = appendFolded(s.arena, plain)
					n.foldTo = len(s.arena)
				}
			}
			s.i++
			return nil
		case c < 0x20:
			return errNotJSONObject
		case c == '\\':
			if n != nil && plain == nil {
				plain = append([]byte(nil), s.b[start:s.i]...)
			}
			folded = false
			r, err := s.escape()
			if err != nil {
				return err
			}
			if n != nil {
				plain = utf8.AppendRune(plain, r)
			}
		case c < utf8.RuneSelf:
			if plain != nil {
				plain = append(plain, c)
			}
			folded = folded && (c < 'A' || c > 'Z')
			s.i++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size == 1 {
				return errBadText
			}
			if plain != nil {
				plain = append(plain, s.b[s.i:s.i+size]...)
			}
			folded = false
			s.i += size
		}
	}
}

// valueBytes marks the bytes a string holds as they are, with nothing to
// check: printable ASCII but the quote and the backslash. nameBytes leaves
// out the capital letters too, which make a name differ from its fold.
var valueBytes, nameBytes = func() (value, name [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		value[c] = c != '"' && c != '\\'
		name[c] = value[c] && (c < 'A' || c > 'Z')
	}
	return value, name
}()

// escape reads one escape sequence after the backslash; a \u escape of a
// surrogate must be a high one followed by a low one.
func (s *jsonScanner) escape() (rune, error) {
	s.i++ // backslash
	if s.i >= len(s.b) {
		return 0, errNotJSONObject
	}
	c := s.b[s.i]
	s.i++
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
	default:
		return 0, errNotJSONObject
	}
	r, ok := s.hex4()
	if !ok {
		return 0, errNotJSONObject
	}
	switch {
	case 0xDC00 <= r && r <= 0xDFFF:
		return 0, errBadText
	case 0xD800 <= r && r <= 0xDBFF:
		if !bytes.HasPrefix(s.b[s.i:], []byte(`\u`)) {
			return 0, errBadText
		}
		s.i += 2
		lo, ok := s.hex4()
		if !ok {
			return 0, errNotJSONObject
		}
		if lo < 0xDC00 || lo > 0xDFFF {
			return 0, errBadText
		}
		return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), nil
	}
	return r, nil
}

func (s *jsonScanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// appendFolded appends name folded the way encoding/json folds field names
// (foldName in its fold.go), so that two names fold equal exactly when
// strings.EqualFold says they are equal: every rune is replaced by the
// smallest rune of its simple case-folding orbit, except that ASCII letters
// end lower-case (encoding/json upper-cases them; either is one orbit), so a
// lower-case ASCII name is its own fold and costs no copy.
func appendFolded(out, name []byte) []byte {
	for i := 0; i < len(name); {
		r, size := rune(name[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(name[i:])
			r = foldRune(r)
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		out = utf8.AppendRune(out, r)
		i += size
	}
	return out
}

func foldRune(r rune) rune {
	for {
		next := unicode.SimpleFold(r)
		if next <= r {
			return next
		}
		r = next
	}
}
