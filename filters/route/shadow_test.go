package route

import (
	"reflect"
	"testing"
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
			if got := table.Shadows(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Shadows =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}
