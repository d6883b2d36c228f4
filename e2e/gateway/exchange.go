package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
)

// exchange is one request and its response on a connection: Envoy's
// ActiveStream, with the plugin as its only filter before the router.
type exchange struct {
	c      *conn
	start  time.Time
	req    *request
	body   *bodyReader
	s      *host.Stream
	t      *timers
	ctx    context.Context
	w      *responseWriter
	result result
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
	x.req, x.w.head, x.w.proto = req, req.method == http.MethodHead, req.proto
	x.result.method, x.result.path = req.method, req.target
	if req.hasBody() {
		x.body = newBodyReader(c.br, req, c.g.opts.Limits)
		x.continue100()
	} else {
		x.t.requestDone()
	}
	s, err := c.vm.NewStream(host.StreamInfo{SourceAddress: c.nc.RemoteAddr().String(), Protocol: "HTTP/1.1"})
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
	if !ok || !strings.EqualFold(v, "100-continue") || x.req.proto != "HTTP/1.1" {
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
	act, err := s.RequestHeaders(requestHeaders(x.req, x.c), !x.req.hasBody())
	if act == host.Pause && err == nil {
		act, err = s.Wait(g.opts.WaitTimeout)
	}
	if x.answered(act, err) {
		return
	}
	up := s.UpstreamRequestHeaders()
	var body io.Reader = http.NoBody
	pumpDone := make(chan pumpResult, 1)
	if x.body != nil {
		pr, pw := io.Pipe()
		body = pr
		go func() { pumpDone <- x.pumpRequestBody(pw) }()
	} else {
		x.t.upstreamDone()
		pumpDone <- pumpResult{}
	}
	req, err := upstreamRequest(x.ctx, g.opts.Upstream, up, body, x.req.length)
	if err != nil {
		x.wasmFail(err)
		return
	}
	resp, upErr := g.client.Do(req)
	pump := <-pumpDone
	if resp != nil && (pump.err != nil || pump.clientErr != nil || pump.reply) {
		resp.Body.Close()
	}
	switch {
	case pump.clientErr != nil:
		x.clientError(pump.clientErr)
	case pump.err != nil:
		x.wasmFail(pump.err)
	case pump.reply:
		x.pluginReply()
	case upErr != nil && x.t.which() != nil:
		x.timedOut()
	case upErr != nil:
		x.upstreamFailure(upErr)
	default:
		defer resp.Body.Close()
		x.forwardResponse(resp)
	}
}

type pumpResult struct {
	reply bool
	// err is the plugin's failure, clientErr the client's (a malformed or
	// stalled body, a disconnect).
	err, clientErr error
}

// pumpRequestBody streams the client's body through the plugin to the
// upstream, chunk by chunk, honouring pauses (buffering) and local replies.
func (x *exchange) pumpRequestBody(dst *io.PipeWriter) pumpResult {
	s := x.s
	buf := make([]byte, 32<<10)
	for {
		n, rerr := x.body.Read(buf)
		eos := errors.Is(rerr, io.EOF)
		if rerr != nil && !eos {
			dst.CloseWithError(rerr)
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
			dst.CloseWithError(errors.New("request stopped by the plugin"))
			return pumpResult{reply: act == host.Reply, err: err}
		}
		if len(out) > 0 {
			if _, err := dst.Write(out); err != nil {
				return pumpResult{}
			}
		}
		if eos {
			dst.Close()
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

func requestHeaders(r *request, c *conn) host.Headers {
	h := host.Headers{{":method", r.method}, {":path", r.target}, {":authority", ""}, {":scheme", "http"}}
	for _, kv := range r.headers {
		switch {
		case kv[0] == "host":
			h[2][1] = kv[1]
		case !hopByHop[kv[0]]:
			h.Add(kv[0], kv[1])
		}
	}
	if _, ok := h.Get("x-request-id"); !ok {
		var id [16]byte
		_, _ = rand.Read(id[:])
		h.Add("x-request-id", hex.EncodeToString(id[:]))
	}
	return h
}

func (x *exchange) forwardResponse(resp *http.Response) {
	s := x.s
	h := host.Headers{{":status", strconv.Itoa(resp.StatusCode)}}
	for k, vs := range resp.Header {
		if hopByHop[strings.ToLower(k)] {
			continue
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	act, err := s.ResponseHeaders(h, resp.ContentLength == 0)
	if x.answered(act, err) {
		return
	}
	x.t.touch()
	x.result.details = "via_upstream"
	x.w.closeConn = !x.keepAlive()
	if x.w.writeHeaders(s.DownstreamResponseHeaders(), resp.ContentLength == 0) != nil {
		x.w.closeConn = true
		return
	}
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		eos := rerr != nil
		if n > 0 || eos {
			out, _, err := s.ResponseBody(buf[:n], eos)
			if err != nil || x.w.writeBody(out) != nil {
				x.w.closeConn = true // headers are out: all we can do is cut the body short
				return
			}
			x.t.touch()
		}
		if eos {
			if !errors.Is(rerr, io.EOF) {
				x.w.closeConn = true
				return
			}
			_ = x.w.end()
			return
		}
	}
}

// keepAlive reports whether the connection may carry another request: not
// after a request whose body was not read to its end (Envoy then closes an
// HTTP/1 connection rather than wait for the rest), nor after a response cut
// short.
func (x *exchange) keepAlive() bool {
	return x.req != nil && x.req.keepAlive && !x.w.closeConn && (x.body == nil || x.body.done)
}
