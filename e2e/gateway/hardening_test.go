package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strings"
	"testing"
)

// The checks of e2e/hardening_test.go and e2e/cors_test.go, on the wire:
// raw HTTP/1.1 through the gateway, where a duplicate header line cannot
// hide behind a parsed map.

const hardenedPolicy = `{
  "providers": {"idp": {"issuer": "i", "audiences": ["a"], "jwks": {"inline": {"keys": [{"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "alg": "HS256"}]}}}},
  "routes": [
    {"name": "orders", "match": {"path": "/orders/**", "methods": ["GET", "POST"]}, "auth": {"providers": ["idp"]}},
    {"name": "public", "match": {"path": "/public/**", "methods": ["GET"]}, "auth": "none"}
  ],
  "response": {"replace_error_bodies": true, "assume_https": true},
  "cors": {"origins": ["https://app.example.com", "https://*.partner.example"], "methods": ["GET", "POST"], "headers": ["authorization"], "credentials": true}
}`

// strictLines are the strict preset's header lines as they go on the wire.
var strictLines = []string{
	"strict-transport-security: max-age=31536000; includeSubDomains",
	"x-content-type-options: nosniff",
	"content-security-policy: default-src 'none'; frame-ancestors 'none'",
	"x-frame-options: DENY",
	"referrer-policy: no-referrer",
	"cross-origin-opener-policy: same-origin",
	"cross-origin-resource-policy: same-origin",
	"permissions-policy: accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), fullscreen=(), " +
		"geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), " +
		"publickey-credentials-get=(), screen-wake-lock=(), sync-xhr=(), usb=(), xr-spatial-tracking=()",
	"cache-control: no-store",
}

// misbehaving answers each request by its path, on raw sockets, as
// upstreams that set their own policies and banners do; one request per
// connection, which it says, so the gateway never reuses one it closed.
func misbehaving(t *testing.T) string {
	t.Helper()
	responses := map[string]string{
		"/public/own-policy": "HTTP/1.1 200 OK\r\nContent-Security-Policy: default-src 'self'\r\nStrict-Transport-Security: max-age=60\r\nX-Frame-Options: SAMEORIGIN\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
		"/public/banners":    "HTTP/1.1 200 OK\r\nServer: Apache/2.4.1\r\nServer: Tomcat\r\nX-Powered-By: Express\r\nX-AspNet-Version: 4.0.30319\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
		"/public/crash":      "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: 60\r\n\r\n<pre>NullPointerException at com.acme.Orders(Orders.java:42)",
		"/public/cors":       "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nVary: Accept-Encoding\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
	}
	return acceptEach(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		line, _ := br.ReadString('\n')
		for l := line; l != "\r\n" && l != ""; l, _ = br.ReadString('\n') {
		}
		var method, path string
		fmt.Sscan(line, &method, &path)
		resp, ok := responses[path]
		if !ok {
			resp = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
		}
		_, _ = io.WriteString(c, resp)
	})
}

// wireResponse is a response as it crossed the wire: its head's lines and
// its body.
type wireResponse struct {
	status string
	lines  []string
	body   string
}

func (w wireResponse) values(name string) []string {
	var out []string
	for _, l := range w.lines {
		if n, v, _ := strings.Cut(l, ": "); n == name {
			out = append(out, v)
		}
	}
	return out
}

func send(t *testing.T, addr, raw string) wireResponse {
	t.Helper()
	c := dial(t, addr)
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	status, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	w := wireResponse{status: strings.TrimSpace(status)}
	length := -1
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "\r\n" {
			break
		}
		l = strings.TrimSuffix(l, "\r\n")
		w.lines = append(w.lines, l)
		if v, ok := strings.CutPrefix(l, "content-length: "); ok {
			fmt.Sscan(v, &length)
		}
	}
	var body io.Reader = io.LimitReader(br, max(int64(length), 0))
	if len(w.values("transfer-encoding")) > 0 {
		body = httputil.NewChunkedReader(br)
	}
	b, _ := io.ReadAll(body)
	w.body = string(b)
	return w
}

// expectHardenedOnTheWire: every strict line exactly once, Envoy's server
// line and nothing that names the upstream's software, no name twice.
func expectHardenedOnTheWire(t *testing.T, w wireResponse) {
	t.Helper()
	for _, want := range strictLines {
		name, value, _ := strings.Cut(want, ": ")
		if got := w.values(name); len(got) != 1 || got[0] != value {
			t.Errorf("%s: %q, want exactly %q", name, got, value)
		}
	}
	if got := w.values("server"); len(got) != 1 || got[0] != "envoy" {
		t.Errorf("server %q, want Envoy's own line only", got)
	}
	for _, name := range []string{"x-powered-by", "x-aspnet-version", "x-envoy-upstream-service-time"} {
		if got := w.values(name); len(got) > 0 {
			t.Errorf("%s: %q leaked", name, got)
		}
	}
	seen := map[string]bool{}
	for _, l := range w.lines {
		name, _, _ := strings.Cut(l, ": ")
		if seen[name] {
			t.Errorf("%s twice: %q", name, w.values(name))
		}
		seen[name] = true
	}
}

