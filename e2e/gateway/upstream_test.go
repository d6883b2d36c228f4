package gateway

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Upstream-side tests: what goes to the upstream and what comes back, on raw sockets.

// rawUpstream accepts one connection, records the request head byte for byte
// and answers with resp.
func rawUpstream(t *testing.T, resp []byte) (url string, head <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	heads := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var h strings.Builder
		for {
			l, err := br.ReadString('\n')
			h.WriteString(l)
			if err != nil || l == "\r\n" {
				break
			}
		}
		heads <- h.String()
		_, _ = c.Write(resp)
	}()
	return "http://" + ln.Addr().String(), heads
}

func TestForwardsExactlyWhatClientAndUpstreamSent(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("compressed by the upstream"))
	zw.Close()
	resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", gz.Len(), gz.Bytes())
	upURL, heads := rawUpstream(t, resp)
	g := startWith(t, upURL, Options{})

	c := dial(t, g.addr)
	got, body := roundTrip(t, c, bufio.NewReader(c), "GET /echo/a?q=1 HTTP/1.1\r\nHost: api.example\r\nX-Client: yes\r\n\r\n")
	head := <-heads

	// Envoy's encoding: the request line, host from :authority, the client's
	// headers in order with lower-case names, then what Envoy adds
	// (x-forwarded-proto, x-request-id, the router's timeout), nothing else.
	want := regexp.MustCompile(`^GET /echo/a\?q=1 HTTP/1\.1\r\nhost: api\.example\r\nx-client: yes\r\n` +
		`x-forwarded-proto: http\r\nx-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\r\nx-envoy-expected-rq-timeout-ms: 15000\r\n\r\n$`)
	if !want.MatchString(head) {
		t.Errorf("upstream request head:\n%q\nwant it to match %s", head, want)
	}
	if got.Header.Get("content-encoding") != "gzip" || body != gz.String() {
		t.Errorf("client got content-encoding %q and %d body bytes; want the upstream's gzip bytes untouched (%d)",
			got.Header.Get("content-encoding"), len(body), gz.Len())
	}
}

// varying masks the values that change from run to run.
var varying = regexp.MustCompile(`(?m)^(date|x-envoy-upstream-service-time): .*\r$`)

// rawHead reads a response head as bytes, with its varying values masked.
func rawHead(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var h strings.Builder
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the response head: %v (so far %q)", err, h.String())
		}
		h.WriteString(l)
		if l == "\r\n" {
			return varying.ReplaceAllString(h.String(), "$1: *\r")
		}
	}
}

func TestUpstreamResponsesComeBackAsSent(t *testing.T) {
	const reset = "upstream connect error or disconnect/reset before headers. reset reason: "
	// Envoy's additions: the router's timing (which the plugin sees), then
	// the connection manager's date and server.
	const timing, envoy = "x-envoy-upstream-service-time: *\r\n", "date: *\r\nserver: envoy\r\n"
	tests := []struct {
		name     string
		upstream string
		wantHead string
		wantBody string
	}{
		{name: "content-length, header order and case kept (names lower-cased, as Envoy's codec does)",
			upstream: "HTTP/1.1 200 OK\r\nX-B: 1\r\nx-a: 2\r\nContent-Length: 5\r\n\r\nhello",
			wantHead: "HTTP/1.1 200 OK\r\nx-b: 1\r\nx-a: 2\r\ncontent-length: 5\r\n" + timing + envoy + "\r\n", wantBody: "hello"},
		{name: "chunked", upstream: "HTTP/1.1 201 Created\r\nx-b: 1\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
			wantHead: "HTTP/1.1 201 Created\r\nx-b: 1\r\n" + timing + envoy + "transfer-encoding: chunked\r\n\r\n", wantBody: "hello"},
		{name: "delimited by the upstream's close, chunked downstream", upstream: "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil close",
			wantHead: "HTTP/1.1 200 OK\r\n" + timing + envoy + "transfer-encoding: chunked\r\n\r\n", wantBody: "until close"},
		{name: "interim 1xx skipped", upstream: "HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
			wantHead: "HTTP/1.1 204 No Content\r\n" + timing + envoy + "\r\n"},
		{name: "a malformed status line is a protocol error", upstream: "HTTP/1.1 2x0 what\r\n\r\n",
			wantHead: fmt.Sprintf("HTTP/1.1 502 Bad Gateway\r\ncontent-length: %d\r\ncontent-type: text/plain\r\n%s\r\n", len(reset+"protocol error"), envoy),
			wantBody: reset + "protocol error"},
		{name: "more response headers than Envoy's 100", upstream: "HTTP/1.1 200 OK\r\n" + strings.Repeat("x-h: v\r\n", 101) + "\r\n",
			wantHead: fmt.Sprintf("HTTP/1.1 502 Bad Gateway\r\ncontent-length: %d\r\ncontent-type: text/plain\r\n%s\r\n", len(reset+"protocol error"), envoy),
			wantBody: reset + "protocol error"},
		{name: "closed before answering", upstream: "",
			wantHead: fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\ncontent-length: %d\r\ncontent-type: text/plain\r\n%s\r\n", len(reset+"connection termination"), envoy),
			wantBody: reset + "connection termination"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			upURL, _ := rawUpstream(t, []byte(tc.upstream))
			g := startWith(t, upURL, Options{Config: []byte(unhardened)})
			c := dial(t, g.addr)
			br := bufio.NewReader(c)
			_, _ = io.WriteString(c, "GET /echo/a HTTP/1.1\r\nhost: x\r\n\r\n")
			head := rawHead(t, br)
			if head != tc.wantHead {
				t.Fatalf("response head:\n%q\nwant\n%q", head, tc.wantHead)
			}
			var body io.Reader = io.LimitReader(br, int64(len(tc.wantBody)))
			if strings.Contains(head, "transfer-encoding: chunked") {
				body = httputil.NewChunkedReader(br)
			}
			if got, err := io.ReadAll(body); err != nil || string(got) != tc.wantBody {
				t.Errorf("body %q (%v), want %q", got, err, tc.wantBody)
			}
		})
	}
}

