package gateway

import (
	"bufio"
	"crypto/elliptic"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testkit/jwttest"
)

// The tests in this file speak raw HTTP/1.1 on sockets, where Go's client
// and server would hide or refuse the bytes under test.

// dial opens a raw connection to the gateway.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// roundTrip writes raw request bytes and reads one response.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, raw string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, br)
}

func readResponse(t *testing.T, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// closedByPeer reports whether the gateway closed the connection.
func closedByPeer(c net.Conn, br *bufio.Reader) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := br.ReadByte()
	return err == io.EOF
}

func TestExpectContinueIsAnsweredByTheGateway(t *testing.T) {
	g, up := start(t)
	c := dial(t, g.addr)
	br := bufio.NewReader(c)
	resp, _ := roundTrip(t, c, br, "PUT /upload HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n")
	if resp.StatusCode != 100 {
		t.Fatalf("status %d before the body, want 100 Continue", resp.StatusCode)
	}
	resp, _ = roundTrip(t, c, br, "hello")
	if resp.StatusCode != 201 || !strings.HasPrefix(resp.Header.Get("x-received"), "5 ") {
		t.Errorf("got %d %q", resp.StatusCode, resp.Header.Get("x-received"))
	}
	if up.count() != 1 || up.seen[0].Header.Get("expect") != "" {
		t.Errorf("the upstream saw Expect: %q; Envoy removes it once it answered", up.seen[0].Header.Get("expect"))
	}
}

// headerBlock is a GET whose header block (request line to blank line,
// CRLFs included) is exactly size bytes, over n header lines.
func headerBlock(size, n int) string {
	var b strings.Builder
	b.WriteString("GET /echo/limits HTTP/1.1\r\nhost: x\r\n")
	for i := 1; i < n-1; i++ {
		fmt.Fprintf(&b, "x-h%d: v\r\n", i)
	}
	pad := size - b.Len() - len("x-pad: \r\n\r\n")
	b.WriteString("x-pad: " + strings.Repeat("p", pad) + "\r\n\r\n")
	return b.String()
}

func TestRequestHeaderLimitsAreEnvoys(t *testing.T) {
	up, upURL := newUpstream(t)
	envoy := startWith(t, upURL, Options{})
	flags := startWith(t, upURL, Options{Limits: Limits{HeaderBytes: 2048, Headers: 10}})
	tests := []struct {
		name       string
		g          *gw
		request    string
		wantStatus int
		wantDetail string
	}{
		{name: "100 headers pass", g: envoy, request: headerBlock(4096, 100), wantStatus: 200},
		{name: "101 headers are too many", g: envoy, request: headerBlock(4096, 101), wantStatus: 431, wantDetail: "http1.too_many_headers"},
		{name: "a 60 KiB header block passes", g: envoy, request: headerBlock(60<<10, 3), wantStatus: 200},
		{name: "one byte more is too large", g: envoy, request: headerBlock(60<<10+1, 3), wantStatus: 431, wantDetail: "http1.headers_too_large"},
		{name: "a lower count limit", g: flags, request: headerBlock(1024, 11), wantStatus: 431, wantDetail: "http1.too_many_headers"},
		{name: "a lower count limit, met", g: flags, request: headerBlock(1024, 10), wantStatus: 200},
		{name: "a lower size limit", g: flags, request: headerBlock(2049, 3), wantStatus: 431, wantDetail: "http1.headers_too_large"},
		{name: "a lower size limit, met", g: flags, request: headerBlock(2048, 3), wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			c := dial(t, tc.g.addr)
			br := bufio.NewReader(c)
			resp, body := roundTrip(t, c, br, tc.request)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%q)", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus != 431 {
				return
			}
			if body != "Request Header Fields Too Large" || !resp.Close || !closedByPeer(c, br) {
				t.Errorf("431 body %q, close %v: want Envoy's codec reply and the connection closed", body, resp.Close)
			}
			if !tc.g.logs.waitFor(" 431 - route=- details=" + tc.wantDetail) {
				t.Errorf("log lacks details=%s:\n%s", tc.wantDetail, tc.g.logs.String())
			}
			if up.count() != before {
				t.Error("a refused request reached the upstream")
			}
		})
	}
}

func TestSlowClientsAndIdleConnectionsAreTimedOut(t *testing.T) {
	const d = 300 * time.Millisecond
	_, upURL := newUpstream(t)
	tests := []struct {
		name     string
		timeouts Timeouts
		send     string
		// wantStatus 0 means the connection is closed without a response.
		wantStatus int
		wantBody   string
		wantDetail string
	}{
		{name: "a body that stops after one byte", timeouts: Timeouts{StreamIdle: d},
			send:       "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nA",
			wantStatus: 408, wantBody: "stream timeout", wantDetail: "stream_idle_timeout"},
		{name: "headers that never end", timeouts: Timeouts{StreamIdle: d},
			send:       "GET /echo/a HTTP/1.1\r\nhost: x\r\n",
			wantStatus: 408, wantBody: "stream timeout", wantDetail: "stream_idle_timeout"},
		{name: "request_headers_timeout", timeouts: Timeouts{RequestHeaders: d},
			send:       "GET /echo/a HTTP/1.1\r\n",
			wantStatus: 408, wantBody: "request header timeout", wantDetail: "request_header_timeout"},
		{name: "request_timeout", timeouts: Timeouts{Request: d},
			send:       "POST /upload HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n1\r\nA\r\n",
			wantStatus: 408, wantBody: "request timeout", wantDetail: "request_overall_timeout"},
		{name: "an idle keep-alive connection", timeouts: Timeouts{Idle: d}, send: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := startWith(t, upURL, Options{Timeouts: tc.timeouts})
			c := dial(t, g.addr)
			br := bufio.NewReader(c)
			if tc.wantStatus == 0 {
				// One request served, then nothing: the connection is idle.
				if resp, _ := roundTrip(t, c, br, "GET /echo/a HTTP/1.1\r\nhost: x\r\n\r\n"); resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			} else {
				_, _ = io.WriteString(c, tc.send)
			}
			began := time.Now()
			if tc.wantStatus != 0 {
				resp, body := readResponse(t, br)
				if resp.StatusCode != tc.wantStatus || body != tc.wantBody || !resp.Close {
					t.Errorf("got %d %q (close %v), want %d %q and the connection closed", resp.StatusCode, body, resp.Close, tc.wantStatus, tc.wantBody)
				}
			}
			if !closedByPeer(c, br) {
				t.Fatal("the connection stayed open")
			}
			if waited := time.Since(began); waited < d/2 {
				t.Errorf("timed out after %v, want about %v", waited, d)
			}
			if tc.wantDetail != "" && !g.logs.waitFor("details="+tc.wantDetail) {
				t.Errorf("log lacks details=%s:\n%s", tc.wantDetail, g.logs.String())
			}
		})
	}
}

