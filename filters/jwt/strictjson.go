package jwt

import (
	"errors"

	"github.com/tidwall/gjson"
)

// maxJSONDepth bounds the nesting strictObject walks, so a hostile document
// costs bounded work.
const maxJSONDepth = 32

var (
	errNotJSONObject = errors.New("not a JSON object")
	errDuplicateKey  = errors.New("duplicate JSON key")
	errTooDeep       = errors.New("JSON nested too deeply")
)

// strictObject parses b as one JSON object in which no object, at any depth,
// repeats a key (compared after unescaping, so "a" and "\u0061" collide).
// Duplicates are refused because two parsers may pick different values: the
// authorization stage and the upstream must never see different claims.
func strictObject(b []byte) (gjson.Result, error) {
	if !gjson.ValidBytes(b) {
		return gjson.Result{}, errNotJSONObject
	}
	doc := gjson.ParseBytes(b)
	if !doc.IsObject() {
		return gjson.Result{}, errNotJSONObject
	}
	if err := checkUnique(doc, 0); err != nil {
		return gjson.Result{}, err
	}
	return doc, nil
}

func checkUnique(v gjson.Result, depth int) error {
	if depth > maxJSONDepth {
		return errTooDeep
	}
	var err error
	switch {
	case v.IsObject():
		var seen map[string]struct{}
		v.ForEach(func(k, val gjson.Result) bool {
			key := k.String()
			if seen == nil {
				seen = make(map[string]struct{}, 8)
			}
			if _, dup := seen[key]; dup {
				err = errDuplicateKey
				return false
			}
			seen[key] = struct{}{}
			err = checkUnique(val, depth+1)
			return err == nil
		})
	case v.IsArray():
		v.ForEach(func(_, val gjson.Result) bool {
			err = checkUnique(val, depth+1)
			return err == nil
		})
	}
	return err
}
