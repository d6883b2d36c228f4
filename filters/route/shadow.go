package route

import (
	"slices"
	"strings"
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

// Shadows matches the variants of each route that of accepts (nil: every
// route) against the routes of its host groups and returns every one
// another route serves, by group, then in route order. It is meant for
// compile time: each route costs a walk of the table per variant path.
func (t *Table) Shadows(of func(route int) bool) []Shadow {
	var out []Shadow
	var sc shadowScratch
	for g := range t.groups {
		for _, i := range t.groups[g].routes {
			if of == nil || of(i) {
				out = t.shadows(out, &sc, g, i)
			}
		}
	}
	return out
}

// shadowScratch is what the probes of one Shadows call reuse.
type shadowScratch struct {
	params  Params
	serving []servingTerminal
}

// shadows appends route i's near misses in host group g.
func (t *Table) shadows(out []Shadow, sc *shadowScratch, g, i int) []Shadow {
	c := t.routes[i]
	trailing := c.slash == withSlash
	path := c.example(trailing, -1, "")
	method := "GET"
	if c.methods != nil {
		method = c.methods[0]
	}
	if c.slash != eitherSlash {
		out = t.probe(out, len(out), sc, g, i, TrailingSlash, c.example(!trailing, -1, ""), method)
	}
	if g != AnyHost {
		from := len(out)
		out = t.probe(out, from, sc, AnyHost, i, Port, path, method)
		for k := from; k < len(out); k++ {
			out[k].Host = g
		}
	}
	// One segment at a time, upper- then lower-cased: a route that serves
	// the variant must match the other segments as written.
	caseFrom := len(out)
	for k, seg := range c.segs {
		if strings.HasPrefix(seg, "{") {
			continue
		}
		for _, fold := range []func(string) string{strings.ToUpper, strings.ToLower} {
			if v := fold(seg); v != seg {
				out = t.probe(out, caseFrom, sc, g, i, Case, c.example(trailing, k, v), method)
			}
		}
	}
	if c.methods != nil {
		from := len(out)
		out = t.probe(out, from, sc, g, i, Method, path, c.methods...)
		if c.slash == eitherSlash && !c.glob && len(c.segs) > 0 {
			out = t.probe(out, from, sc, g, i, Method, path+"/", c.methods...)
		}
	}
	return out
}

// probe appends a Shadow for each other route that serves path: for variant
// Method, on the methods of probeMethods that listed (route's methods) does
// not serve, else on listed[0]. A route already named in out[from:] for
// another path is not named again. The table is walked once for all the
// methods (Table.serving).
func (t *Table) probe(out []Shadow, from int, sc *shadowScratch, g, route int, v Variant, path string, listed ...string) []Shadow {
	sc.serving = t.serving(g, path, &sc.params, sc.serving[:0])
	if v != Method {
		return t.record(out, from, sc.serving, g, route, v, path, listed[0])
	}
	for _, m := range probeMethods {
		if !slices.Contains(listed, m) && (m != "HEAD" || !slices.Contains(listed, "GET")) {
			out = t.record(out, from, sc.serving, g, route, v, path, m)
		}
	}
	return out
}

// record appends the Shadow of method m on path, which the terminals of
// serving (in precedence order) serve, unless m is served by route itself
// or refused with a 405.
func (t *Table) record(out []Shadow, from int, serving []servingTerminal, g, route int, v Variant, path, m string) []Shadow {
	by := -1
	for _, st := range serving {
		if r, ok := st.t.find(m, st.trailing); ok {
			by = r
			break
		}
	}
	if by == route || by < 0 && len(serving) > 0 {
		return out
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
	return out
}

// example is a request path the route matches as written, but for literal
// segment folded (-1: none), replaced by with. Each {param} is sent as
// itself (no literal route segment can contain a brace), a glob as its
// prefix.
func (c compiled) example(trailing bool, folded int, with string) string {
	if len(c.segs) == 0 {
		return "/"
	}
	n := 0
	for _, s := range c.segs {
		n += 1 + len(s)
	}
	if folded >= 0 {
		n += len(with) - len(c.segs[folded])
	}
	if trailing {
		n++
	}
	var b strings.Builder
	b.Grow(n)
	for k, s := range c.segs {
		b.WriteByte('/')
		if k == folded {
			s = with
		}
		b.WriteString(s)
	}
	if trailing {
		b.WriteByte('/')
	}
	return b.String()
}
