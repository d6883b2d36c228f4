package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/tidwall/gjson"
)

// configReader reads the filter JSON strictly: every unknown or duplicate key,
// missing required field and wrongly typed value becomes an error naming its
// JSON path, and reading goes on so that one pass reports them all. A typo must
// never silently disable a protection.
type configReader struct {
	errs []error
}

func (r *configReader) errorf(path, format string, args ...any) {
	if path == "" {
		path = "configuration"
	}
	r.errs = append(r.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
}

// parseDocument checks the bytes are one JSON value and returns it.
func (r *configReader) parseDocument(raw []byte) (gjson.Result, bool) {
	if len(raw) == 0 {
		r.errorf("configuration", "empty; expected a JSON object")
		return gjson.Result{}, false
	}
	var probe json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			r.errorf("configuration", "invalid JSON at byte %d: %v", syn.Offset, syn)
		} else {
			r.errorf("configuration", "invalid JSON: %v", err)
		}
		return gjson.Result{}, false
	}
	return gjson.ParseBytes(raw), true
}

// field is how one key of an object is read.
type field struct {
	required bool
	read     func(path string, v gjson.Result)
}

// object reads v as an object whose keys must all be in fields.
func (r *configReader) object(path string, v gjson.Result, fields map[string]field) {
	if !v.IsObject() {
		r.errorf(path, "must be an object, got %s", kind(v))
		return
	}
	seen := map[string]bool{}
	r.eachKey(path, v, func(p, key string, val gjson.Result) {
		seen[key] = true
		if f, known := fields[key]; known {
			f.read(p, val)
		} else {
			r.errorf(p, "unknown field")
		}
	})
	var missing []string
	for key, f := range fields {
		if f.required && !seen[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		r.errorf(join(path, key), "required")
	}
}

// array calls each for every element of v, which must be an array.
func (r *configReader) array(path string, v gjson.Result, each func(path string, i int, v gjson.Result)) {
	if !v.IsArray() {
		r.errorf(path, "must be an array, got %s", kind(v))
		return
	}
	for i, el := range v.Array() {
		each(path+"["+strconv.Itoa(i)+"]", i, el)
	}
}

func (r *configReader) str(path string, v gjson.Result) (string, bool) {
	if v.Type != gjson.String {
		r.errorf(path, "must be a string, got %s", kind(v))
		return "", false
	}
	return v.Str, true
}

func (r *configReader) strings(path string, v gjson.Result) []string {
	var out []string
	r.array(path, v, func(p string, _ int, el gjson.Result) {
		if s, ok := r.str(p, el); ok {
			out = append(out, s)
		}
	})
	return out
}

// enum reads a string that must be one of allowed.
func (r *configReader) enum(path string, v gjson.Result, allowed ...string) (string, bool) {
	s, ok := r.str(path, v)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	r.errorf(path, "must be one of %q, got %q", allowed, s)
	return "", false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kind(v gjson.Result) string {
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

func (r *configReader) boolean(path string, v gjson.Result) bool {
	if v.Type != gjson.True && v.Type != gjson.False {
		r.errorf(path, "must be true or false, got %s", kind(v))
		return false
	}
	return v.Bool()
}

// count reads a whole number in [min, max].
func (r *configReader) count(path string, v gjson.Result, min, max int64) int64 {
	if v.Type != gjson.Number {
		r.errorf(path, "must be a number, got %s", kind(v))
		return 0
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil || n < min || n > max {
		r.errorf(path, "must be a whole number from %d to %d", min, max)
		return 0
	}
	return n
}

// eachKey calls each for every key of an object, in document order, refusing
// duplicates.
func (r *configReader) eachKey(path string, v gjson.Result, each func(path, key string, v gjson.Result)) {
	if !v.IsObject() {
		r.errorf(path, "must be an object, got %s", kind(v))
		return
	}
	seen := map[string]bool{}
	v.ForEach(func(k, val gjson.Result) bool {
		key := k.String()
		if seen[key] {
			r.errorf(join(path, key), "duplicate key")
		} else {
			each(join(path, key), key, val)
		}
		seen[key] = true
		return true
	})
}