func TestEveryResponseOnTheWireIsHardened(t *testing.T) {
	g := startWith(t, misbehaving(t), Options{Config: []byte(hardenedPolicy)})
	tests := []struct {
		name, raw, status string
		problem           string
	}{
		{name: "200 with the upstream's own CSP and HSTS", raw: "GET /public/own-policy HTTP/1.1\r\nhost: x\r\n\r\n", status: "200"},
		{name: "200 with two Server lines and banners", raw: "GET /public/banners HTTP/1.1\r\nhost: x\r\n\r\n", status: "200"},
		{name: "500 from the upstream, its page replaced", raw: "GET /public/crash HTTP/1.1\r\nhost: x\r\n\r\n", status: "500", problem: "upstream_error"},
		{name: "400 bad path", raw: "GET /public/%2e%2e%2fx HTTP/1.1\r\nhost: x\r\n\r\n", status: "400", problem: "bad_path"},
		{name: "401 without a token", raw: "GET /orders/1 HTTP/1.1\r\nhost: x\r\n\r\n", status: "401", problem: "token_missing"},
		{name: "403 a refused preflight", raw: "OPTIONS /orders/1 HTTP/1.1\r\nhost: x\r\norigin: https://evil.example\r\naccess-control-request-method: GET\r\n\r\n", status: "403", problem: "cors_refused"},
		{name: "404 no route", raw: "GET /nowhere HTTP/1.1\r\nhost: x\r\n\r\n", status: "404", problem: "no_route"},
		{name: "405 method", raw: "PUT /public/x HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n", status: "405", problem: "method_not_allowed"},
		{name: "204 an allowed preflight", raw: "OPTIONS /orders/1 HTTP/1.1\r\nhost: x\r\norigin: https://app.example.com\r\naccess-control-request-method: POST\r\n\r\n", status: "204"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := send(t, g.addr, tc.raw)
			if !strings.HasPrefix(w.status, "HTTP/1.1 "+tc.status+" ") {
				t.Fatalf("status line %q, want %s", w.status, tc.status)
			}
			expectHardenedOnTheWire(t, w)
			if tc.problem != "" {
				expectProblemOnTheWire(t, w, tc.problem)
			}
		})
	}
}

func expectProblemOnTheWire(t *testing.T, w wireResponse, code string) {
	t.Helper()
	var p struct{ Type string }
	if err := json.Unmarshal([]byte(w.body), &p); err != nil || p.Type != "urn:apiguard:problem:"+code {
		t.Errorf("body %q (%v), want a %s problem", w.body, err, code)
	}
	if ct := w.values("content-type"); len(ct) != 1 || ct[0] != "application/problem+json" {
		t.Errorf("content-type %q", ct)
	}
}

// TestTheGateways503IsHardened: the gateway's own reply to an unreachable
// upstream passes through apiguard's response callbacks, as Envoy's does,
// and leaves hardened, its body (which names the connect error) replaced.
func TestTheGateways503IsHardened(t *testing.T) {
	g := startWith(t, closedPort(t), Options{Config: []byte(hardenedPolicy)})
	w := send(t, g.addr, "GET /public/x HTTP/1.1\r\nhost: x\r\n\r\n")
	if !strings.HasPrefix(w.status, "HTTP/1.1 503 ") {
		t.Fatalf("status line %q", w.status)
	}
	expectHardenedOnTheWire(t, w)
	expectProblemOnTheWire(t, w, "upstream_error")
}

// TestLookAlikeOriginsOnTheWire: the origin attack list, on raw requests
// (two Origin lines included), gets no Access-Control-Allow-* line; an
// allowed origin gets exactly itself, once, in place of the upstream's "*".
func TestLookAlikeOriginsOnTheWire(t *testing.T) {
	g := startWith(t, misbehaving(t), Options{Config: []byte(hardenedPolicy)})
	for _, origins := range [][]string{
		{"https://app.example.com.evil.com"}, {"https://evilapp.example.com"}, {"https://app-example.com"},
		{"http://app.example.com"}, {"https://app.example.com:8443"}, {"https://app.example.com."},
		{"https://\u0430pp.example.com"}, {"https://APP.EXAMPLE.COM"}, {"https://app.example.com", "https://evil.example"},
		{"null"}, {""},
	} {
		t.Run(strings.Join(origins, " + "), func(t *testing.T) {
			raw := "GET /public/cors HTTP/1.1\r\nhost: x\r\n"
			for _, o := range origins {
				raw += "origin: " + o + "\r\n"
			}
			w := send(t, g.addr, raw+"\r\n")
			for _, l := range w.lines {
				if strings.HasPrefix(l, "access-control-allow-") {
					t.Errorf("%q", l)
				}
			}
			if v := w.values("vary"); len(v) != 1 || v[0] != "Accept-Encoding, Origin" {
				t.Errorf("vary %q", v)
			}
		})
	}
	w := send(t, g.addr, "GET /public/cors HTTP/1.1\r\nhost: x\r\norigin: https://eu.partner.example\r\n\r\n")
	if v := w.values("access-control-allow-origin"); len(v) != 1 || v[0] != "https://eu.partner.example" {
		t.Errorf("allowed origin: access-control-allow-origin %q", v)
	}
	expectHardenedOnTheWire(t, w)
}