func TestMalformedChunkedBodyIsTheClientsError(t *testing.T) {
	g, _ := start(t)
	c := dial(t, g.addr)
	br := bufio.NewReader(c)
	resp, body := roundTrip(t, c, br, "POST /upload HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nnot hex\r\n0\r\n\r\n")
	if resp.StatusCode != 400 || body != "Bad Request" || !resp.Close || !closedByPeer(c, br) {
		t.Errorf("got %d %q (close %v), want Envoy's codec reply: 400 Bad Request, connection closed", resp.StatusCode, body, resp.Close)
	}
	found := g.logs.waitFor("POST /upload 400 allowed route=upload details=http1.codec_error")
	if logs := g.logs.String(); !found || strings.Contains(logs, "wasm_fail") {
		t.Errorf("the log must blame the codec, not the plugin:\n%s", logs)
	}
}

func TestInvalidPercentEncodingReachesThePlugin(t *testing.T) {
	g, up := start(t)
	for _, path := range []string{"/echo/%", "/echo/%zz", "/echo/%4"} {
		t.Run(path, func(t *testing.T) {
			c := dial(t, g.addr)
			resp, body := roundTrip(t, c, bufio.NewReader(c), "GET "+path+" HTTP/1.1\r\nhost: x\r\n\r\n")
			if resp.StatusCode != 400 || resp.Header.Get("content-type") != "application/problem+json" ||
				!strings.Contains(body, `"type":"urn:apiguard:problem:bad_path"`) {
				t.Errorf("got %d %q %q, want apiguard's own 400 problem", resp.StatusCode, resp.Header.Get("content-type"), body)
			}
		})
	}
	if up.count() != 0 {
		t.Errorf("%d requests reached the upstream", up.count())
	}
}

func TestRouteNameIsInTheLogAndMetrics(t *testing.T) {
	key := jwttest.EC("k1", elliptic.P256())
	config := fmt.Sprintf(`{
  "providers": {"idp": {"issuer": "https://idp.example/", "audiences": ["api"], "jwks": {"inline": %s}}},
  "routes": [
    {"name": "orders", "match": {"path": "/orders/**"}, "auth": {"providers": ["idp"]}},
    {"name": "echo", "match": {"path": "/echo/**"}, "auth": "none"}
  ]
}`, jwttest.JWKS(key))
	_, upURL := newUpstream(t)
	g := startWith(t, upURL, Options{Config: []byte(config)})
	c := dial(t, g.addr)
	br := bufio.NewReader(c)
	for _, p := range []string{"/echo/a", "/echo/b", "/orders/1", "/nope"} {
		roundTrip(t, c, br, "GET "+p+" HTTP/1.1\r\nhost: x\r\n\r\n")
	}
	for _, want := range []string{
		"GET /echo/a 200 allowed route=echo details=via_upstream",
		"GET /orders/1 401 denied:token_missing route=orders ",
		"GET /nope 404 denied:no_route route=- ",
	} {
		if !g.logs.waitFor(want) {
			t.Errorf("log lacks %q:\n%s", want, g.logs.String())
		}
	}
	for name, want := range map[string]uint64{"apiguard.route.echo.allowed": 2, "apiguard.route.orders.denied": 1, "apiguard.route.orders.allowed": 0} {
		if n, _ := g.g.Env().Metric(name); n != want {
			t.Errorf("%s = %d, want %d", name, n, want)
		}
	}
}

func TestHostHeadersReachThePluginAsEnvoysCodecMakesThem(t *testing.T) {
	g, up := start(t)
	c := dial(t, g.addr)
	br := bufio.NewReader(c)

	resp, body := roundTrip(t, c, br, "GET /echo/two HTTP/1.1\r\nhost: api.example\r\nhost: evil.example\r\n\r\n")
	if resp.StatusCode != 400 || !strings.Contains(body, `"type":"urn:apiguard:problem:bad_request"`) {
		t.Errorf("two Host headers: got %d %q, want apiguard's 400 for the joined authority", resp.StatusCode, body)
	}

	resp, body = roundTrip(t, c, br, "GET http://api.example/echo/abs?q=1 HTTP/1.1\r\nhost: other.example\r\n\r\n")
	if resp.StatusCode != 200 || body != "GET /echo/abs q=1 " {
		t.Fatalf("absolute-form target: got %d %q", resp.StatusCode, body)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if n := len(up.seen); n != 1 || up.seen[0].Host != "api.example" {
		t.Errorf("upstream saw %d requests, the last with host %q; want one, for the target's authority api.example", n, up.seen[n-1].Host)
	}
}
