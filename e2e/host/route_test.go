package host

import "testing"

// TestHeaderEditsReMatchTheRoute: for ABI 0.2.1 modules Envoy clears the
// route cache when the plugin edits request headers, so the router matches
// again on the edited headers.
func TestHeaderEditsReMatchTheRoute(t *testing.T) {
	_, vms := startProbe(t, Config{VMID: "routes", Routes: []Route{
		{Name: "counted", Prefix: "/", Header: [2]string{"x-probe-count", "1"}, Cluster: "first"},
		{Name: "teapot", Path: "/teapot", DirectStatus: 418},
		{Name: "probe", Prefix: "/probe", Cluster: "probes"},
	}}, 1)
	tests := []struct {
		name, action, path string
		wantRoute          string
		wantStatus         int
	}{
		{name: "a header the plugin added selects the route", action: "count", path: "/probe", wantRoute: "counted", wantStatus: 200},
		{name: "no edit keeps the route picked before the plugin", action: "", path: "/probe", wantRoute: "probe", wantStatus: 200},
		{name: "a direct response route answers", action: "", path: "/teapot?x", wantStatus: 418},
		{name: "no route is the router's 404", action: "", path: "/nowhere", wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := probe(tc.action)
			req.Path = tc.path
			var up *UpstreamRequest
			res := vms[0].RoundTrip(req, func(u *UpstreamRequest) *Response { up = u; return okUpstream(u) })
			if res.Err != nil || res.Status != tc.wantStatus {
				t.Fatalf("got %d %v", res.Status, res.Err)
			}
			if tc.wantRoute == "" {
				if up != nil {
					t.Errorf("reached the upstream through %q", up.Route)
				}
				if seen, _ := res.Headers.Get("x-probe-response-seen"); seen != "1" {
					t.Error("the router's reply did not pass the plugin's response callbacks")
				}
				return
			}
			if up == nil || up.Route != tc.wantRoute {
				t.Errorf("route %+v, want %s", up, tc.wantRoute)
			}
		})
	}
}
