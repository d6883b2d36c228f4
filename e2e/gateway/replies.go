package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
)

// answered writes what ends a stream early, a plugin failure or the plugin's
// local reply, and reports whether it did.
func (x *exchange) answered(act host.Action, err error) bool {
	switch {
	case err != nil:
		x.wasmFail(err)
	case act == host.Reply:
		x.pluginReply()
	default:
		return false
	}
	return true
}

func (x *exchange) pluginReply() {
	x.result.details = "-"
	if r := x.s.Reply(); r != nil && r.Details != "" {
		x.result.details = r.Details
	}
	x.w.closeConn = !x.keepAlive()
	h, body, err := x.s.EncodeLocalReply()
	if err != nil {
		x.wasmFail(err)
		return
	}
	x.writeReply(h, body)
}

// hostReply answers as Envoy's own components do (the codec, the router, the
// stream timers): a local reply that passes through the plugin's response
// callbacks, as Envoy's filter manager sends it.
func (x *exchange) hostReply(status int, body, details string) {
	x.result.details = details
	x.w.closeConn = !x.keepAlive()
	h, out, err := x.s.SendLocalReply(host.LocalReply{Status: status, Details: details, Body: []byte(body), GRPCStatus: -1})
	if err != nil {
		x.wasmFail(err)
		return
	}
	x.writeReply(h, out)
}

func (x *exchange) writeReply(h host.Headers, body []byte) {
	if x.w.writeHeaders(h, len(body) == 0) == nil {
		_ = x.w.writeBody(body)
		_ = x.w.end()
	}
}

// wasmFail answers like Envoy when the plugin cannot run: 503 if the VM failed
// (failure_policy FAIL_CLOSED), 504 if a paused stream was never resumed. No
// filter sees it: the filter is what failed. A stream the host reports reset
// (ErrStreamReset) is reset instead.
func (x *exchange) wasmFail(err error) {
	if errors.Is(err, host.ErrStreamReset) {
		x.reset()
		return
	}
	status, details := http.StatusServiceUnavailable, "wasm_fail_stream"
	if errors.Is(err, host.ErrStalled) {
		status, details = http.StatusGatewayTimeout, "stalled"
	}
	x.c.g.opts.Log.Printf("stream failed: %v", err)
	x.result.details = details
	x.w.closeConn = true
	if !x.w.started {
		_ = x.w.writeHeaders(host.Headers{{":status", fmt.Sprint(status)}}, true)
	}
}

// reset ends a stream Envoy resets rather than answers (proxy_close_stream,
// a local reply once the response headers went out, a response buffered past
// the limit after them): on HTTP/1 the reset is the connection's end, with no
// response or the one already started cut short, never a status the client
// could mistake for an answer.
func (x *exchange) reset() {
	x.c.g.opts.Log.Printf("stream reset")
	x.result.details = detailsReset
	x.w.closeConn = true
	x.w.reset = true
}

// detailsReset marks a reset stream in the access log, where Envoy logs
// response code 0.
const detailsReset = "stream_reset"

// clientError answers what the client got wrong after its headers: a body the
// codec refused (400, http1.codec_error), or one that stalled (408). Envoy
// answers both as local replies through the filter chain, then closes. A
// client that went away gets nothing.
func (x *exchange) clientError(err error) {
	var ce *codecError
	switch {
	case errors.As(err, &ce):
		x.hostReply(ce.status, http.StatusText(ce.status), ce.details)
	case x.t.which() != nil:
		x.timedOut()
	default:
		x.result.details = "downstream_remote_disconnect"
		x.w.closeConn = true
	}
}

// timedOut answers a fired timer: the route timeout with 504, a stream timer
// with 408 while the request is still arriving and 504 once it is complete
// (Http::Utility::maybeRequestTimeoutCode).
func (x *exchange) timedOut() {
	to := x.t.which()
	status := http.StatusRequestTimeout
	if to.status != 0 || x.body == nil || x.body.done {
		status = http.StatusGatewayTimeout
	}
	x.hostReply(status, to.body, to.details)
}

// upstreamFailure answers a request the upstream never answered as Envoy's
// router does (Filter::onUpstreamReset): 503 (502 for a malformed answer) with
// the reset reason in the body and in the response code details.
func (x *exchange) upstreamFailure(err error) {
	reason, transport := "connection termination", ""
	var op *net.OpError
	var reset *upstreamError
	var ne net.Error
	switch {
	case errors.As(err, &reset):
		reason = reset.reason
	case errors.As(err, &op) && op.Op == "dial" && errors.As(err, &ne) && ne.Timeout():
		reason = "connection timeout"
	case errors.As(err, &op) && op.Op == "dial":
		reason, transport = "remote connection failure", "delayed connect error: "+strerror(err)
	}
	body := "upstream connect error or disconnect/reset before headers. reset reason: " + reason
	details := strings.ReplaceAll(reason, " ", "_")
	if transport != "" {
		body += ", transport failure reason: " + transport
		details += "|" + strings.ReplaceAll(transport, " ", "_")
	}
	x.c.g.opts.Log.Printf("upstream: %v", err)
	status := http.StatusServiceUnavailable
	if reason == "protocol error" {
		status = http.StatusBadGateway // the router's one exception (Filter::onUpstreamReset)
	}
	x.hostReply(status, body, "upstream_reset_before_response_started{"+details+"}")
}

// isTermination reports whether the upstream closed the connection before
// answering.
func isTermination(err error) bool {
	var reset *upstreamError
	return errors.As(err, &reset) && reset.reason == "connection termination"
}

// strerror names a connect error as Envoy prints it, with the C library's
// message ("Connection refused").
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	msg := errno.Error()
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// finishStream runs the plugin's last callbacks and reads what it recorded
// for the access log.
func (x *exchange) finishStream() {
	s := x.s
	if d, ok := s.FilterState("apiguard_decision"); ok {
		x.result.decision = "denied:" + d
	} else if x.result.details != "wasm_fail_stream" && x.result.details != "stalled" && x.result.details != detailsReset {
		x.result.decision = "allowed"
	}
	if r, ok := s.FilterState("apiguard_route"); ok {
		x.result.route = r
	}
	if err := s.Finish(); err != nil {
		x.c.g.opts.Log.Printf("plugin failed in on_log/on_done: %v", err)
	}
}

// log writes the access-log line: method, path, status, the plugin's
// decision, the matched route, Envoy's response code details, the worker and
// the duration.
func (x *exchange) log() {
	if x.req == nil && x.result.details == "downstream_remote_disconnect" {
		return // a connection closed between requests is no request
	}
	x.c.g.opts.Log.Printf("%s %s %d %s route=%s details=%s worker=%d %s", x.result.method, x.result.path, x.w.status,
		x.result.decision, x.result.route, x.result.details, x.c.vm.Worker(), time.Since(x.start).Round(time.Microsecond))
}
