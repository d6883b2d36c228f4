package route

import (
	"reflect"
	"testing"

	"github.com/apiguard/apiguard/filters/verdict"
)

func TestShadowsFindNearMissesServedByAnotherRoute(t *testing.T) {
	tests := []struct {
		name  string
		specs []Spec
		want  []Shadow
	}{
		{
			name: "catch-all serves other methods and cases",
			specs: []Spec{
				{Name: "admin", Path: "/admin", Methods: []string{"GET"}},
				{Name: "all", Path: "/**"},
			},
			want: []Shadow{
				{Route: 0, By: 1, Variant: Case, Methods: []string{"GET"}, Path: "/ADMIN"},
				{Route: 0, By: 1, Variant: Method, Methods: []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, Path: "/admin"},
			},
		},
		{
			name: "strict slash form served by a glob",
			specs: []Spec{
				{Name: "admin", Path: "/admin/", StrictSlash: true},
				{Name: "all", Path: "/**", Methods: []string{"GET"}},
			},
			want: []Shadow{
				{Route: 0, By: 1, Variant: TrailingSlash, Methods: []string{"GET"}, Path: "/admin"},
				{Route: 0, By: 1, Variant: Case, Methods: []string{"GET"}, Path: "/ADMIN/"},
			},
		},
		{
			name: "template parameters are sent as themselves",
			specs: []Spec{
				{Name: "order", Path: "/Orders/{id}", Methods: []string{"GET", "DELETE"}},
				{Name: "orders", Path: "/{any}/{id}", Methods: []string{"GET", "PUT"}},
			},
			want: []Shadow{
				{Route: 0, By: 1, Variant: Case, Methods: []string{"GET"}, Path: "/ORDERS/{id}"},
				{Route: 0, By: 1, Variant: Method, Methods: []string{"PUT"}, Path: "/Orders/{id}"},
			},
		},
		{
			name: "case folded one segment at a time",
			specs: []Spec{
				{Name: "admin", Path: "/shop/admin", Methods: []string{"GET"}},
				{Name: "shop", Path: "/shop/**", Methods: []string{"GET", "POST"}},
			},
			want: []Shadow{
				{Route: 0, By: -1, Variant: Case, Methods: []string{"GET"}, Path: "/SHOP/admin"},
				{Route: 0, By: 1, Variant: Case, Methods: []string{"GET"}, Path: "/shop/ADMIN"},
				{Route: 0, By: 1, Variant: Method, Methods: []string{"POST"}, Path: "/shop/admin"},
				{Route: 1, By: -1, Variant: Case, Methods: []string{"GET"}, Path: "/SHOP"},
			},
		},
		{
			name: "variants no route matches have By -1",
			specs: []Spec{
				{Name: "admin", Path: "/admin", Methods: []string{"GET"}},
				{Name: "docs", Path: "/docs/**"},
				{Name: "digits", Path: "/42"},
			},
			want: []Shadow{
				{Route: 0, By: -1, Variant: Case, Methods: []string{"GET"}, Path: "/ADMIN"},
				{Route: 1, By: -1, Variant: Case, Methods: []string{"GET"}, Path: "/DOCS"},
			},
		},
		{
			name: "other methods on the slash form",
			specs: []Spec{
				{Name: "admin", Path: "/0", Methods: []string{"GET"}},
				{Name: "upload", Path: "/0/", Methods: []string{"POST"}, StrictSlash: true},
			},
			want: []Shadow{
				{Route: 0, By: 1, Variant: Method, Methods: []string{"POST"}, Path: "/0/"},
				{Route: 1, By: 0, Variant: Method, Methods: []string{"GET", "HEAD"}, Path: "/0/"},
			},
		},
		{
			name: "per host: variants within the host, and the host on another port among the any-host routes",
			specs: []Spec{
				{Name: "admin", Path: "/admin", Methods: []string{"GET"}, Hosts: []string{"admin.example.com"}},
				{Name: "site", Path: "/**"},
				{Name: "admin-all", Path: "/**", Hosts: []string{"admin.example.com"}},
			},
			want: []Shadow{
				{Route: 0, By: 1, Host: 1, In: AnyHost, Variant: Port, Methods: []string{"GET"}, Path: "/admin"},
				{Route: 0, By: 2, Host: 1, In: 1, Variant: Case, Methods: []string{"GET"}, Path: "/ADMIN"},
				{Route: 0, By: 2, Host: 1, In: 1, Variant: Method, Methods: []string{"POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, Path: "/admin"},
				{Route: 2, By: 1, Host: 1, In: AnyHost, Variant: Port, Methods: []string{"GET"}, Path: "/"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, errs := Compile(tc.specs)
			if errs != nil {
				t.Fatal(errs)
			}
			if got := table.Shadows(nil); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Shadows =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// FuzzServing holds the walk that collects every terminal serving a path
// (which Shadows probes all methods with at once) to Match, method by
// method: the first terminal with an entry for the method is Match's route,
// and a path some terminal serves but none for the method is a 405.
func FuzzServing(f *testing.F) {
	f.Add("/a/{x}/c", "GET", false, "/a/b/**", "POST", "/{y}/b/c", "", "/a/b/c")
	f.Add("/0", "GET", false, "/0/", "POST", "/**", "DELETE", "/0/")
	f.Add("/keys/", "", true, "/{any}/", "GET", "/keys", "HEAD", "/keys")
	f.Fuzz(func(t *testing.T, path1, method1 string, strict1 bool, path2, method2, path3, method3, request string) {
		specs := []Spec{{Path: path1, StrictSlash: strict1}, {Path: path2}, {Path: path3}}
		for i, m := range []string{method1, method2, method3} {
			if m != "" {
				specs[i].Methods = []string{m}
			}
		}
		table, errs := Compile(specs)
		if errs != nil {
			return
		}
		var p Params
		serving := table.serving(AnyHost, request, &p, nil)
		for _, m := range append([]string{"get", method1, method2, method3}, probeMethods...) {
			want, d := table.Match(AnyHost, m, request, &p)
			got := -1
			for _, st := range serving {
				if r, ok := st.t.find(m, st.trailing); ok {
					got = r
					break
				}
			}
			if got != want || got < 0 && (len(serving) > 0) != (d.Reason == verdict.MethodNotAllowed) {
				t.Fatalf("%s %s: serving says route %d (%d terminals), Match %d (%v)", m, request, got, len(serving), want, d.Reason)
			}
		}
	})
}

// TestShadowsOfSomeRoutes: Shadows(of) is Shadows(nil) without the routes
// of refuses.
func TestShadowsOfSomeRoutes(t *testing.T) {
	table, errs := Compile([]Spec{
		{Name: "admin", Path: "/admin", Methods: []string{"GET"}},
		{Name: "docs", Path: "/Docs/{page}", Methods: []string{"GET"}},
		{Name: "all", Path: "/**"},
	})
	if errs != nil {
		t.Fatal(errs)
	}
	all := table.Shadows(nil)
	for _, keep := range []int{0, 1, 2} {
		var want []Shadow
		for _, s := range all {
			if s.Route == keep {
				want = append(want, s)
			}
		}
		if got := table.Shadows(func(i int) bool { return i == keep }); !reflect.DeepEqual(got, want) {
			t.Errorf("Shadows of route %d =\n%+v\nwant\n%+v", keep, got, want)
		}
	}
	if len(all) == 0 {
		t.Fatal("the table has no near misses to filter")
	}
}
