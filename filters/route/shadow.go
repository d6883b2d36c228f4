package route

import (
	"slices"
	"strings"

	"github.com/apiguard/apiguard/filters/verdict"
)

// Variant is how a request differs from the form a route was written for.
type Variant uint8

const (
	// TrailingSlash is the other slash form of a StrictSlash route.
	TrailingSlash Variant = iota + 1
	// Case is the path with one literal segment upper- or lower-cased.
	Case
	// Method is a method the route does not list.
	Method
	// Port is the route's host on a port its patterns do not name, which
	// the routes without hosts serve.
	Port
)

func (v Variant) String() string {
	switch v {
	case TrailingSlash:
		return "trailing slash"
	case Case:
		return "letter case"
	case Method:
		return "method"
	case Port:
		return "port"
	}
	return "unknown"
}

// Shadow is a near miss: requests that differ from route Route only by a
// Variant and that route By serves instead, or, with By -1 as from Match,
// that no route matches (a 404, unless the policy allows unmatched requests). An upstream that ignores that
// difference (Express and older Spring ignore a trailing slash, ASP.NET
// ignores case, many frameworks route by path alone) serves Route's handler
// under By's policy.
type Shadow struct {
	Route, By int
	// Host is the route's host group (see Table.Host); In is the group
	// that matched the variant, AnyHost for a Port variant, else Host.
	Host, In int
	Variant  Variant
	// Methods and Path are the requests, e.g. DELETE and PATCH on "/admin".
	Methods []string
	Path    string
}

// probeMethods are the methods tried for Method variants: RFC 9110's and
// PATCH (RFC 5789).
var probeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}

// Shadows matches each route's variants against the routes of its host
// groups and returns every one another route serves, by group, then in
// route order. It is meant for compile time: each call does a few matches
// per route segment and host.
func (t *Table) Shadows() []Shadow {
	var out []Shadow
	for g := range t.groups {
		for _, i := range t.groups[g].routes {
			out = t.shadows(out, g, i)
		}
	}
	return out
}

// shadows appends route i's near misses in host group g.
func (t *Table) shadows(out []Shadow, g, i int) []Shadow {
	var p Params
	c := t.routes[i]
	trailing := c.slash == withSlash
	path := c.example(trailing, -1, nil)
	method := "GET"
	if c.methods != nil {
		method = c.methods[0]
	}
	if c.slash != eitherSlash {
		out = t.probe(out, len(out), &p, g, i, TrailingSlash, []string{method}, c.example(!trailing, -1, nil))
	}
	if g != AnyHost {
		from := len(out)
		out = t.probe(out, from, &p, AnyHost, i, Port, []string{method}, path)
		for k := from; k < len(out); k++ {
			out[k].Host = g
		}
	}
	// One segment at a time, upper- then lower-cased: a route that serves
	// the variant must match the other segments as written.
	caseFrom := len(out)
	for k := range c.segs {
		for _, fold := range []func(string) string{strings.ToUpper, strings.ToLower} {
			if v := c.example(trailing, k, fold); v != path {
				out = t.probe(out, caseFrom, &p, g, i, Case, []string{method}, v)
			}
		}
	}
	if c.methods != nil {
		var others []string
		for _, m := range probeMethods {
			if !slices.Contains(c.methods, m) && (m != "HEAD" || !slices.Contains(c.methods, "GET")) {
				others = append(others, m)
			}
		}
		from := len(out)
		out = t.probe(out, from, &p, g, i, Method, others, path)
		if c.slash == eitherSlash && !c.glob && len(c.segs) > 0 {
			out = t.probe(out, from, &p, g, i, Method, others, path+"/")
		}
	}
	return out
}

// probe appends a Shadow for each other route that serves some of methods on
// path, unless one in out[from:] already names that route for another path.
func (t *Table) probe(out []Shadow, from int, p *Params, g, route int, v Variant, methods []string, path string) []Shadow {
	for _, m := range methods {
		by, d := t.Match(g, m, path, p)
		if d.Reason == verdict.MethodNotAllowed || by == route {
			continue
		}
		k := from
		for k < len(out) && out[k].By != by {
			k++
		}
		switch {
		case k == len(out):
			out = append(out, Shadow{Route: route, By: by, Host: g, In: g, Variant: v, Methods: []string{m}, Path: path})
		case out[k].Path == path:
			out[k].Methods = append(out[k].Methods, m)
		}
	}
	return out
}

// example is a request path the route matches as written, but for literal
// segment folded (-1: none), passed through fold. Each {param} is sent as
// itself (no literal route segment can contain a brace), a glob as its prefix.
func (c compiled) example(trailing bool, folded int, fold func(string) string) string {
	if len(c.segs) == 0 {
		return "/"
	}
	var b strings.Builder
	for k, s := range c.segs {
		b.WriteByte('/')
		if k == folded && !strings.HasPrefix(s, "{") {
			s = fold(s)
		}
		b.WriteString(s)
	}
	if trailing {
		b.WriteByte('/')
	}
	return b.String()
}
