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
	"github.com/apiguard/apiguard/internal/slab"
)

// Load reads the filter JSON and compiles it: the one entry point of the
// plugin and of the check command, so the two can never disagree. It returns
// every error found, each at its JSON path, or the pipeline. Each stage reads
// its own section and owns its defaults and ranges; this reads only the
// document's frame (routes, default, hosts). The pipeline keeps raw, whose
// bytes its names and paths are: the caller must not change it afterwards.
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
	top := topLevel(r, doc)
	for i, spec := range Stages {
		if spec.Global == nil {
			continue
		}
		fields[spec.Key] = config.Field{Read: func(string, gjson.Result) {}}
		if v := top[i]; v.Exists() || spec.Always {
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
			rr := newRouteReader(r, globals)
			// Counted first: appending 1,000 routes one by one copied the
			// growing list ten times, 0.6 MB of garbage at the peak of
			// configure's memory.
			n := 0
			r.ForEach(v, func(string, gjson.Result) bool { n++; return true })
			cfg.Routes = make([]Route, 0, n)
			// Read in place: a Route is many words, and copies of it cost
			// in wasm.
			r.Array(p, v, func(p string, i int, v gjson.Result) {
				cfg.Routes = cfg.Routes[:i+1]
				rr.read(&cfg.Routes[i], p, v)
			})
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

// topLevel finds the stages' top-level fields (by index in Stages) in one
// pass over the document: gjson.Get would skip over the routes once per
// stage. Of duplicate keys, which Load refuses, it keeps the first.
func topLevel(r *config.Reader, doc gjson.Result) []gjson.Result {
	top := make([]gjson.Result, len(Stages))
	if !doc.IsObject() {
		return top
	}
	r.ForEach(doc, func(k string, v gjson.Result) bool {
		for i, spec := range Stages {
			if spec.Key == k && !top[i].Exists() {
				top[i] = v
			}
		}
		return true
	})
	return top
}

func readDefault(r *config.Reader, path string, v gjson.Result) bool {
	s, _ := r.Enum(path, v, "deny", "allow")
	return s == "allow"
}

// routeReader reads the routes of one document. A route's fields are built
// once for all of them, not once per route: each field is a closure and a
// map entry to build, which for 1,000 routes cost more than reading them.
type routeReader struct {
	r       *config.Reader
	globals []any
	fields  *config.FieldSet
	// rt is the route being read; stages its optional stages, by index in
	// Stages, own[i] set when it has stage i's field.
	rt     *Route
	stages []stage.Stage
	own    []bool
	// lists hand out the routes' lists of stages.
	lists slab.Slab[stage.Stage]
}

func newRouteReader(r *config.Reader, globals []any) *routeReader {
	rr := &routeReader{r: r, globals: globals, stages: make([]stage.Stage, len(Stages)), own: make([]bool, len(Stages))}
	fields := config.Fields{
		"name":  {Required: true, Read: func(p string, v gjson.Result) { rr.rt.Name, _ = r.Str(p, v) }},
		"match": {Required: true, Read: func(p string, v gjson.Result) { rr.rt.Match = route.ReadSpec(r, p, v) }},
		// Every route says how it is authenticated; "none" must be
		// written out: a route is never public by omission.
		"auth": {Required: true, Read: func(p string, v gjson.Result) { rr.rt.Auth = authn.ReadRouteAuth(r, p, v) }},
		"peer": {Read: func(p string, v gjson.Result) { rr.rt.Peer = peer.Read(r, p, v) }},
	}
	// Each optional stage reads its own field; they run in the order of
	// Stages, whatever the order of the fields.
	for i, spec := range Stages {
		fields[spec.Key] = config.Field{Read: func(p string, v gjson.Result) { rr.stages[i], rr.own[i] = spec.Compile(r, p, v, globals[i]), true }}
	}
	rr.fields = config.NewFieldSet(fields)
	return rr
}

// read reads the route at path.
func (rr *routeReader) read(rt *Route, path string, v gjson.Result) {
	rr.rt = rt
	clear(rr.stages)
	clear(rr.own)
	rr.r.ObjectOf(path, v, rr.fields)
	for i, spec := range Stages {
		if !rr.own[i] && rr.globals[i] != nil {
			rr.stages[i] = spec.Compile(rr.r, rr.r.Join(path, spec.Key), gjson.Result{}, rr.globals[i])
		}
	}
	n := 0
	for _, st := range rr.stages {
		if st != nil {
			n++
		}
	}
	rr.rt.Stages = rr.lists.Make(n)[:0]
	for _, st := range rr.stages {
		if st != nil {
			rr.rt.Stages = append(rr.rt.Stages, st)
		}
	}
	rr.rt = nil
}
