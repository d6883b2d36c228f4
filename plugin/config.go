package main

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/pipeline"
)

// compileConfig parses the filter JSON and compiles it. It returns every error,
// each naming its JSON path (routes[2].match.path: ...).
func compileConfig(raw []byte) (*pipeline.Pipeline, keySources, []error) {
	cfg, keys, errs := parseConfig(raw)
	if cfg == nil {
		return nil, nil, errs
	}
	pl, compileErrs := pipeline.Compile(*cfg)
	// A field that failed to parse (or sits inside one that did) must not be
	// reported again by the compiler, which saw only its zero value.
	parsed := len(errs)
	for _, e := range compileErrs {
		if !coveredBy(errorPath(e), errs[:parsed]) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return pl, keys, nil
}

func coveredBy(path string, errs []error) bool {
	for _, e := range errs {
		p := errorPath(e)
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

func errorPath(e error) string {
	path, _, _ := strings.Cut(e.Error(), ": ")
	return path
}

// parseConfig reads the filter JSON into a pipeline.Config and the providers
// key sets. It returns nil only when the document is not JSON at all.
func parseConfig(raw []byte) (*pipeline.Config, keySources, []error) {
	r := &configReader{}
	doc, ok := r.parseDocument(raw)
	if !ok {
		return nil, nil, r.errs
	}
	cfg := &pipeline.Config{}
	var keys keySources
	r.object("", doc, map[string]field{
		"providers": {read: func(p string, v gjson.Result) { r.providers(p, v, cfg, &keys) }},
		"routes": {required: true, read: func(p string, v gjson.Result) {
			r.array(p, v, func(p string, _ int, v gjson.Result) {
				cfg.Routes = append(cfg.Routes, r.route(p, v))
			})
		}},
		"default": {read: func(p string, v gjson.Result) {
			s, _ := r.enum(p, v, "deny", "allow")
			cfg.DefaultAllow = s == "allow"
		}},
		"hosts": {read: func(p string, v gjson.Result) {
			r.eachKey(p, v, func(p, key string, v gjson.Result) {
				h := pipeline.Host{Pattern: key}
				r.object(p, v, map[string]field{
					"default": {required: true, read: func(p string, v gjson.Result) {
						s, _ := r.enum(p, v, "deny", "allow")
						h.DefaultAllow = s == "allow"
					}},
				})
				cfg.Hosts = append(cfg.Hosts, h)
			})
		}},
	})
	return cfg, keys, r.errs
}

func (r *configReader) route(path string, v gjson.Result) pipeline.Route {
	var rt pipeline.Route
	r.object(path, v, map[string]field{
		"name": {required: true, read: func(p string, v gjson.Result) { rt.Name, _ = r.str(p, v) }},
		"match": {required: true, read: func(p string, v gjson.Result) {
			r.object(p, v, map[string]field{
				"path":         {required: true, read: func(p string, v gjson.Result) { rt.Match.Path, _ = r.str(p, v) }},
				"methods":      {read: func(p string, v gjson.Result) { rt.Match.Methods = r.strings(p, v) }},
				"strict_slash": {read: func(p string, v gjson.Result) { rt.Match.StrictSlash = r.boolean(p, v) }},
				"hosts": {read: func(p string, v gjson.Result) {
					if rt.Match.Hosts = r.strings(p, v); v.IsArray() && len(v.Array()) == 0 {
						r.errorf(p, "must not be empty: omit it to match any host")
					}
				}},
			})
		}},
		// Every route says how it is authenticated; "none" must be written
		// out: a route is never public by omission.
		"auth": {required: true, read: func(p string, v gjson.Result) { r.routeAuth(p, v, &rt) }},
	})
	return rt
}
