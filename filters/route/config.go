package route

import (
	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
)

// SpecReader reads routes' "match" objects; Compile checks what it read.
// Its fields are built once for every route it reads.
type SpecReader struct {
	r      *config.Reader
	fields config.Fields
	spec   Spec
}

// NewSpecReader returns a SpecReader that records errors in r.
func NewSpecReader(r *config.Reader) *SpecReader {
	sr := &SpecReader{r: r}
	sr.fields = config.Fields{
		"path":         {Required: true, Read: func(p string, v gjson.Result) { sr.spec.Path, _ = r.Str(p, v) }},
		"methods":      {Read: func(p string, v gjson.Result) { sr.spec.Methods = r.Strings(p, v) }},
		"strict_slash": {Read: func(p string, v gjson.Result) { sr.spec.StrictSlash = r.Bool(p, v) }},
		"hosts": {Read: func(p string, v gjson.Result) {
			if sr.spec.Hosts = r.Strings(p, v); v.IsArray() && len(v.Array()) == 0 {
				r.Errorf(p, "must not be empty: omit it to match any host")
			}
		}},
	}
	return sr
}

// Read reads the "match" object at path.
func (sr *SpecReader) Read(path string, v gjson.Result) Spec {
	sr.spec = Spec{}
	sr.r.Object(path, v, sr.fields)
	return sr.spec
}
