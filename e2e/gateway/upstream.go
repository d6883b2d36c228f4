package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
)

// cluster speaks HTTP/1.1 to the upstream with the gateway's own
// codec, as Envoy's upstream codec does: the request goes out with the headers
// in the order and case the plugin left them and nothing added but framing,
// and the response comes back as sent, Content-Encoding and all.
type cluster struct {
	addr     string
	basePath string
	// tls is set for an https upstream.
	tls    *tls.Config
	limits Limits
	// timeout is the route timeout the upstream is told about.
	timeout time.Duration
	mu      sync.Mutex
	idle    []*upConn
}

func newCluster(u *url.URL, lim Limits, timeout time.Duration) (*cluster, error) {
	c := &cluster{addr: u.Host, basePath: strings.TrimSuffix(u.EscapedPath(), "/"), limits: lim, timeout: timeout}
	port := "80"
	switch u.Scheme {
	case "http":
	case "https":
		c.tls, port = &tls.Config{ServerName: u.Hostname()}, "443"
	default:
		return nil, fmt.Errorf("upstream %s: want an http or https URL", u)
	}
	if u.Port() == "" {
		c.addr = net.JoinHostPort(u.Hostname(), port)
	}
	return c, nil
}

// maxIdleUpstream bounds the kept-alive upstream connections.
const maxIdleUpstream = 64

type upConn struct {
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	// reused is set once the connection carried a request.
	reused bool
}

// upstreamResponse is a response head and its body.
type upstreamResponse struct {
	status  int
	headers host.Headers
	// body reads the body; endStream says there is none.
	body      io.Reader
	endStream bool
	conn      *upConn
	reusable  bool
	// elapsed is the time from the request's start to the response head.
	elapsed time.Duration
}

// upstreamError is a reset before the response started, named as Envoy's
// Http::Utility::resetReasonToString names it.
type upstreamError struct {
	reason string
	err    error
}

func (e *upstreamError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *upstreamError) Unwrap() error { return e.err }

func (u *cluster) get(ctx context.Context) (*upConn, error) {
	u.mu.Lock()
	if n := len(u.idle); n > 0 {
		c := u.idle[n-1]
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		return c, nil
	}
	u.mu.Unlock()
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	var nc net.Conn
	var err error
	if u.tls != nil {
		nc, err = (&tls.Dialer{NetDialer: dialer, Config: u.tls}).DialContext(ctx, "tcp", u.addr)
	} else {
		nc, err = dialer.DialContext(ctx, "tcp", u.addr)
	}
	if err != nil {
		return nil, err
	}
	return &upConn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 32<<10)}, nil
}

func (u *cluster) put(c *upConn) {
	c.reused = true
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.idle) < maxIdleUpstream {
		u.idle = append(u.idle, c)
		return
	}
	c.nc.Close()
}

func (u *cluster) close() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, c := range u.idle {
		c.nc.Close()
	}
	u.idle = nil
}