func TestClientHeadersAreForwardedInOrder(t *testing.T) {
	upURL, heads := rawUpstream(t, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	g := startWith(t, upURL, Options{})
	c := dial(t, g.addr)
	roundTrip(t, c, bufio.NewReader(c), "GET /echo/ua HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.5\r\nAccept-Encoding: br\r\n\r\n")
	head := <-heads
	if !strings.Contains(head, "\r\nhost: x\r\nuser-agent: curl/8.5\r\naccept-encoding: br\r\nx-forwarded-proto: http\r\n") {
		t.Errorf("upstream head:\n%s", head)
	}
}

// acceptEach serves every connection on loopback with serve, each on its
// own goroutine, until the test ends.
func acceptEach(t *testing.T, serve func(net.Conn)) (url string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestHungUpstreamMeetsTheRouteTimeout(t *testing.T) {
	// Accept and never answer.
	hung := acceptEach(t, func(c net.Conn) { t.Cleanup(func() { c.Close() }) })
	const d = 300 * time.Millisecond
	g := startWith(t, hung, Options{Timeouts: Timeouts{Route: d}})
	c := dial(t, g.addr)
	began := time.Now()
	resp, body := roundTrip(t, c, bufio.NewReader(c), "GET /echo/a HTTP/1.1\r\nhost: x\r\n\r\n")
	if resp.StatusCode != 504 || body != "upstream request timeout" {
		t.Errorf("got %d %q, want Envoy's 504 upstream request timeout", resp.StatusCode, body)
	}
	if waited := time.Since(began); waited < d {
		t.Errorf("answered after %v, before the %v route timeout", waited, d)
	}
	if !g.logs.waitFor("GET /echo/a 504 allowed route=echo details=upstream_response_timeout") {
		t.Errorf("log:\n%s", g.logs.String())
	}
}

func TestUpstreamThatDiesMidUploadIsAnsweredAtOnce(t *testing.T) {
	upURL, _ := rawUpstream(t, nil) // reads the head, then closes
	g := startWith(t, upURL, Options{Timeouts: Timeouts{StreamIdle: time.Minute}})
	c := dial(t, g.addr)
	began := time.Now()
	// One byte of ten, then the client waits: the answer must not.
	resp, body := roundTrip(t, c, bufio.NewReader(c), "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nA")
	if want := "upstream connect error or disconnect/reset before headers. reset reason: connection termination"; resp.StatusCode != 503 || body != want {
		t.Errorf("got %d %q, want 503 %q", resp.StatusCode, body, want)
	}
	if waited := time.Since(began); waited > 10*time.Second {
		t.Errorf("answered after %v: the gateway waited for the client's body", waited)
	}
	if !resp.Close {
		t.Error("the connection must close: the request body was not read to its end")
	}
}

// closedPort is the URL of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

func TestUnreachableUpstreamIsAnEnvoyLocalReply(t *testing.T) {
	closed := closedPort(t)
	const want = "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused"
	probe, err := os.ReadFile("../../build/probe.wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{name: "apiguard", opts: Options{}},
		// The probe module marks every response its response callback saw.
		{name: "through the response callbacks", opts: Options{Module: probe, Config: []byte("{}")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startWith(t, closed, tc.opts)
			c := dial(t, g.addr)
			resp, body := roundTrip(t, c, bufio.NewReader(c), "GET /echo/a HTTP/1.1\r\nhost: x\r\n\r\n")
			if resp.StatusCode != 503 || body != want || resp.Header.Get("content-type") != "text/plain" {
				t.Errorf("got %d %q %q, want 503 %q", resp.StatusCode, resp.Header.Get("content-type"), body, want)
			}
			if tc.opts.Module != nil && resp.Header.Get("x-probe-response-seen") != "1" {
				t.Errorf("headers %v: the local reply did not pass through the plugin's response callbacks", resp.Header)
			}
			if !g.logs.waitFor("details=upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}") {
				t.Errorf("log:\n%s", g.logs.String())
			}
		})
	}
}

func TestEarlyUpstreamAnswerIsForwardedAtOnce(t *testing.T) {
	upURL, _ := rawUpstream(t, []byte("HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\n\r\ntoo big!"))
	g := startWith(t, upURL, Options{Timeouts: Timeouts{StreamIdle: time.Minute}})
	c := dial(t, g.addr)
	began := time.Now()
	// One byte of a million, then the client waits for the answer.
	resp, body := roundTrip(t, c, bufio.NewReader(c), "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\nA")
	if resp.StatusCode != 413 || body != "too big!" || !resp.Close {
		t.Errorf("got %d %q (close %v), want the upstream's 413 and the connection closed", resp.StatusCode, body, resp.Close)
	}
	if waited := time.Since(began); waited > 10*time.Second {
		t.Errorf("answered after %v: the gateway waited for the client's body", waited)
	}
}
