package route

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/slab"
)

var shopRoutes = []Spec{
	{Name: "health", Path: "/healthz", Methods: []string{"GET"}},
	{Name: "root", Path: "/"},
	{Name: "tenant-orders", Path: "/tenants/{tenant}/orders", Methods: []string{"GET", "POST"}},
	{Name: "tenant-order", Path: "/tenants/{tenant}/orders/{order}", Methods: []string{"GET"}},
	{Name: "tenant-order-delete", Path: "/tenants/{tenant}/orders/{order}", Methods: []string{"DELETE"}},
	{Name: "my-orders", Path: "/tenants/mine/orders", Methods: []string{"GET"}},
	{Name: "user-me", Path: "/users/me", Methods: []string{"GET"}},
	{Name: "user", Path: "/users/{id}"},
	{Name: "static", Path: "/static/**", Methods: []string{"GET"}},
	{Name: "static-css", Path: "/static/css/**", Methods: []string{"GET"}},
	{Name: "files-of", Path: "/files/{owner}/**"},
	{Name: "dir", Path: "/dir/"},
	{Name: "head-public", Path: "/probe", Methods: []string{"GET"}},
	{Name: "head-own", Path: "/probe", Methods: []string{"HEAD"}},
	{Name: "head-own-first", Path: "/probe2", Methods: []string{"HEAD"}},
	{Name: "head-public-second", Path: "/probe2", Methods: []string{"GET"}},
	{Name: "strict", Path: "/strict", Methods: []string{"GET"}, StrictSlash: true},
	{Name: "strict-dir", Path: "/strict/", Methods: []string{"POST"}, StrictSlash: true},
	{Name: "strict-other", Path: "/strict-only", StrictSlash: true},
	{Name: "debug-trace", Path: "/debug", Methods: []string{"TRACE"}},
}