// requestHead encodes the request line and headers (RequestEncoderImpl):
// :authority becomes host, and a request without a body gets
// "content-length: 0" unless its method never has one. The router tells the
// upstream the route timeout (x-envoy-expected-rq-timeout-ms).
func requestHead(basePath string, h host.Headers, bodyLength int64, timeout time.Duration) ([]byte, error) {
	method, _ := h.Get(":method")
	path, _ := h.Get(":path")
	authority, _ := h.Get(":authority")
	if method == "" || path == "" {
		return nil, errors.New("upstream request lacks :method or :path")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s%s HTTP/1.1\r\nhost: %s\r\n", method, basePath, path, authority)
	hasLength := false
	for _, kv := range h {
		if kv[0] == "" || kv[0][0] == ':' || hopByHop[kv[0]] || kv[0] == "host" {
			continue
		}
		hasLength = hasLength || kv[0] == "content-length"
		fmt.Fprintf(&b, "%s: %s\r\n", kv[0], kv[1])
	}
	if timeout > 0 {
		fmt.Fprintf(&b, "x-envoy-expected-rq-timeout-ms: %d\r\n", timeout.Milliseconds())
	}
	switch {
	case bodyLength < 0:
		b.WriteString("transfer-encoding: chunked\r\n")
	case bodyLength == 0 && !hasLength && !bodiless(method):
		b.WriteString("content-length: 0\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String()), nil
}

// bodiless are the methods Envoy sends without "content-length: 0"
// (HeaderUtility::requestShouldHaveNoBody).
func bodiless(method string) bool {
	switch method {
	case "GET", "HEAD", "DELETE", "TRACE", "CONNECT":
		return true
	}
	return false
}

// start sends the request head and returns the connection the body and the
// response go through. Cancelling ctx closes the connection.
func (u *cluster) start(ctx context.Context, h host.Headers, bodyLength int64) (*upConn, func() bool, error) {
	head, err := requestHead(u.basePath, h, bodyLength, u.timeout)
	if err != nil {
		return nil, nil, err
	}
	c, err := u.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	if _, err := c.bw.Write(head); err != nil {
		stop()
		c.nc.Close()
		return nil, nil, err
	}
	if bodyLength == 0 {
		err = c.bw.Flush()
	}
	if err != nil {
		stop()
		c.nc.Close()
		return nil, nil, err
	}
	return c, stop, nil
}

// bodyWriter frames the request body for the upstream.
type bodyWriter struct {
	c       *upConn
	chunked bool
}

func (w *bodyWriter) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if w.chunked {
		fmt.Fprintf(w.c.bw, "%x\r\n", len(p))
	}
	w.c.bw.Write(p)
	if w.chunked {
		w.c.bw.WriteString("\r\n")
	}
	return w.c.bw.Flush()
}

func (w *bodyWriter) end() error {
	if w.chunked {
		w.c.bw.WriteString("0\r\n\r\n")
	}
	return w.c.bw.Flush()
}

// readResponse reads the response head, skipping 1xx interim responses.
func (u *cluster) readResponse(c *upConn, head bool, started time.Time) (*upstreamResponse, error) {
	for {
		r, err := u.readHead(c, head)
		if err != nil || r.status >= 200 {
			if r != nil {
				r.elapsed = time.Since(started)
			}
			return r, err
		}
	}
}

func (u *cluster) readHead(c *upConn, head bool) (*upstreamResponse, error) {
	lim := u.limits
	lr := &lineReader{br: c.br, budget: lim.HeaderBytes, tooLarge: &codecError{status: 502, details: "protocol_error", cause: "response headers too large"}}
	first, err := lr.line()
	if err != nil {
		var ce *codecError
		if errors.As(err, &ce) {
			return nil, &upstreamError{reason: "protocol error", err: err}
		}
		return nil, &upstreamError{reason: "connection termination", err: err}
	}
	proto, rest, _ := strings.Cut(first, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if (proto != "HTTP/1.1" && proto != "HTTP/1.0") || err != nil || len(code) != 3 || status < 100 {
		return nil, &upstreamError{reason: "protocol error", err: fmt.Errorf("malformed status line %q", first)}
	}
	r := &upstreamResponse{status: status, headers: host.Headers{{":status", code}}, conn: c, reusable: proto == "HTTP/1.1"}
	for {
		l, err := lr.line()
		if err != nil {
			return nil, &upstreamError{reason: "protocol error", err: err}
		}
		if l == "" {
			break
		}
		name, value, err := parseHeaderLine(l)
		if err != nil {
			return nil, &upstreamError{reason: "protocol error", err: err}
		}
		if name == "connection" && strings.Contains(strings.ToLower(value), "close") {
			r.reusable = false
		}
		r.headers.Add(name, value)
		if len(r.headers) > lim.Headers+1 { // :status is no header line
			return nil, &upstreamError{reason: "protocol error", err: errors.New("too many response headers")}
		}
	}
	if status < 200 {
		return r, nil
	}
	// Response framing, RFC 9112 section 6.3.
	req := &request{headers: r.headers, proto: proto}
	switch {
	case head || status == 204 || status == 304:
		r.endStream = true
	case req.frame() != nil:
		return nil, &upstreamError{reason: "protocol error", err: errors.New("invalid response framing")}
	case req.length == 0 && len(r.headers.Values("content-length")) == 0:
		// Neither length nor chunked: the body runs to the connection's close.
		r.body, r.reusable = c.br, false
	default:
		r.body = newBodyReader(c.br, req, lim)
		r.endStream = req.length == 0
	}
	return r, nil
}
