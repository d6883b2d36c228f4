package host

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestResetWhilePausedOnACallout: a client goes away while the plugin waits
// for its callout. The stream ends (log, done, delete) at once; the callout's
// answer still arrives on the root context later, and the VM goes on serving.
func TestResetWhilePausedOnACallout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		_, _ = w.Write([]byte("late"))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	_, vms := startProbe(t, Config{Clusters: map[string]string{"slow": srv.URL}}, 1)
	vm := vms[0]

	s, err := vm.NewStream(StreamInfo{})
	if err != nil {
		t.Fatal(err)
	}
	req := probe("call", [2]string{"x-probe-cluster", "slow"})
	h := Headers{{":method", req.Method}, {":path", req.Path}, {":authority", "a"}, {":scheme", "http"}}
	h = append(h, req.Headers...)
	if act, err := s.RequestHeaders(h, true); act != Pause || err != nil {
		t.Fatalf("request headers: %v %v, want the stream paused on its callout", act, err)
	}
	if err := s.Reset(); err != nil {
		t.Fatalf("reset: %v", err)
	}
	if n := vm.PausedStreams(); n != 0 {
		t.Errorf("%d paused streams after the reset", n)
	}
	if err := s.Reset(); err != nil {
		t.Errorf("a second reset: %v", err)
	}
	if act, err := s.Wait(time.Second); act != Reply || !errors.Is(err, ErrStreamReset) {
		t.Errorf("waiting on the reset stream: %v %v, want ErrStreamReset", act, err)
	}

	close(release)
	vm.WaitHTTPCalls()
	if s.Reply() != nil {
		t.Errorf("the reset stream got a reply after it ended: %+v", s.Reply())
	}
	if res := vm.RoundTrip(probe("count"), okUpstream); res.Err != nil || res.Status != 200 {
		t.Fatalf("after the late answer: %d %v", res.Status, res.Err)
	}
}
