package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

const policy = `{"routes": [
  {"name": "upload", "match": {"path": "/upload", "methods": ["POST", "PUT"]}, "auth": "none"},
  {"name": "download", "match": {"path": "/download/{size}", "methods": ["GET"]}, "auth": "none"},
  {"name": "echo", "match": {"path": "/echo/**"}, "auth": "none"}
]}`

// unhardened is policy with apiguard's response hardening off, for tests of
// the wire itself: what the upstream sent, as Envoy forwards it
// (hardening_test.go shows what the default adds).
var unhardened = policy[:len(policy)-1] + `, "response": {"security_headers": "off"}}`

// upstream records what reached it and serves uploads, downloads and echoes.
type upstream struct {
	mu   sync.Mutex
	seen []*http.Request
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.seen = append(u.seen, r)
	u.mu.Unlock()
	switch {
	case r.URL.Path == "/upload":
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("x-received", fmt.Sprintf("%d %s", n, hex.EncodeToString(h.Sum(nil))))
		w.WriteHeader(http.StatusCreated)
	case strings.HasPrefix(r.URL.Path, "/download/"):
		var n int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/download/"), &n)
		w.Header().Set("content-type", "application/octet-stream")
		_, _ = io.Copy(w, io.LimitReader(zeros{}, int64(n)))
	default:
		w.Header().Set("connection", "close")
		w.Header().Set("x-upstream", "yes")
		fmt.Fprintf(w, "%s %s %s %s", r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("x-client"))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// gw is a gateway serving on loopback, and what it logged.
type gw struct {
	URL  string
	addr string
	logs *syncBuffer
	g    *Gateway
}

func start(t *testing.T) (*gw, *upstream) {
	t.Helper()
	up, upURL := newUpstream(t)
	return startWith(t, upURL, Options{}), up
}

func newUpstream(t *testing.T) (*upstream, string) {
	up := &upstream{}
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	return up, upSrv.URL
}

// startWith serves policy in front of upstreamURL with opts' limits and timeouts.
func startWith(t *testing.T, upstreamURL string, opts Options) *gw {
	t.Helper()
	module, err := os.ReadFile("../../build/plugin.wasm")
	if err != nil {
		t.Fatalf("%v: run `make build` first", err)
	}
	target, _ := url.Parse(upstreamURL)
	logs := &syncBuffer{}
	if opts.Module == nil {
		opts.Module = module
	}
	opts.Upstream, opts.Workers, opts.Log = target, 2, log.New(logs, "", 0)
	if opts.Config == nil {
		opts.Config = []byte(policy)
	}
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
		g.Close()
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	return &gw{URL: "http://" + ln.Addr().String(), addr: ln.Addr().String(), logs: logs, g: g}
}

// syncBuffer is a log sink the gateway's goroutines share with the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// wrote is closed and replaced on each write.
	wrote chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		close(s.wrote)
		s.wrote = nil
	}
	return s.b.Write(p)
}

// waitFor reports whether the log contains want within 5 s: the access-log
// line is written after the response, so a client may see the response first.
func (s *syncBuffer) waitFor(want string) bool {
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		if strings.Contains(s.b.String(), want) {
			s.mu.Unlock()
			return true
		}
		if s.wrote == nil {
			s.wrote = make(chan struct{})
		}
		wrote := s.wrote
		s.mu.Unlock()
		select {
		case <-wrote:
		case <-deadline:
			return false
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestForwardsWithHTTPSemantics(t *testing.T) {
	srv, up := start(t)
	req, _ := http.NewRequest("PATCH", srv.URL+"/echo/a//b/./c?q=1&r=%2e", nil)
	req.Header.Set("x-client", "yes")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "PATCH /echo/a/b/c q=1&r=%2e yes" {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
	if resp.Header.Get("x-upstream") != "yes" || resp.Header.Get("connection") != "" {
		t.Errorf("response headers %v: want upstream headers without hop-by-hop ones", resp.Header)
	}
	if got := up.seen[0].Header.Get("x-request-id"); len(got) != 36 || got[14] != '4' {
		t.Errorf("x-request-id %q: the gateway adds a UUID as Envoy does", got)
	}
}

func TestStreamsLargeBodiesBothWays(t *testing.T) {
	srv, _ := start(t)
	payload := bytes.Repeat([]byte("apiguard"), 1<<17) // 1 MiB
	sum := sha256.Sum256(payload)
	resp, err := http.Post(srv.URL+"/upload", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := fmt.Sprintf("%d %s", len(payload), hex.EncodeToString(sum[:])); resp.StatusCode != 201 || resp.Header.Get("x-received") != want {
		t.Errorf("upload: %d %q, want 201 %q", resp.StatusCode, resp.Header.Get("x-received"), want)
	}
	const size = 3 << 20
	resp, err = http.Get(fmt.Sprintf("%s/download/%d", srv.URL, size))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != size {
		t.Errorf("download: %d, %d bytes, want 200 and %d", resp.StatusCode, n, size)
	}
}

func TestDeniedRequestsNeverReachTheUpstream(t *testing.T) {
	srv, up := start(t)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/admin", 404},
		{"GET", "/upload", 405},
		{"GET", "/echo/..%2f..%2fadmin", 400},
		{"POST", "/nope", 404},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader("body"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.Header.Get("content-type") != "application/problem+json" || !bytes.Contains(body, []byte(`"status":`)) {
			t.Errorf("%s %s: %d %s %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("content-type"), body)
		}
	}
	if len(up.seen) != 0 {
		t.Errorf("%d denied requests reached the upstream", len(up.seen))
	}
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}
