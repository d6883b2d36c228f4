// Package config reads apiguard's filter JSON strictly, for the stages that
// own its sections: every unknown or duplicate key, missing required field,
// wrongly typed or out-of-range value becomes an Error naming its JSON path,
// and reading goes on so that one pass reports them all. A typo must never
// silently disable a protection.
package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/internal/slab"
)

// Error is one problem in the configuration, at its JSON path
// ("routes[2].match.path"; "configuration" for the document itself).
type Error struct {
	Path, Message string
}

func (e Error) Error() string { return e.Path + ": " + e.Message }

// Errorf makes an Error.
func Errorf(path, format string, args ...any) Error {
	if path == "" {
		path = "configuration"
	}
	return Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

// Under returns errs with their paths below prefix: a stage reports paths
// relative to its own section, its caller knows where that section is.
func Under(prefix string, errs []Error) []Error {
	for i := range errs {
		errs[i].Path = Join(prefix, errs[i].Path)
	}
	return errs
}

// Reader collects the errors of one reading pass.
type Reader struct {
	errs  []Error
	memos []memo
	// paths holds the bytes of the paths the reader made for the fields and
	// elements it walked, appended and never changed: every field of every
	// route gets its path whether or not it has an error, and in wasm one
	// allocation each was a sixth of configure for 1,000 routes.
	paths []byte
	strs  slab.Slab[string]
	doc   doc
}

// pathChunk is how many bytes of paths the reader allocates at a time. A
// path kept past the load would keep its whole chunk alive: a stage that
// keeps one keeps a copy (authz).
const pathChunk = 8 << 10

// grow makes room for n more bytes of paths in r.paths and returns them.
func (r *Reader) grow(n int) []byte {
	if cap(r.paths)-len(r.paths) < n {
		r.paths = make([]byte, 0, max(pathChunk, n))
	}
	start := len(r.paths)
	r.paths = r.paths[:start+n]
	return r.paths[start:]
}

// Join is the package's Join, in the reader's own buffer: for the paths a
// stage builds for every route, whether or not it reports an error there.
// The separator is stored, not copied: in wasm, each copy is a call.
func (r *Reader) Join(path, key string) string {
	if path == "" {
		return key
	}
	p := r.grow(len(path) + 1 + len(key))
	copy(p, path)
	p[len(path)] = '.'
	copy(p[len(path)+1:], key)
	return unsafe.String(&p[0], len(p))
}

// element is the path of element i of the array at path, its digits
// written in place.
func (r *Reader) element(path string, i int) string {
	digits := 1
	for v := i; v >= 10; v /= 10 {
		digits++
	}
	p := r.grow(len(path) + digits + 2)
	copy(p, path)
	p[len(path)] = '['
	for k, v := len(p)-2, i; k > len(path); k-- {
		p[k] = byte('0' + v%10)
		v /= 10
	}
	p[len(p)-1] = ']'
	return unsafe.String(&p[0], len(p))
}

type memo struct{ key, value any }

// Memo returns what build returned the first time this reader was asked for
// key (a value of a type of the caller's own): state that reading one
// document needs again and again, such as the Fields of an object every
// route has, built once instead of for every route. Each entry of a Fields
// is a closure and a map entry to build; in wasm, building them cost more
// than reading the object.
func (r *Reader) Memo(key any, build func() any) any {
	for _, m := range r.memos {
		if m.key == key {
			return m.value
		}
	}
	v := build()
	r.memos = append(r.memos, memo{key, v})
	return v
}

// Errors are the errors found so far, in the order found.
func (r *Reader) Errors() []Error { return r.errs }

// Errorf records an error at path.
func (r *Reader) Errorf(path, format string, args ...any) {
	r.errs = append(r.errs, Errorf(path, format, args...))
}

// Add records errors found by a stage's compiler, except those inside a field
// that already failed to read: the compiler saw only its zero value.
func (r *Reader) Add(errs ...Error) {
	read := len(r.errs)
	for _, e := range errs {
		if !covered(e.Path, r.errs[:read]) {
			r.errs = append(r.errs, e)
		}
	}
}

func covered(path string, errs []Error) bool {
	for _, e := range errs {
		p := e.Path
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// Parse checks the bytes are one JSON value and returns it. The document
// keeps raw, without a copy: the strings read from it point into it, and a
// pipeline keeps them (route names, paths), so the caller must not change
// raw afterwards.
func (r *Reader) Parse(raw []byte) (gjson.Result, bool) {
	if len(raw) == 0 {
		r.Errorf("configuration", "empty; expected a JSON object")
		return gjson.Result{}, false
	}
	r.doc = newDoc(raw)
	if offset, msg := checkSyntax(raw, &r.doc); msg != "" {
		r.Errorf("configuration", "invalid JSON at byte %d: %s", offset, msg)
		return gjson.Result{}, false
	}
	return gjson.Parse(r.doc.json), true
}

// ForEach calls fn for each member of the object or array v, with its key
// ("" in an array), until fn returns false: gjson's ForEach, which for a
// value of the parsed document does not scan nested values to find where
// they end (see doc).
func (r *Reader) ForEach(v gjson.Result, fn func(key string, v gjson.Result) bool) {
	if k, ok := r.doc.container(v); ok {
		r.doc.each(k, fn)
		return
	}
	v.ForEach(func(k, v gjson.Result) bool { return fn(k.Str, v) })
}

// Field is how one key of an object is read.
type Field struct {
	Required bool
	Read     func(path string, v gjson.Result)
}

// Fields are an object's known keys.
type Fields map[string]Field

// Object reads v as an object whose keys must all be in fields.
func (r *Reader) Object(path string, v gjson.Result, fields Fields) {
	r.object(path, v, fields, nil)
}

// FieldSet is a Fields prepared once for the objects of a document read
// with the same fields again and again (a route's, its match's; built once,
// Reader.Memo): reading one then walks no map. In wasm, hashing each key to
// find its field and walking every field to find the required ones cost a
// tenth of configure for 1,000 routes; a short list is scanned, comparing
// lengths first, and the required keys are listed.
type FieldSet struct {
	fields Fields
	keys   []string
	each   []Field
	// required are the required keys, sorted as Object reports them.
	required []string
}

// NewFieldSet prepares fields, of a few keys.
func NewFieldSet(fields Fields) *FieldSet {
	fs := &FieldSet{fields: fields}
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		fs.keys = append(fs.keys, key)
		fs.each = append(fs.each, fields[key])
		if fields[key].Required {
			fs.required = append(fs.required, key)
		}
	}
	return fs
}

func (fs *FieldSet) field(key string) (Field, bool) {
	for i, k := range fs.keys {
		if len(k) == len(key) && k == key {
			return fs.each[i], true
		}
	}
	return Field{}, false
}

// ObjectOf is Object with fields prepared.
func (r *Reader) ObjectOf(path string, v gjson.Result, fs *FieldSet) {
	r.object(path, v, fs.fields, fs)
}

// ReadInto reads the object v at path into a T that starts as init and
// returns it. It is for an object every route has (its "match", its
// "auth"): fields, given where the T being read is, are made into a
// FieldSet once per document (Memo, keyed by T) and serve every object of
// that kind. An object of kind T must not hold another of kind T.
func ReadInto[T any](r *Reader, path string, v gjson.Result, init T, fields func(into *T) Fields) T {
	in := r.Memo(intoKey[T]{}, func() any {
		in := &into[T]{}
		in.fields = NewFieldSet(fields(&in.value))
		return in
	}).(*into[T])
	in.value = init
	r.ObjectOf(path, v, in.fields)
	return in.value
}

// into is ReadInto's state for one kind of object: its fields, and the
// value they read into.
type into[T any] struct {
	fields *FieldSet
	value  T
}

type intoKey[T any] struct{}

// object reads v as an object of fields, prepared in fs when fs is not nil.
func (r *Reader) object(path string, v gjson.Result, fields Fields, fs *FieldSet) {
	if trace != nil {
		traceObject(path, fields)
	}
	if !v.IsObject() {
		r.Errorf(path, "must be an object, got %s", Kind(v))
		return
	}
	// The walk's own callback, not eachKey's: each level of callbacks
	// copies every member's gjson.Result, ten words that wasm copies with a
	// call, for every field of every route.
	var seen keySet
	r.ForEach(v, func(key string, val gjson.Result) bool {
		if !seen.add(key) {
			r.Errorf(Join(path, key), "duplicate key")
			return true
		}
		var f Field
		var known bool
		if fs != nil {
			f, known = fs.field(key)
		} else {
			f, known = fields[key]
		}
		if known {
			f.Read(r.Join(path, key), val)
		} else {
			r.Errorf(Join(path, key), "unknown field")
		}
		return true
	})
	if fs != nil {
		for _, key := range fs.required {
			if !seen.has(key) {
				r.Errorf(Join(path, key), "required")
			}
		}
		return
	}
	var missing []string
	for key, f := range fields {
		if f.Required && !seen.has(key) {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		r.Errorf(Join(path, key), "required")
	}
}

// Array calls each for every element of v, which must be an array.
func (r *Reader) Array(path string, v gjson.Result, each func(path string, i int, v gjson.Result)) {
	if !v.IsArray() {
		r.Errorf(path, "must be an array, got %s", Kind(v))
		return
	}
	if trace != nil {
		trace.elements(path, v)
	}
	i := 0
	r.ForEach(v, func(_ string, el gjson.Result) bool {
		each(r.element(path, i), i, el)
		i++
		return true
	})
}

func (r *Reader) Str(path string, v gjson.Result) (string, bool) {
	if v.Type != gjson.String {
		r.Errorf(path, "must be a string, got %s", Kind(v))
		return "", false
	}
	return v.Str, true
}

// Strings reads an array of strings. The list comes from the reader's
// blocks, as every route has one (its methods).
func (r *Reader) Strings(path string, v gjson.Result) []string {
	var buf [8]string
	out := buf[:0]
	r.Array(path, v, func(p string, _ int, el gjson.Result) {
		if s, ok := r.Str(p, el); ok {
			out = append(out, s)
		}
	})
	return r.strs.Clone(out)
}

// Enum reads a string that must be one of allowed.
func (r *Reader) Enum(path string, v gjson.Result, allowed ...string) (string, bool) {
	s, ok := r.Str(path, v)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	// A copy, so that allowed does not escape: callers' lists of literals
	// stay on their stacks.
	r.Errorf(path, "must be one of %q, got %q", slices.Clone(allowed), s)
	return "", false
}

// Join is the path of key inside the object at path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Empty reports whether v is an object or an array without members, without
// building them all as len(v.Map()) or len(v.Array()) would.
func Empty(v gjson.Result) bool {
	if !v.IsObject() && !v.IsArray() {
		return false
	}
	empty := true
	v.ForEach(func(_, _ gjson.Result) bool {
		empty = false
		return false
	})
	return empty
}

// Kind names what v is, for messages.
func Kind(v gjson.Result) string {
	switch {
	case !v.Exists():
		return "nothing"
	case v.IsObject():
		return "an object"
	case v.IsArray():
		return "an array"
	case v.Type == gjson.String:
		return "a string"
	case v.Type == gjson.Number:
		return "a number"
	case v.Type == gjson.True, v.Type == gjson.False:
		return "a boolean"
	default:
		return "null"
	}
}

func (r *Reader) Bool(path string, v gjson.Result) bool {
	if v.Type != gjson.True && v.Type != gjson.False {
		r.Errorf(path, "must be true or false, got %s", Kind(v))
		return false
	}
	return v.Bool()
}

// Count reads a whole number in [min, max].
func (r *Reader) Count(path string, v gjson.Result, min, max int64) int64 {
	if v.Type != gjson.Number {
		r.Errorf(path, "must be a number, got %s", Kind(v))
		return 0
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil || n < min || n > max {
		r.Errorf(path, "must be a whole number from %d to %d", min, max)
		return 0
	}
	return n
}

// EachKey calls each for every key of an object whose keys the user chooses
// (names of providers, hosts, headers...), in document order, refusing
// duplicates.
func (r *Reader) EachKey(path string, v gjson.Result, each func(path, key string, v gjson.Result)) {
	if trace != nil {
		trace.keys(path, v)
	}
	var seen keySet
	r.eachKey(path, v, &seen, each)
}

func (r *Reader) eachKey(path string, v gjson.Result, seen *keySet, each func(path, key string, v gjson.Result)) {
	if !v.IsObject() {
		r.Errorf(path, "must be an object, got %s", Kind(v))
		return
	}
	r.ForEach(v, func(key string, val gjson.Result) bool {
		if seen.add(key) {
			each(r.Join(path, key), key, val)
		} else {
			r.Errorf(Join(path, key), "duplicate key")
		}
		return true
	})
}

// keySet holds the keys of one object read so far: a list scanned in
// order while it is short, as most objects are, and a map past that. In
// wasm a map lookup hashes the key without AES instructions, and configure
// looks up every key of every route.
type keySet struct {
	short [16]string
	n     int
	long  map[string]struct{}
}

// add adds key, reporting false if it was there.
func (s *keySet) add(key string) bool {
	if s.has(key) {
		return false
	}
	switch {
	case s.n < len(s.short):
		s.short[s.n] = key
		s.n++
	case s.long == nil:
		s.long = map[string]struct{}{key: {}}
	default:
		s.long[key] = struct{}{}
	}
	return true
}

func (s *keySet) has(key string) bool {
	for _, k := range s.short[:s.n] {
		if k == key {
			return true
		}
	}
	if s.long == nil {
		// Not a lookup in a nil map: in wasm that is still a call.
		return false
	}
	_, ok := s.long[key]
	return ok
}
