package pipeline

import (
	"maps"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/audit"
	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/peer"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/stage"
)

// Load reads the filter JSON and compiles it: the one entry point of the
// plugin and of the check command, so the two can never disagree. It returns
// every error found, each at its JSON path, or the pipeline. Each stage reads
// its own section and owns its defaults and ranges; this reads only the
// document's frame (routes, default, hosts).
func Load(raw []byte) (*Pipeline, []config.Error) {
	r := &config.Reader{}
	doc, ok := r.Parse(raw)
	if !ok {
		return nil, r.Errors()
	}
	var cfg Config
	// The stages' global settings first: every route's stage starts from
	// them.
	globals := make([]any, len(Stages))
	fields := config.Fields{}
	for i, spec := range Stages {
		if spec.Global == nil {
			continue
		}
		fields[spec.Key] = config.Field{Read: func(string, gjson.Result) {}}
		if v := doc.Get(spec.Key); v.Exists() || spec.Always {
			globals[i] = spec.Global(r, spec.Key, v)
		}
		if globals[i] != nil {
			if st := spec.Compile(r, spec.Key, gjson.Result{}, globals[i]); st != nil {
				cfg.Unmatched = append(cfg.Unmatched, st)
			}
		}
	}
	maps.Copy(fields, config.Fields{
		"providers": {Read: func(p string, v gjson.Result) { cfg.Providers = authn.ReadProviders(r, p, v) }},
		"routes": {Required: true, Read: func(p string, v gjson.Result) {
			r.Array(p, v, func(p string, _ int, v gjson.Result) { cfg.Routes = append(cfg.Routes, readRoute(r, p, v, globals)) })
		}},
		"default": {Read: func(p string, v gjson.Result) { cfg.DefaultAllow = readDefault(r, p, v) }},
		"audit":   {Read: func(p string, v gjson.Result) { cfg.Audit = audit.Read(r, p, v) }},
		"hosts": {Read: func(p string, v gjson.Result) {
			r.EachKey(p, v, func(p, key string, v gjson.Result) {
				h := Host{Pattern: key}
				r.Object(p, v, config.Fields{
					"default": {Required: true, Read: func(p string, v gjson.Result) { h.DefaultAllow = readDefault(r, p, v) }},
				})
				cfg.Hosts = append(cfg.Hosts, h)
			})
		}},
	})
	r.Object("", doc, fields)
	pl, errs := Compile(cfg)
	r.Add(errs...)
	if len(r.Errors()) > 0 {
		return nil, r.Errors()
	}
	return pl, nil
}

func readDefault(r *config.Reader, path string, v gjson.Result) bool {
	s, _ := r.Enum(path, v, "deny", "allow")
	return s == "allow"
}

func readRoute(r *config.Reader, path string, v gjson.Result, globals []any) Route {
	var rt Route
	fields := config.Fields{
		"name":  {Required: true, Read: func(p string, v gjson.Result) { rt.Name, _ = r.Str(p, v) }},
		"match": {Required: true, Read: func(p string, v gjson.Result) { rt.Match = route.ReadSpec(r, p, v) }},
		// Every route says how it is authenticated; "none" must be
		// written out: a route is never public by omission.
		"auth": {Required: true, Read: func(p string, v gjson.Result) { rt.Auth = authn.ReadRouteAuth(r, p, v) }},
		"peer": {Read: func(p string, v gjson.Result) { rt.Peer = peer.Read(r, p, v) }},
	}
	// Each optional stage reads its own field; they run in the order of
	// Stages, whatever the order of the fields.
	stages := make([]stage.Stage, len(Stages))
	own := make([]bool, len(Stages))
	for i, spec := range Stages {
		fields[spec.Key] = config.Field{Read: func(p string, v gjson.Result) { stages[i], own[i] = spec.Compile(r, p, v, globals[i]), true }}
	}
	r.Object(path, v, fields)
	for i, spec := range Stages {
		if !own[i] && globals[i] != nil {
			stages[i] = spec.Compile(r, config.Join(path, spec.Key), gjson.Result{}, globals[i])
		}
	}
	for _, st := range stages {
		if st != nil {
			rt.Stages = append(rt.Stages, st)
		}
	}
	return rt
}
