package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
)

// Timeouts bound how long the gateway waits on a client, as Envoy's
// HttpConnectionManager does. A zero field takes Envoy's default; a negative
// one disables the timeout.
type Timeouts struct {
	// StreamIdle ends a request whose client (or upstream) sends nothing for
	// this long: stream_idle_timeout, 5 minutes by default. As in Envoy the
	// timer starts with the request's first byte and restarts on each body
	// chunk, so it also bounds a client that trickles its headers.
	StreamIdle time.Duration
	// Request bounds the time to receive the whole request: request_timeout,
	// disabled by default.
	Request time.Duration
	// RequestHeaders bounds the time to receive the request headers:
	// request_headers_timeout, disabled by default.
	RequestHeaders time.Duration
	// Idle closes a connection that carries no request for this long:
	// common_http_protocol_options.idle_timeout, 1 hour by default.
	Idle time.Duration
	// Route bounds the upstream's answer, from the end of the request to the
	// end of the response: the route's timeout, 15 seconds by default. It
	// answers 504 if the response has not started, and cuts it otherwise.
	Route time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		switch {
		case *d == 0:
			*d = v
		case *d < 0:
			*d = 0
		}
	}
	def(&t.StreamIdle, 5*time.Minute)
	def(&t.Request, 0)
	def(&t.RequestHeaders, 0)
	def(&t.Idle, time.Hour)
	def(&t.Route, 15*time.Second)
	return t
}

// Serve accepts connections on ln until Shutdown, pinning each connection to
// one worker VM as Envoy pins it to one worker thread. With Options.TLS
// every connection is TLS.
func (g *Gateway) Serve(ln net.Listener) error {
	if g.upstream == nil {
		return errors.New("gateway: no upstream to serve")
	}
	if g.opts.TLS != nil {
		ln = tls.NewListener(ln, g.opts.TLS)
	}
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		return errors.New("gateway: shut down")
	}
	g.listeners[ln] = struct{}{}
	g.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			g.mu.Lock()
			closing := g.closing
			delete(g.listeners, ln)
			g.mu.Unlock()
			if closing {
				return nil
			}
			return err
		}
		c := &conn{g: g, nc: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 32<<10),
			vm: g.vms[int(g.next.Add(1)-1)%len(g.vms)]}
		if !g.track(c) {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections, lets the requests in
// flight finish, and forcibly closes what is left when ctx ends.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing = true
	for ln := range g.listeners {
		ln.Close()
	}
	for c := range g.conns {
		if c.idle {
			c.nc.Close()
		}
	}
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		for c := range g.conns {
			c.nc.Close()
		}
		g.mu.Unlock()
		return ctx.Err()
	}
}

func (g *Gateway) track(c *conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.conns[c] = struct{}{}
	g.active.Add(1)
	return true
}

// conn is one downstream connection.
type conn struct {
	g  *Gateway
	nc net.Conn
	br *bufio.Reader
	bw *bufio.Writer
	vm *host.VM
	// tls is the connection's TLS session, read once its handshake is done;
	// nil on a plaintext connection.
	tls *host.TLS
	// idle is set while the connection waits for a request; guarded by g.mu.
	idle bool
}

func (c *conn) serve() {
	defer func() {
		c.nc.Close()
		c.g.mu.Lock()
		delete(c.g.conns, c)
		c.g.mu.Unlock()
		c.g.active.Done()
	}()
	for c.awaitRequest() {
		if !c.exchange() {
			return
		}
	}
}

// awaitRequest waits for the first byte of the next request, at most the idle
// timeout, and reports whether one came.
func (c *conn) awaitRequest() bool {
	c.g.mu.Lock()
	if c.g.closing {
		c.g.mu.Unlock()
		return false
	}
	c.idle = true
	c.g.mu.Unlock()
	var deadline time.Time
	if d := c.g.opts.Timeouts.Idle; d > 0 {
		deadline = time.Now().Add(d)
	}
	_ = c.nc.SetReadDeadline(deadline)
	_, err := c.br.Peek(1)
	c.g.mu.Lock()
	c.idle = false
	closing := c.g.closing
	c.g.mu.Unlock()
	return err == nil && !closing
}

// timeout kinds, with what Envoy answers when one fires (ActiveStream::onIdleTimeout,
// onRequestTimeout, onRequestHeaderTimeout, and the router's onResponseTimeout).
type timeout struct {
	body, details string
	// status is fixed for the route timeout; the stream timers answer 408
	// while the request is arriving, 504 after.
	status int
}

var (
	streamIdleTimeout     = &timeout{body: "stream timeout", details: "stream_idle_timeout"}
	requestTimeout        = &timeout{body: "request timeout", details: "request_overall_timeout"}
	requestHeadersTimeout = &timeout{body: "request header timeout", details: "request_header_timeout"}
	routeTimeout          = &timeout{body: "upstream request timeout", details: "upstream_response_timeout", status: 504}
)

