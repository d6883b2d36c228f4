package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
)

// exchange is one request and its response on a connection: Envoy's
// ActiveStream, with the plugin as its only filter before the router.
type exchange struct {
	c     *conn
	start time.Time
	req   *request
	body  *bodyReader
	s     *host.Stream
	t     *timers
	ctx   context.Context
	// uc is the upstream connection; release detaches it from ctx, false if
	// ctx already closed it.
	uc      *upConn
	release func() bool
	// pumpStopped is set by the body pump before it abandons the upstream;
	// upstreamGone when the upstream failed while the pump still read the
	// client, whose read was then cut short.
	pumpStopped, upstreamGone atomic.Bool
	// pending is the body pump still running while the upstream's early
	// answer goes downstream; nil otherwise.
	pending <-chan pumpResult
	w       *responseWriter
	result  result
}

// result is what the access-log line reports.
type result struct {
	method, path string
	// decision is the plugin's: allowed, denied:<reason>, or "-" when the
	// plugin never decided (a request the codec refused).
	decision string
	// route is the route the plugin matched, "-" if none.
	route string
	// details are Envoy's response code details: via_upstream, or what made
	// the response local.
	details string
}

// exchange serves one request and reports whether the connection may carry
// another.
func (c *conn) exchange() bool {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := &exchange{c: c, start: time.Now(), ctx: ctx, t: c.startTimers(cancel),
		w: &responseWriter{bw: c.bw}, result: result{method: "-", path: "-", decision: "-", route: "-"}}
	defer x.t.close()
	defer x.log()
	req, err := readRequest(c.br, c.g.opts.Limits)
	if err != nil {
		return x.refused(err)
	}
	x.t.headersDone()
	x.t.touch()
	x.req, x.w.head = req, req.method == http.MethodHead
	x.result.method, x.result.path = req.method, req.target
	if req.hasBody() {
		x.body = newBodyReader(c.br, req, c.g.opts.Limits)
		x.continue100()
	} else {
		x.t.requestDone()
	}
	if tc, ok := c.nc.(*tls.Conn); ok && c.tls == nil {
		// The handshake finished before the request could be read.
		c.tls = host.SessionOf(tc.ConnectionState())
	}
	s, err := c.vm.NewStream(host.StreamInfo{SourceAddress: c.nc.RemoteAddr().String(), Protocol: req.proto, TLS: c.tls})
	if err != nil {
		x.wasmFail(err)
		return false
	}
	x.s = s
	defer x.finishStream()
	x.run()
	return x.keepAlive()
}

// continue100 answers Expect: 100-continue itself and drops the header, before
// any filter runs, as Envoy does unless proxy_100_continue is set
// (ActiveStream::decodeHeaders).
func (x *exchange) continue100() {
	v, ok := x.req.headers.Get("expect")
	if !ok || !strings.EqualFold(v, "100-continue") {
		return
	}
	x.req.headers.Del("expect")
	x.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	_ = x.c.bw.Flush()
}

// refused answers a request head the codec rejected, before any filter ran:
// Envoy creates the filter chain only once the headers are decoded.
func (x *exchange) refused(err error) bool {
	var ce *codecError
	switch {
	case errors.As(err, &ce):
		x.directReply(ce.status, http.StatusText(ce.status), ce.details)
	case x.t.which() != nil:
		to := x.t.which()
		x.directReply(http.StatusRequestTimeout, to.body, to.details)
	default:
		x.result.details = "downstream_remote_disconnect"
	}
	return false
}

// directReply is a local reply no filter sees, and the connection's end.
func (x *exchange) directReply(status int, body, details string) {
	x.result.details = details
	x.w.closeConn = true
	h := host.Headers{{":status", strconv.Itoa(status)}, {"content-length", strconv.Itoa(len(body))}, {"content-type", "text/plain"}}
	if x.w.writeHeaders(h, false) == nil {
		_ = x.w.writeBody([]byte(body))
	}
}

func (x *exchange) run() {
	s, g := x.s, x.c.g
	// The connection manager edits the headers before any filter sees them
	// (x-forwarded-proto, x-request-id, x-forwarded-for and the internal
	// x-envoy headers); the codec already applied the header limits.
	h := g.env.MutateRequestHeaders(requestHeaders(x.req, x.c.tls != nil), x.c.nc.RemoteAddr().String())
	act, err := s.RequestHeaders(h, !x.req.hasBody())
	if act == host.Pause && err == nil {
		act, err = s.Wait(g.opts.WaitTimeout)
	}
	if x.answered(act, err) {
		return
	}
	up := s.UpstreamRequestHeaders()
	defer x.abandonBody()
	for attempt := 0; ; attempt++ {
		uc, resp, pump, upErr := x.send(up)
		switch {
		case pump.clientErr != nil && !x.upstreamGone.Load():
			x.clientError(pump.clientErr)
		case pump.err != nil:
			x.wasmFail(pump.err)
		case pump.reply:
			x.pluginReply()
		case upErr != nil && x.t.which() != nil:
			x.timedOut()
		case upErr != nil && attempt == 0 && x.body == nil && uc != nil && uc.reused && isTermination(upErr):
			// The upstream closed a kept-alive connection as the request
			// went out on it; a request without a body is safe to send again.
			continue
		case upErr != nil:
			x.upstreamFailure(upErr)
		default:
			x.forwardResponse(resp)
			return
		}
		if uc != nil {
			uc.nc.Close()
		}
		return
	}
}

