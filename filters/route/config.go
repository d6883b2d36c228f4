package route

import (
	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
)

// ReadSpec reads a route's "match" object; Compile checks what it read.
func ReadSpec(r *config.Reader, path string, v gjson.Result) Spec {
	sr := r.Memo(specReaderKey{}, func() any { return newSpecReader(r) }).(*specReader)
	sr.spec = Spec{}
	r.ObjectOf(path, v, sr.fields)
	return sr.spec
}

type specReaderKey struct{}

// specReader reads the "match" objects of one document, into spec, with
// the same fields (config.Reader.Memo).
type specReader struct {
	fields *config.FieldSet
	spec   Spec
}

func newSpecReader(r *config.Reader) *specReader {
	sr := &specReader{}
	sr.fields = config.NewFieldSet(config.Fields{
		"path":         {Required: true, Read: func(p string, v gjson.Result) { sr.spec.Path, _ = r.Str(p, v) }},
		"methods":      {Read: func(p string, v gjson.Result) { sr.spec.Methods = r.Strings(p, v) }},
		"strict_slash": {Read: func(p string, v gjson.Result) { sr.spec.StrictSlash = r.Bool(p, v) }},
		"hosts": {Read: func(p string, v gjson.Result) {
			if sr.spec.Hosts = r.Strings(p, v); v.IsArray() && len(v.Array()) == 0 {
				r.Errorf(p, "must not be empty: omit it to match any host")
			}
		}},
	})
	return sr
}