// timers are one stream's timeouts. A timer that fires records which one it
// was and interrupts what the stream waits on: a read from the client, or the
// upstream exchange.
type timers struct {
	c      *conn
	cancel context.CancelFunc
	to     Timeouts
	mu     sync.Mutex
	fired  *timeout
	done   bool
	// Each timer is nil while disarmed.
	idle, request, headers, route *time.Timer
}

func (c *conn) startTimers(cancel context.CancelFunc) *timers {
	t := &timers{c: c, cancel: cancel, to: c.g.opts.Timeouts}
	t.idle = t.arm(t.to.StreamIdle, streamIdleTimeout)
	t.request = t.arm(t.to.Request, requestTimeout)
	t.headers = t.arm(t.to.RequestHeaders, requestHeadersTimeout)
	return t
}

func (t *timers) arm(d time.Duration, which *timeout) *time.Timer {
	if d <= 0 {
		return nil
	}
	return time.AfterFunc(d, func() { t.fire(which) })
}

func (t *timers) fire(which *timeout) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done || t.fired != nil {
		return
	}
	t.fired = which
	_ = t.c.nc.SetReadDeadline(time.Now())
	t.cancel()
}

// touch restarts the stream idle timer, on activity.
func (t *timers) touch() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idle != nil && !t.done && t.fired == nil {
		t.idle.Reset(t.to.StreamIdle)
	}
}

// headersDone and requestDone disarm the timers that end with them, as
// Envoy does once the headers or the whole request arrived.
func (t *timers) headersDone() { stop(t.headers) }
func (t *timers) requestDone() { stop(t.request) }

// upstreamDone arms the route timeout once the whole request went upstream,
// as the router does (Filter::onRequestComplete).
func (t *timers) upstreamDone() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.route == nil && !t.done {
		t.route = t.arm(t.to.Route, routeTimeout)
	}
}

func stop(tm *time.Timer) {
	if tm != nil {
		tm.Stop()
	}
}

// which returns the timeout that fired, or nil.
func (t *timers) which() *timeout {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fired
}

func (t *timers) close() {
	t.mu.Lock()
	t.done = true
	route := t.route
	t.mu.Unlock()
	for _, tm := range []*time.Timer{t.idle, t.request, t.headers, route} {
		stop(tm)
	}
	_ = t.c.nc.SetReadDeadline(time.Time{})
}

// responseWriter encodes one response the way Envoy's HTTP/1 codec does
// (StreamEncoderImpl::encodeHeadersBase): a Content-Length is kept and
// trusted, otherwise the body is chunked; 1xx, 204 and 304 responses and
// answers to HEAD carry no body.
type responseWriter struct {
	bw      *bufio.Writer
	head    bool
	started bool
	chunked bool
	noBody  bool
	// closeConn adds Connection: close; set it before the headers.
	closeConn bool
	// reset is set once the stream was reset: nothing more is written.
	reset  bool
	status int
}

// errReset is what writing to a reset stream returns.
var errReset = errors.New("gateway: stream reset")

func (w *responseWriter) writeHeaders(h host.Headers, endStream bool) error {
	if w.reset {
		return errReset
	}
	w.started = true
	w.status = http.StatusBadGateway
	if v, ok := h.Get(":status"); ok {
		if n, err := strconv.Atoi(v); err == nil {
			w.status = n
		}
	}
	reason := http.StatusText(w.status)
	if reason == "" {
		reason = "Unknown"
	}
	fmt.Fprintf(w.bw, "HTTP/1.1 %d %s\r\n", w.status, reason)
	// The connection manager's last word on every response, after the
	// filters (ActiveStream::encodeHeaders): date, and server overwritten
	// (server_header_transformation OVERWRITE, server_name "envoy").
	h = h.Clone()
	h.Set("date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("server", "envoy")
	_, hasLength := h.Get("content-length")
	for _, kv := range h {
		if kv[0] == "" || kv[0][0] == ':' || kv[0] == "transfer-encoding" || kv[0] == "connection" {
			continue
		}
		fmt.Fprintf(w.bw, "%s: %s\r\n", kv[0], kv[1])
	}
	w.noBody = w.head || w.status < 200 || w.status == 204 || w.status == 304
	switch {
	case hasLength || w.noBody:
	case endStream:
		w.bw.WriteString("content-length: 0\r\n")
	default:
		w.bw.WriteString("transfer-encoding: chunked\r\n")
		w.chunked = true
	}
	if w.closeConn {
		w.bw.WriteString("connection: close\r\n")
	}
	w.bw.WriteString("\r\n")
	return w.bw.Flush()
}

func (w *responseWriter) writeBody(p []byte) error {
	if w.reset {
		return errReset
	}
	if len(p) == 0 || w.noBody {
		return nil
	}
	if w.chunked {
		fmt.Fprintf(w.bw, "%x\r\n", len(p))
	}
	w.bw.Write(p)
	if w.chunked {
		w.bw.WriteString("\r\n")
	}
	return w.bw.Flush()
}

func (w *responseWriter) end() error {
	if w.reset {
		return errReset
	}
	if w.chunked {
		w.bw.WriteString("0\r\n\r\n")
	}
	return w.bw.Flush()
}