// send forwards the request upstream, its body through the plugin, and
// reads the response head.
func (x *exchange) send(up host.Headers) (*upConn, *upstreamResponse, pumpResult, error) {
	g := x.c.g
	started := time.Now()
	uc, stop, err := g.upstream.start(x.ctx, up, x.req.length)
	if err != nil {
		return nil, nil, pumpResult{}, err
	}
	x.uc, x.release = uc, stop
	pumpDone := make(chan pumpResult, 1)
	if x.body != nil {
		go func() { pumpDone <- x.pumpRequestBody(&bodyWriter{c: uc, chunked: x.req.length < 0}) }()
	} else {
		x.t.upstreamDone()
		pumpDone <- pumpResult{}
	}
	method, _ := up.Get(":method")
	resp, upErr := g.upstream.readResponse(uc, method == http.MethodHead, started)
	if upErr != nil {
		uc.nc.Close() // unblocks a body still being sent
		if x.body != nil && !x.pumpStopped.Load() {
			// Answer now rather than after the client's last byte, as
			// Envoy's router does on an upstream reset.
			x.upstreamGone.Store(true)
			_ = x.c.nc.SetReadDeadline(time.Now())
		}
		return uc, resp, <-pumpDone, upErr
	}
	select {
	case pump := <-pumpDone:
		return uc, resp, pump, nil
	default:
		// The upstream answered before the body's end: the answer goes
		// downstream now, as Envoy forwards it, and the rest of the body
		// is abandoned once it is out.
		x.pending = pumpDone
		return uc, resp, pumpResult{}, nil
	}
}

// abandonBody ends a body pump still running after the response: the
// upstream connection and the client's read are cut, so the connection
// closes (the request was not read to its end).
func (x *exchange) abandonBody() {
	if x.pending == nil {
		return
	}
	x.upstreamGone.Store(true)
	_ = x.c.nc.SetReadDeadline(time.Now())
	x.uc.nc.Close()
	<-x.pending
	x.pending = nil
}

type pumpResult struct {
	reply bool
	// err is the plugin's failure, clientErr the client's (a malformed or
	// stalled body, a disconnect).
	err, clientErr error
}

// pumpRequestBody streams the client's body through the plugin to the
// upstream, chunk by chunk, honouring pauses (buffering) and local replies.
// Whatever stops it early closes the upstream connection.
func (x *exchange) pumpRequestBody(dst *bodyWriter) pumpResult {
	s := x.s
	buf := make([]byte, 32<<10)
	for {
		n, rerr := x.body.Read(buf)
		eos := errors.Is(rerr, io.EOF)
		if rerr != nil && !eos {
			x.pumpStopped.Store(true)
			dst.c.nc.Close()
			return pumpResult{clientErr: rerr}
		}
		x.t.touch()
		if eos {
			x.t.requestDone()
		}
		if n == 0 && !eos {
			continue
		}
		out, act, err := s.RequestBody(buf[:n], eos)
		if act == host.Pause && eos && err == nil {
			if act, err = s.Wait(x.c.g.opts.WaitTimeout); act == host.Continue {
				out = s.TakeRequestBody()
			}
		}
		if err != nil || act == host.Reply {
			x.pumpStopped.Store(true)
			dst.c.nc.Close()
			return pumpResult{reply: act == host.Reply, err: err}
		}
		if dst.write(out) != nil {
			return pumpResult{} // the upstream went away: its response (or its absence) tells
		}
		if eos {
			x.pumpStopped.Store(true)
			if dst.end() != nil {
				return pumpResult{}
			}
			x.t.upstreamDone()
			return pumpResult{}
		}
	}
}

// hopByHop headers belong to one connection and are never forwarded.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true,
	"trailer": true, "transfer-encoding": true, "upgrade": true,
	"proxy-authenticate": true, "proxy-authorization": true,
}

