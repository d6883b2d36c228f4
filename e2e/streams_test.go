package e2e

import (
	"fmt"
	"testing"

	"github.com/apiguard/apiguard/e2e/host"
)

// TestStreamsKeepTheirStateWhileThousandsComeAndGo: streams held open while
// more than two thousand others start and end on the same worker (Envoy
// numbers contexts in sequence, so later ones take the slots the held ones
// have in the binding's table of streams) each still answer with their own
// state: the CORS allow header of their own Origin, on a response that
// arrives after all the others.
func TestStreamsKeepTheirStateWhileThousandsComeAndGo(t *testing.T) {
	g := startHardenedAPI(t)
	vm := g.vms[0]
	origin := func(name string) string { return "https://" + name + ".partner.example" }
	held := map[string]*host.Stream{}
	for _, name := range []string{"first", "second", "third"} {
		s, err := vm.NewStream(host.StreamInfo{SourceAddress: "203.0.113.7:51000"})
		if err != nil {
			t.Fatal(err)
		}
		h := host.Headers{{":method", "GET"}, {":path", "/public/cors"}, {":authority", "api.example.com"}, {":scheme", "https"}, {"origin", origin(name)}}
		if act, err := s.RequestHeaders(h, true); act != host.Continue || err != nil {
			t.Fatalf("%s: request headers: %v %v", name, act, err)
		}
		held[name] = s
	}
	for i := range 2100 {
		name := fmt.Sprintf("s%d", i)
		res := g.send(withOrigins(request("GET", "/public/cors"), []string{origin(name)}))
		if got, _ := res.Headers.Get("access-control-allow-origin"); res.Status != 200 || got != origin(name) {
			t.Fatalf("stream %d: status %d, allow-origin %q, want %q", i, res.Status, got, origin(name))
		}
	}
	for name, s := range held {
		if act, err := s.ResponseHeaders(host.Headers{{":status", "200"}, {"content-type", "application/json"}}, true); act != host.Continue || err != nil {
			t.Fatalf("%s: response headers: %v %v", name, act, err)
		}
		if got, _ := s.DownstreamResponseHeaders().Get("access-control-allow-origin"); got != origin(name) {
			t.Errorf("%s: allow-origin %q, want %q", name, got, origin(name))
		}
		if err := s.Finish(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if n, _ := g.env.Metric("apiguard.requests.allowed"); n != 2103 {
		t.Errorf("apiguard.requests.allowed = %d, want 2103", n)
	}
}
