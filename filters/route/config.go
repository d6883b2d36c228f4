package route

import (
	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
)

// ReadSpec reads a route's "match" object; Compile checks what it read.
func ReadSpec(r *config.Reader, path string, v gjson.Result) Spec {
	return config.ReadInto(r, path, v, Spec{}, func(spec *Spec) config.Fields {
		return config.Fields{
			"path":         {Required: true, Read: func(p string, v gjson.Result) { spec.Path, _ = r.Str(p, v) }},
			"methods":      {Read: func(p string, v gjson.Result) { spec.Methods = r.Strings(p, v) }},
			"strict_slash": {Read: func(p string, v gjson.Result) { spec.StrictSlash = r.Bool(p, v) }},
			"hosts": {Read: func(p string, v gjson.Result) {
				if spec.Hosts = r.Strings(p, v); v.IsArray() && len(v.Array()) == 0 {
					r.Errorf(p, "must not be empty: omit it to match any host")
				}
			}},
		}
	})
}