// requestHeaders is what Envoy's HTTP/1 codec hands the filters. Host is the
// inline :authority header, so a repeated Host is joined with "," as
// HeaderMapImpl::insertByKey joins inline headers (apiguard then refuses the
// malformed authority). An absolute-form target (RFC 9112 §3.2.2) replaces
// Host with its own authority and leaves its origin form as :path
// (ServerConnectionImpl::handlePath with allow_absolute_url, on by default).
// :scheme is the connection's: https over TLS, as the codec sets it from
// connection_.ssl().
func requestHeaders(r *request, tls bool) host.Headers {
	path, authority, absolute := splitAbsoluteForm(r.target)
	scheme := "http"
	if tls {
		scheme = "https"
	}
	h := host.Headers{{":method", r.method}, {":path", path}, {":authority", authority}, {":scheme", scheme}}
	seenHost := false
	for _, kv := range r.headers {
		switch {
		case kv[0] == "host":
			if !absolute {
				if seenHost {
					h[2][1] += "," + kv[1]
				} else {
					h[2][1] = kv[1]
				}
			}
			seenHost = true
		case !hopByHop[kv[0]]:
			h.Add(kv[0], kv[1])
		}
	}
	return h
}

// splitAbsoluteForm splits "http://host:port/p?q" into its origin form
// ("/p?q", "/" when empty) and authority; any other target is returned as is.
func splitAbsoluteForm(target string) (path, authority string, absolute bool) {
	rest := ""
	for _, scheme := range []string{"http://", "https://"} {
		if len(target) >= len(scheme) && strings.EqualFold(target[:len(scheme)], scheme) {
			rest = target[len(scheme):]
			absolute = true
		}
	}
	if !absolute {
		return target, "", false
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		return "/", rest, true
	}
	if rest[end] == '?' {
		return "/" + rest[end:], rest[:end], true
	}
	return rest[end:], rest[:end], true
}

func (x *exchange) forwardResponse(resp *upstreamResponse) {
	s := x.s
	h := make(host.Headers, 0, len(resp.headers))
	for _, kv := range resp.headers {
		if !hopByHop[kv[0]] {
			h = append(h, kv)
		}
	}
	// The router's timing header, which the filters see.
	h.Add("x-envoy-upstream-service-time", strconv.FormatInt(resp.elapsed.Milliseconds(), 10))
	act, err := s.ResponseHeaders(h, resp.endStream)
	if x.answered(act, err) {
		resp.conn.nc.Close()
		return
	}
	x.t.touch()
	x.result.details = "via_upstream"
	x.w.closeConn = !x.keepAlive()
	if x.w.writeHeaders(s.DownstreamResponseHeaders(), resp.endStream) != nil {
		x.w.closeConn = true
		resp.conn.nc.Close()
		return
	}
	if resp.endStream {
		// Headers that end the stream get no body callback, as in Envoy.
		_ = x.w.end()
		x.releaseUpstream(resp)
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.body.Read(buf)
		eos := rerr != nil
		if n > 0 || eos {
			out, err := x.responseBody(buf[:n], eos)
			if err != nil {
				x.wasmFail(err)
			}
			if err != nil || x.w.writeBody(out) != nil {
				x.w.closeConn = true // headers are out: all we can do is cut the body short
				resp.conn.nc.Close()
				return
			}
			x.t.touch()
		}
		if eos {
			if !errors.Is(rerr, io.EOF) {
				x.w.closeConn = true
				resp.conn.nc.Close()
				return
			}
			_ = x.w.end()
			x.releaseUpstream(resp)
			return
		}
	}
}

// responseBody runs one response chunk through the plugin and returns what
// goes to the client. A pause before the end buffers (the next chunk comes
// with it); a pause of the last chunk holds the response until the plugin
// continues it, as Envoy's FilterManager::encodeData stalls it, or for
// WaitTimeout (ErrStalled). A local reply once the headers went out resets
// the stream (ErrStreamReset), as do a body over the buffer limit and
// proxy_close_stream.
func (x *exchange) responseBody(chunk []byte, eos bool) ([]byte, error) {
	s := x.s
	out, act, err := s.ResponseBody(chunk, eos)
	if act == host.Pause && eos && err == nil {
		if act, err = s.Wait(x.c.g.opts.WaitTimeout); act == host.Continue {
			out = s.TakeResponseBody()
		}
	}
	if err == nil && act == host.Reply {
		_, _, err = s.EncodeLocalReply()
	}
	return out, err
}

// releaseUpstream keeps the upstream connection for another request when the
// exchange on it completed cleanly.
func (x *exchange) releaseUpstream(resp *upstreamResponse) {
	if resp.reusable && x.pending == nil && x.release() && (x.body == nil || x.body.done) {
		x.c.g.upstream.put(resp.conn)
		return
	}
	resp.conn.nc.Close()
}

// keepAlive reports whether the connection may carry another request: not
// after a request whose body was not read to its end (Envoy then closes an
// HTTP/1 connection rather than wait for the rest), nor after a response cut
// short.
func (x *exchange) keepAlive() bool {
	return x.req != nil && x.pending == nil && x.req.keepAlive && !x.w.closeConn && (x.body == nil || x.body.done)
}