func TestMatch(t *testing.T) {
	table, errs := Compile(shopRoutes)
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		name, method, path string
		wantRoute          string // "" when denied
		wantReason         verdict.Reason
		wantAllow          string
		wantParams         map[string]string
	}{
		{name: "exact", method: "GET", path: "/healthz", wantRoute: "health"},
		{name: "root", method: "GET", path: "/", wantRoute: "root"},
		{name: "HEAD where GET", method: "HEAD", path: "/healthz", wantRoute: "health"},
		{name: "wrong method on exact", method: "POST", path: "/healthz", wantReason: verdict.MethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "template captures", method: "GET", path: "/tenants/acme/orders/7", wantRoute: "tenant-order",
			wantParams: map[string]string{"tenant": "acme", "order": "7"}},
		{name: "same shape, other method", method: "DELETE", path: "/tenants/acme/orders/7", wantRoute: "tenant-order-delete",
			wantParams: map[string]string{"tenant": "acme", "order": "7"}},
		{name: "same shape, no method", method: "PUT", path: "/tenants/acme/orders/7", wantReason: verdict.MethodNotAllowed, wantAllow: "DELETE, GET, HEAD"},
		{name: "literal beats param", method: "GET", path: "/tenants/mine/orders", wantRoute: "my-orders"},
		{name: "literal without the method falls back to param", method: "POST", path: "/tenants/mine/orders", wantRoute: "tenant-orders",
			wantParams: map[string]string{"tenant": "mine"}},
		{name: "any-method template behind a GET-only literal", method: "DELETE", path: "/users/me", wantRoute: "user",
			wantParams: map[string]string{"id": "me"}},
		{name: "param needs a non-empty segment", method: "GET", path: "/tenants//orders", wantReason: verdict.NoRoute},
		{name: "param does not span segments", method: "GET", path: "/users/a/b", wantReason: verdict.NoRoute},
		{name: "glob matches its prefix", method: "GET", path: "/static", wantRoute: "static"},
		{name: "glob matches below", method: "GET", path: "/static/js/app.js", wantRoute: "static"},
		{name: "longer glob wins", method: "GET", path: "/static/css/site.css", wantRoute: "static-css"},
		{name: "glob checks the method", method: "POST", path: "/static/x", wantReason: verdict.MethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "param then glob", method: "PUT", path: "/files/bob/a/b/c", wantRoute: "files-of", wantParams: map[string]string{"owner": "bob"}},
		{name: "trailing slash on an exact route", method: "GET", path: "/healthz/", wantRoute: "health"},
		{name: "trailing slash on a template", method: "GET", path: "/tenants/acme/orders/7/", wantRoute: "tenant-order",
			wantParams: map[string]string{"tenant": "acme", "order": "7"}},
		{name: "trailing slash keeps the method check", method: "POST", path: "/healthz/", wantReason: verdict.MethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "route written with a slash matches without", method: "GET", path: "/dir", wantRoute: "dir"},
		{name: "route written with a slash", method: "GET", path: "/dir/", wantRoute: "dir"},
		{name: "glob with a trailing slash", method: "GET", path: "/static/", wantRoute: "static"},
		{name: "root", method: "GET", path: "/", wantRoute: "root"},
		{name: "strict slash, as written", method: "GET", path: "/strict", wantRoute: "strict"},
		{name: "strict slash, other route's form", method: "POST", path: "/strict/", wantRoute: "strict-dir"},
		{name: "strict slash, 405 names the form's methods", method: "GET", path: "/strict/", wantReason: verdict.MethodNotAllowed, wantAllow: "POST"},
		{name: "strict slash, no form", method: "GET", path: "/strict-only/", wantReason: verdict.NoRoute},
		{name: "HEAD listed beats HEAD by GET listed before it", method: "HEAD", path: "/probe", wantRoute: "head-own"},
		{name: "HEAD listed beats HEAD by GET listed after it", method: "HEAD", path: "/probe2", wantRoute: "head-own-first"},
		{name: "GET next to a HEAD route", method: "GET", path: "/probe2", wantRoute: "head-public-second"},
		{name: "unknown", method: "GET", path: "/admin", wantReason: verdict.NoRoute},
		{name: "case-sensitive segments", method: "GET", path: "/HEALTHZ", wantReason: verdict.NoRoute},
		{name: "case-sensitive methods", method: "get", path: "/healthz", wantReason: verdict.MethodNotAllowed, wantAllow: "GET, HEAD"},
		{name: "a route without methods serves no TRACE", method: "TRACE", path: "/users/7", wantReason: verdict.MethodNotAllowed,
			wantAllow: "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"},
		{name: "nor CONNECT", method: "CONNECT", path: "/users/7", wantReason: verdict.MethodNotAllowed,
			wantAllow: "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"},
		{name: "unless it lists it", method: "TRACE", path: "/debug", wantRoute: "debug-trace"},
		{name: "a method in another case is refused where any is served", method: "Get", path: "/users/7", wantReason: verdict.MethodNotAllowed,
			wantAllow: "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"},
		{name: "an unknown upper-case method is served", method: "PROPFIND", path: "/users/7", wantRoute: "user", wantParams: map[string]string{"id": "7"}},
		{name: "not a path", method: "GET", path: "", wantReason: verdict.NoRoute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Params
			i, d := table.Match(AnyHost, tc.method, tc.path, &p)
			if tc.wantRoute == "" {
				if i != -1 || d.Reason != tc.wantReason {
					t.Fatalf("Match = %d %+v, want %v", i, d, tc.wantReason)
				}
				if d.Reason == verdict.MethodNotAllowed && (len(d.Headers()) != 1 || d.Headers()[0] != [2]string{"allow", tc.wantAllow}) {
					t.Errorf("headers %v, want allow %q", d.Headers(), tc.wantAllow)
				}
				return
			}
			if i < 0 || shopRoutes[i].Name != tc.wantRoute {
				t.Fatalf("Match = %d %+v, want route %s", i, d, tc.wantRoute)
			}
			if p.Len() != len(tc.wantParams) {
				t.Errorf("%d params captured, want %d", p.Len(), len(tc.wantParams))
			}
			for k, want := range tc.wantParams {
				if got, ok := p.Get(k); !ok || got != want {
					t.Errorf("param %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	table, _ := Compile(shopRoutes)
	var p Params
	if n := testing.AllocsPerRun(100, func() { table.Match(AnyHost, "GET", "/tenants/acme/orders/7", &p) }); n != 0 {
		t.Errorf("%v allocations per match", n)
	}
}

func TestCompileReportsEveryErrorWithItsPath(t *testing.T) {
	specs := []Spec{
		{Path: "orders"},
		{Path: "/a/{id"},
		{Path: "/a/{1d}"},
		{Path: "/a/{id}/{id}"},
		{Path: "/a/**/b"},
		{Path: "/a//b"},
		{Path: "/a/../b"},
		{Path: "/a%2fb"},
		{Path: "/a;b"},
		{Path: "/x", Methods: []string{"get", "GET", "GET", "G T"}},
		{Path: "/dup/{a}", Methods: []string{"GET"}},
		{Path: "/dup/{b}", Methods: []string{"POST", "GET"}},
		{Path: "/any"},
		{Path: "/any", Methods: []string{"PATCH"}},
		{Path: "/slash", Methods: []string{"GET"}},
		{Path: "/slash/", Methods: []string{"GET"}, StrictSlash: true},
		{Path: "/glob/**", StrictSlash: true},
		{Path: "/", StrictSlash: true},
		{Path: strings.Repeat("/s", MaxSegments+1)},
	}
	want := []string{
		"routes[0].match.path: \"orders\" must start with /",
		"routes[1].match.path: ",
		"routes[2].match.path: ",
		"routes[3].match.path: \"/a/{id}/{id}\": parameter {id} appears twice",
		"routes[4].match.path: \"/a/**/b\": /** may only end a path",
		"routes[5].match.path: \"/a//b\": empty segment (//)",
		"routes[6].match.path: \"/a/../b\": dot segments never match a normalized path",
		"routes[7].match.path: \"/a%2fb\": character '%' is not allowed in a route path",
		"routes[8].match.path: \"/a;b\": character ';' is not allowed in a route path",
		"routes[9].match.methods[0]: \"get\" must be upper-case",
		"routes[9].match.methods[2]: \"GET\" is listed twice",
		"routes[9].match.methods[3]: \"G T\" is not an HTTP method",
		"routes[11].match.path: same path shape as routes[10] with overlapping methods",
		"routes[13].match.path: same path shape as routes[12] with overlapping methods",
		"routes[15].match.path: same path shape as routes[14] with overlapping methods",
		`routes[16].match.strict_slash: "/glob/**" has no trailing-slash form to tell apart`,
		`routes[17].match.strict_slash: "/" has no trailing-slash form to tell apart`,
		"routes[18].match.path: ",
	}
	_, errs := Compile(specs)
	if len(errs) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i := 0; i < len(errs) && i < len(want); i++ {
		if !strings.HasPrefix(errs[i].Error(), want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i], want[i])
		}
	}
}

func TestParamNames(t *testing.T) {
	table, _ := Compile(shopRoutes)
	if got := table.ParamNames(3); len(got) != 2 || got[0] != "tenant" || got[1] != "order" {
		t.Errorf("ParamNames = %v", got)
	}
}

// TestManyLiteralChildrenUseAMap: a node with more literal children than
// its list holds finds them by map, by segment for a request and by number
// when a walk backtracks, and a literal met again under such a node (a
// second route below the same prefix) joins the child it has.
func TestManyLiteralChildrenUseAMap(t *testing.T) {
	var specs []Spec
	for _, s := range strings.Split("a b c d e f g h i j k l", " ") {
		specs = append(specs, Spec{Name: s, Path: "/" + s}, Spec{Name: s + "/x", Path: "/" + s + "/x"},
			Spec{Name: s + "/{p}/y", Path: "/" + s + "/{p}/y"})
	}
	specs = append(specs, Spec{Name: "{q}/b/z", Path: "/{q}/b/z"})
	table, errs := Compile(specs)
	if errs != nil {
		t.Fatal(errs)
	}
	var p Params
	for i, s := range specs {
		if strings.Contains(s.Path, "{") {
			continue
		}
		if got, _ := table.Match(AnyHost, "GET", s.Path, &p); got != i {
			t.Errorf("%s matched route %d, want %d", s.Path, got, i)
		}
	}
	for _, tc := range []struct{ path, want string }{
		{"/c/7/y", "c/{p}/y"},
		// "/k/b/z" tries k's literal and parameter children, then backtracks
		// to {q}, whose child b is found by number.
		{"/k/b/z", "{q}/b/z"},
		{"/zz/b/z", "{q}/b/z"},
		{"/zz", ""},
		{"/c/7/z", ""},
	} {
		got, _ := table.Match(AnyHost, "GET", tc.path, &p)
		name := ""
		if got >= 0 {
			name = specs[got].Name
		}
		if name != tc.want {
			t.Errorf("%s matched %q, want %q", tc.path, name, tc.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	table, errs := Compile(shopRoutes)
	if errs != nil {
		f.Fatal(errs)
	}
	var lenient []Spec
	for _, s := range shopRoutes {
		if !s.StrictSlash {
			lenient = append(lenient, s)
		}
	}
	slashBlind, errs := Compile(lenient)
	if errs != nil {
		f.Fatal(errs)
	}
	for _, s := range []string{"/tenants/a/orders/1", "/static/", "/files/x/", "/", "//", "/users/me", "/dir", "/strict/", "/a//b/"} {
		f.Add("GET", s)
	}
	f.Add("HEAD", "/probe")
	f.Add("POST", "/strict/")
	f.Add("DELETE", "/tenants/mine/orders/7/")
	f.Fuzz(func(t *testing.T, method, path string) {
		var p Params
		i, d := table.Match(AnyHost, method, path, &p)
		if i < 0 {
			if d.Reason != verdict.NoRoute && d.Reason != verdict.MethodNotAllowed {
				t.Fatalf("reason %v", d.Reason)
			}
		} else {
			for _, name := range table.ParamNames(i) {
				v, ok := p.Get(name)
				if !ok || v == "" || strings.Contains(v, "/") {
					t.Fatalf("route %s param %s = %q", shopRoutes[i].Name, name, v)
				}
			}
		}
		if want, wantMatched := referenceMatch(table, method, path); i != want || (i < 0 && wantMatched != (d.Reason == verdict.MethodNotAllowed)) {
			t.Fatalf("%s %q: route %d %v, the memo-free walk says %d (path matched: %v)", method, path, i, d.Reason, want, wantMatched)
		}
		// Without strict_slash, a trailing slash never changes the outcome.
		if trimmed, ok := strings.CutSuffix(path, "/"); ok && trimmed != "" && !strings.HasSuffix(trimmed, "/") {
			a, da := slashBlind.Match(AnyHost, method, trimmed, &p)
			b, db := slashBlind.Match(AnyHost, method, path, &p)
			if a != b || da.Reason != db.Reason {
				t.Fatalf("%s %q: %d %v, with its slash %d %v", method, trimmed, a, da.Reason, b, db.Reason)
			}
		}
	})
}

// FuzzShadows compiles two-route tables and checks that every near miss
// Shadows reports is a request the table really sends elsewhere.
func FuzzShadows(f *testing.F) {
	f.Add("/admin", "GET", false, "/**", "", false)
	f.Add("/keys/", "", true, "/{any}/", "GET", false)
	f.Add("/Orders/{id}", "DELETE", false, "/{a}/{b}", "GET", false)
	f.Add("/", "HEAD", false, "/x", "GET", true)
	f.Fuzz(func(t *testing.T, path1, method1 string, strict1 bool, path2, method2 string, strict2 bool) {
		specs := []Spec{{Path: path1, StrictSlash: strict1}, {Path: path2, StrictSlash: strict2}}
		if method1 != "" {
			specs[0].Methods = []string{method1}
		}
		if method2 != "" {
			specs[1].Methods = []string{method2}
		}
		table, errs := Compile(specs)
		if errs != nil {
			return
		}
		var p Params
		for _, s := range table.Shadows(nil) {
			if s.Route == s.By || len(s.Methods) == 0 {
				t.Fatalf("shadow %+v", s)
			}
			for _, m := range s.Methods {
				if got, d := table.Match(AnyHost, m, s.Path, &p); got != s.By || (got < 0 && d.Reason != verdict.NoRoute) {
					t.Fatalf("shadow %+v: %s %s matches route %d (%v)", s, m, s.Path, got, d.Reason)
				}
			}
		}
	})
}

// TestBacktracking: where a literal branch finds no route the walk backtracks
// into the {param} branch, comparing each segment with literals again only by
// its interned number; the answers are those of precedence alone.
func TestBacktracking(t *testing.T) {
	specs := []Spec{
		{Name: "abc", Path: "/a/b/c"},
		{Name: "xbd", Path: "/{x}/b/d"},
		{Name: "aye", Path: "/a/{y}/e"},
		{Name: "xyf", Path: "/{x}/{y}/f"},
		{Name: "xbg", Path: "/{x}/b/g/**"},
		{Name: "many", Path: "/m/{p}/z"},
	}
	for _, s := range strings.Split("a b c d e f g h i j", " ") {
		specs = append(specs, Spec{Name: "m-" + s, Path: "/m/" + s + "/y"}, Spec{Name: "x-" + s, Path: "/{x}/" + s + "/w"})
	}
	specs = append(specs, Spec{Name: "ncv", Path: "/n/c/v"})
	table, errs := Compile(specs)
	if errs != nil {
		t.Fatal(errs)
	}
	tests := []struct{ path, want string }{
		{"/a/b/c", "abc"},
		{"/a/b/d", "xbd"},
		{"/a/b/e", "aye"},
		{"/a/b/f", "xyf"},
		{"/a/b/g/h", "xbg"},
		{"/q/b/d", "xbd"},
		{"/a/q/d", ""},
		{"/a/b/", ""},
		{"/m/c/z", "many"},
		{"/m/c/y", "m-c"},
		{"/m/k/y", ""},
		{"/n/c/v", "ncv"},
		{"/n/c/w", "x-c"},
		{"/n/k/w", ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			var p Params
			i, _ := table.Match(AnyHost, "GET", tc.path, &p)
			got := ""
			if i >= 0 {
				got = specs[i].Name
			}
			if got != tc.want {
				t.Errorf("matched %q, want %q", got, tc.want)
			}
			if ref, _ := referenceMatch(table, "GET", tc.path); ref != i {
				t.Errorf("matched route %d, the memo-free walk %d", i, ref)
			}
		})
	}
}

// referenceMatch is Match without segmentMemo: it scans and compares every
// segment at every node, so FuzzMatch can check the memo changes no answer.
func referenceMatch(t *Table, method, path string) (route int, matched bool) {
	if !strings.HasPrefix(path, "/") {
		return -1, false
	}
	try := func(term *terminal, trailing int) (int, bool) {
		if term == nil || !term.has[trailing] {
			return 0, false
		}
		matched = true
		return term.find(method, trailing)
	}
	var walk func(n *node, rest string, done bool, depth int) (int, bool)
	walk = func(n *node, rest string, done bool, depth int) (int, bool) {
		if done || rest == "" {
			trailing := 0
			if !done {
				trailing = 1
			}
			if i, ok := try(n.exact, trailing); ok {
				return i, true
			}
			return try(n.glob, trailing)
		}
		seg, tail, more := strings.Cut(rest, "/")
		if c := n.literal(seg); c != nil {
			if i, ok := walk(c, tail, !more, depth); ok {
				return i, true
			}
		}
		if n.param != nil && seg != "" && depth < MaxParams {
			if i, ok := walk(n.param, tail, !more, depth+1); ok {
				return i, true
			}
		}
		return try(n.glob, 0)
	}
	if i, ok := walk(t.groups[AnyHost].root, path[1:], false, 0); ok {
		return i, matched
	}
	return -1, matched
}

// TestTemplateBytes: a literal segment refuses controls and the bytes that
// a normalized path never holds raw or that mark a parameter or a glob,
// and takes every other ASCII byte.
func TestTemplateBytes(t *testing.T) {
	for c := range byte(0x80) {
		if c == '/' {
			continue
		}
		_, _, err := parseTemplate("/a"+string(c)+"b", nil)
		refused := c < 0x20 || c == 0x7f || strings.IndexByte("?#%\\;{}*", c) >= 0
		if (err != nil) != refused {
			t.Errorf("byte %q: error %v, want refused %v", c, err, refused)
		}
	}
}

// FuzzParseTemplate: the parser takes a path exactly when it follows the
// rules as templateFollowsRules states them over strings.Split's segments,
// and then returns those segments, with the names of its {param} segments
// in order; a path that starts with "/" but is not UTF-8 is refused as
// such.
func FuzzParseTemplate(f *testing.F) {
	for _, p := range []string{"/", "/a/b", "/svc1/items/{id}", "/a//b", "/{a}/{b}/**", "/caf\xc3\xa9/{x}", "/bad\xff", "/x/", "{a}",
		"/a/**/b", "/.../{a}/{a}", "/a{b}/c", "/ab/../c", "/a\x7fb", "/{_x9}/{9x}", "/a/*", "/v1/*/**"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		var strs slab.Slab[string]
		segs, names, err := parseTemplate(p, &strs)
		if strings.HasPrefix(p, "/") && !utf8.ValidString(p) {
			if err == nil || err.Error() != "not valid UTF-8" {
				t.Fatalf("%q: error %v, want not valid UTF-8", p, err)
			}
			return
		}
		if follows := templateFollowsRules(p); (err == nil) != follows {
			t.Fatalf("%q: error %v, but the rules say taken %v", p, err, follows)
		}
		if err != nil {
			return
		}
		if want := strings.Split(p[1:], "/"); !slices.Equal(segs, want) {
			t.Fatalf("%q: segments %q, want %q", p, segs, want)
		}
		var want []string
		for _, s := range segs {
			if strings.HasPrefix(s, "{") {
				want = append(want, s[1:len(s)-1])
			}
		}
		if !slices.Equal(names, want) || len(names) > MaxParams {
			t.Fatalf("%q: names %q, want %q", p, names, want)
		}
		// The lists come from the slab and must not overlap what it hands
		// out next.
		next := strs.Make(4)
		for i := range next {
			next[i] = "x"
		}
		if !slices.Equal(segs, strings.Split(p[1:], "/")) || !slices.Equal(names, want) {
			t.Fatalf("%q: lists overwritten by the next slab slice", p)
		}
	})
}

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// templateFollowsRules states what a route path may be, segment by segment
// as strings.Split cuts it: "**" only last, "{name}" with a distinct
// identifier, "" only last, no "." or "..", and literals without controls
// or ?#%\;{}*; at most MaxSegments segments and MaxParams parameters.
func templateFollowsRules(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	segs := strings.Split(p[1:], "/")
	var names []string
	for i, s := range segs {
		last := i == len(segs)-1
		switch {
		case s == "**" || s == "":
			if !last {
				return false
			}
		case len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}':
			name := s[1 : len(s)-1]
			if !paramName.MatchString(name) || slices.Contains(names, name) {
				return false
			}
			names = append(names, name)
		case s == "." || s == "..":
			return false
		default:
			for _, c := range []byte(s) {
				if c < 0x20 || c == 0x7f || strings.IndexByte("?#%\\;{}*", c) >= 0 {
					return false
				}
			}
		}
	}
	return len(segs) <= MaxSegments && len(names) <= MaxParams
}

// FuzzDescendIsWalk holds Match, which tries descend before walk, to walk
// alone, on tables and paths the fuzzer writes from a few segments that
// make literal, {param} and /** siblings meet: the route, the denial and
// its Allow header, and the captures must be walk's.
func FuzzDescendIsWalk(f *testing.F) {
	f.Add([]byte{0x11, 0x12, 0x03, 0x34}, []byte{0, 3}, uint8(0))
	f.Add([]byte{0x10, 0x21, 0xf3, 0x44, 0x15, 0x26, 0x37}, []byte{0, 2, 1, 5}, uint8(1))
	f.Add([]byte{0x40, 0x41, 0x42, 0x03, 0x14, 0x25}, []byte{1, 0, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, routes, path []byte, m uint8) {
		segments := [...]string{"a", "b", "{p}", "{q}", "a", "**"}
		methods := [...][]string{nil, {"GET"}, {"POST"}, {"GET", "DELETE"}}
		var specs []Spec
		var p strings.Builder
		for _, b := range routes {
			if b == 0xff || p.Len() > 40 {
				specs = append(specs, Spec{Name: fmt.Sprint(len(specs)), Path: p.String() + "/", Methods: methods[len(specs)%4], StrictSlash: len(specs)%3 == 0})
				p.Reset()
				continue
			}
			seg := segments[int(b&0x0f)%len(segments)]
			p.WriteString("/" + seg)
			// A glob ends its path: the route is made and the next starts.
			if b>>4&1 == 1 || seg == "**" {
				specs = append(specs, Spec{Name: fmt.Sprint(len(specs)), Path: p.String(), Methods: methods[int(b>>5)%4], StrictSlash: b>>7 == 1})
			}
			if seg == "**" {
				p.Reset()
			}
		}
		table, errs := Compile(specs)
		if errs != nil {
			return
		}
		// The path's segments come from the same letters, and ones no
		// literal holds; 6 is an empty segment, 7 ends the path with "/".
		var req strings.Builder
		for _, b := range path {
			c := b % 8
			if c >= 6 {
				req.WriteString("/")
				if c == 7 {
					break
				}
				continue
			}
			req.WriteString("/" + [...]string{"a", "b", "c", "x", "a", "bb"}[c])
		}
		if req.Len() == 0 {
			req.WriteString("/")
		}
		method := [...]string{"GET", "POST", "DELETE", "HEAD"}[m%4]
		var got, want Params
		i, d := table.Match(AnyHost, method, req.String(), &got)
		j, e := walkOnly(table, method, req.String(), &want)
		if i != j || d.Reason != e.Reason || fmt.Sprint(d.Headers()) != fmt.Sprint(e.Headers()) {
			t.Fatalf("%s %q on %v: Match says %d %v %v, walk %d %v %v", method, req.String(), specs, i, d.Reason, d.Headers(), j, e.Reason, e.Headers())
		}
		if got.Len() != want.Len() || fmt.Sprint(got.names, got.values[:got.Len()]) != fmt.Sprint(want.names, want.values[:want.Len()]) {
			t.Fatalf("%s %q on %v: Match captured %v %v, walk %v %v", method, req.String(), specs, got.names, got.values[:got.Len()], want.names, want.values[:want.Len()])
		}
	})
}

// walkOnly is Match without descend: walk's backtracking search alone.
func walkOnly(t *Table, method, path string, params *Params) (int, verdict.Decision) {
	params.Reset()
	if !strings.HasPrefix(path, "/") {
		return -1, verdict.Deny(verdict.NoRoute, "")
	}
	s := search{method: method, params: params}
	i, ok := t.backtrack(AnyHost, path, &s)
	return t.result(i, ok, &s)
}
