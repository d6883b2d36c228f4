// Command plugin is apiguard's proxy-wasm glue, built to plugin.wasm: it reads
// the filter JSON at plugin start, compiles it into an immutable pipeline, and
// on each stream gathers what the pipeline needs from the host, asks it for a
// decision and applies it. Policy lives in filters/; nothing here decides.
package main

import (
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/filters/pipeline"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// A c-shared wasip1 reactor runs init from _initialize and never runs main.
func init() { proxywasm.SetVMContext(&vmContext{}) }

func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(id uint32) types.PluginContext { return &pluginContext{rootID: id} }

// pluginContext holds what one configuration compiled to (immutable once
// OnPluginStart returned true) and this worker's own state: the providers'
// current keys and the verified-token cache (state), their fetch schedules.
type pluginContext struct {
	types.DefaultPluginContext
	pipeline *pipeline.Pipeline
	metrics  *metrics
	// state holds each provider's current key set (nil until a remote one
	// arrives); remotes fetch the remote ones (nil for inline providers).
	state   *stage.Worker
	remotes []*remoteKeys
	// rootID is this plugin context's id; worker identifies this VM in the
	// JWKS fetch lease; tick is the tick period last set.
	rootID uint32
	worker uint64
	tick   time.Duration
	// free holds finished stream contexts for reuse: an allocation per stream
	// costs more in wasm than the whole routing decision.
	free []*httpContext
}

// maxFreeContexts bounds the pool, so a burst of concurrent streams does not
// keep its memory forever.
const maxFreeContexts = 256

// OnPluginStart compiles the configuration. Bad config never half-loads: every
// error is logged with its JSON path and the plugin refuses to start, which
// makes Envoy reject the filter config (and Istio report the WasmPlugin).
func (p *pluginContext) OnPluginStart(int) types.OnPluginStartStatus {
	raw, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("apiguard: cannot read plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	release := holdCollector()
	pl, errs := pipeline.Load(raw)
	release()
	defer endLoad()
	if len(errs) > 0 {
		for _, e := range errs {
			proxywasm.LogCriticalf("apiguard: invalid configuration: %v", e)
		}
		proxywasm.LogCriticalf("apiguard: configuration rejected with %d error(s)", len(errs))
		return types.OnPluginStartStatusFailed
	}
	for _, w := range pl.Warnings() {
		proxywasm.LogWarnf("apiguard: configuration warning: %s", w)
	}
	p.pipeline, p.state = pl, pl.NewWorker(host{})
	p.state.Now = wallClock
	names := pl.Providers()
	p.metrics = defineMetrics(names, pl.Routes())
	p.startRemoteKeys(names)
	proxywasm.LogInfo("apiguard: configuration loaded")
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(id uint32) types.HttpContext {
	if n := len(p.free); n > 0 {
		h := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		h.id = id
		return h
	}
	return &httpContext{plugin: p, id: id, request: headerMap{mapType: mapRequestHeaders}, response: headerMap{mapType: mapResponseHeaders}}
}

// httpContext is one stream.
type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
	id     uint32
	// stream is what the pipeline knows of the stream, kept for one that
	// waits for its provider's keys.
	stream  stage.Stream
	waiting bool
	// calling: the stream waits for its call (stream.Call); callSeq tells
	// its answer from a call of an earlier stream that used this context.
	calling bool
	callSeq uint64
	// replied is set once apiguard sent its local reply; responded once
	// the response phase ran, on the upstream's response or on that reply
	// (respond).
	replied, responded bool
	// reading: the headers
	// phase allowed a stream whose stages asked for the body phase, which
	// decides it once the body arrived. bodySize is what arrived so far,
	// bodyEnded whether all of it did; buffered whether the last body
	// callback paused, so that Envoy reports the next size cumulatively.
	reading, bodyEnded, buffered bool
	bodySize                     int64
	// replacing is set while the response's body is replaced
	// (Stream.ReplaceBody): each chunk is dropped, the last one replaced.
	replacing bool
	// routeStats count the matched route's decisions; nil when none matched.
	routeStats *routeMetrics
	// start is when the request's headers arrived, for the audit record;
	// zero when none is written.
	start time.Time
	// request and response are the phases' headers.
	request, response headerMap
}

// requestHeaders reads the request's headers from the host, a call per
// header, for the audit record, which reads a few in proxy_on_log.
type requestHeaders struct{}

func (requestHeaders) Get(name string) string {
	v, _ := proxywasm.GetHttpRequestHeader(name)
	return v
}

// The ABI's header map types the glue reads whole.
const (
	mapRequestHeaders  = 0
	mapResponseHeaders = 2
)

// headerMap is a phase's headers as the pipeline reads them (stage.Headers):
// all of them, read from the host in one call on first use, then looked up
// in place. One proxy_get_header_map_pairs costs less than two
// proxy_get_header_map_value, and every stream reads at least three
// headers. The map does not change while a phase runs: the stages' edits
// are applied once it ended.
type headerMap struct {
	mapType uint32
	pairs   [][2]string
	read    bool
	err     error
	// buf is what the map is read into, the same memory on every stream of
	// the context, so that reading it allocates nothing. The pairs, and
	// every string a stage took from them (the stream's path, a token),
	// point into it until the stream ends (release); a second read in one
	// stream gets new memory (lent).
	buf  []byte
	lent bool
}

func (m *headerMap) load() {
	if !m.read {
		var buf *[]byte
		if !m.lent {
			buf, m.lent = &m.buf, true
		}
		m.pairs, m.err = headerPairs(m.mapType, m.pairs[:0], buf)
		m.read = true
	}
}

// Get returns the first value of the header name, which is lower-case as
// every key of Envoy's maps is; "" when absent.
func (m *headerMap) Get(name string) string {
	m.load()
	// By index: in wasm, copying a header pair is a call.
	for i := range m.pairs {
		if m.pairs[i][0] == name {
			return m.pairs[i][1]
		}
	}
	return ""
}

func (m *headerMap) All() ([][2]string, error) {
	m.load()
	return m.pairs, m.err
}

// reset forgets the headers read, keeping the slice for the next phase.
func (m *headerMap) reset() {
	clear(m.pairs)
	m.pairs, m.read, m.err = m.pairs[:0], false, nil
}

// release ends the stream's use of the map: its buffer is the next
// stream's to read into. Nothing read into it may outlive the stream: what
// a stage keeps longer it copies (the verified-token cache clones the
// token).
func (m *headerMap) release() {
	m.reset()
	m.lent = false
}

func (h *httpContext) OnHttpRequestHeaders(_ int, endOfStream bool) types.Action {
	defer h.failClosedOnPanic()
	p := h.plugin
	h.stream.HasBody = !endOfStream
	if p.pipeline.Audit() != nil {
		h.start = time.Now()
	}
	h.request.reset()
	if _, err := h.request.All(); err != nil {
		proxywasm.LogErrorf("apiguard: cannot read the request headers: %v", err)
		return h.deny(internalError)
	}
	d := p.pipeline.RequestHeaders(&h.stream, &h.request, p.state)
	if h.routeStats = p.metrics.route(h.stream.Matched); h.routeStats != nil {
		// Filter state wasm.apiguard_route, for access logs.
		_ = setProperty("apiguard_route", h.stream.Route)
	}
	return h.decide(d, true)
}

// decide applies the pipeline's decision. mayWait lets a stream pause until
// its provider's keys arrive; a stream resumed after waiting is answered
// either way.
func (h *httpContext) decide(d verdict.Decision, mayWait bool) types.Action {
	p, s := h.plugin, &h.stream
	if s.Call != nil && !d.Denied() {
		return h.startCall(!mayWait)
	}
	if d.Denied() && s.Wait != nil && mayWait && p.waitForKeys(h, s.Wait.Provider, s.Wait.UnknownKey) {
		return types.ActionPause
	}
	p.metrics.authenticated(s.Attempted, s.CacheHit, d)
	if d.Denied() {
		return h.deny(d)
	}
	if s.Answer != nil {
		return h.answer(s.Answer)
	}
	if err := applyEdits(&s.Edits, &h.request); err != nil {
		proxywasm.LogErrorf("apiguard: cannot edit the request: %v", err)
		return h.deny(internalError)
	}
	if s.BodyLimit > 0 {
		if s.HasBody {
			// The body phase decides; the headers go upstream now, as
			// a body callback is all Envoy offers a paused stream.
			h.reading = true
			return types.ActionContinue
		}
		return h.decideBody(nil)
	}
	p.metrics.allow(h.routeStats)
	return types.ActionContinue
}

// decideBody runs the request-body phase on the whole body and applies its
// decision.
func (h *httpContext) decideBody(body []byte) types.Action {
	p := h.plugin
	h.reading = false
	if d := p.pipeline.RequestBody(&h.stream, body, p.state); d.Denied() {
		return h.deny(d)
	}
	p.metrics.allow(h.routeStats)
	return types.ActionContinue
}

// OnHttpRequestBody holds the body of a request that is not decided yet, or
// that apiguard has answered. Envoy delivers body callbacks to a stream
// paused in its headers only under allow_on_headers_stop_iteration (1.35+),
// and there a Continue would send the request upstream before
// authentication finished; held, the body goes upstream with the request
// once it is resumed.
//
// On a stream in the body phase it counts the bytes, refusing them once they
// pass the limit, and buffers the body (a Pause makes Envoy buffer it and
// report the cumulative size) for the stages that read it.
func (h *httpContext) OnHttpRequestBody(size int, endOfStream bool) types.Action {
	if h.replied {
		return types.ActionPause
	}
	if h.waiting || h.calling {
		h.bodySize, h.bodyEnded, h.buffered = int64(size), endOfStream, true
		return types.ActionPause
	}
	if !h.reading {
		return types.ActionContinue
	}
	defer h.failClosedOnPanic()
	s := &h.stream
	if h.buffered {
		h.bodySize = int64(size)
	} else {
		h.bodySize += int64(size)
	}
	if h.bodySize > s.BodyLimit {
		return h.deny(verdict.Deny(verdict.BodyTooLarge, "the body exceeds the route's body limit"))
	}
	if endOfStream {
		return h.endBody()
	}
	// Only stages that read the body need it whole; a limit alone counts
	// the chunks as they pass.
	h.buffered = len(s.BodyReaders) > 0
	if h.buffered {
		return types.ActionPause
	}
	return types.ActionContinue
}

// OnHttpRequestTrailers ends the body of a request that has trailers: its
// last body callback did not.
func (h *httpContext) OnHttpRequestTrailers(int) types.Action {
	if h.replied || h.waiting || h.calling {
		return types.ActionPause
	}
	if !h.reading {
		return types.ActionContinue
	}
	defer h.failClosedOnPanic()
	return h.endBody()
}

// endBody decides a stream whose body arrived whole, bodySize bytes.
func (h *httpContext) endBody() types.Action {
	var body []byte
	if len(h.stream.BodyReaders) > 0 && h.bodySize > 0 {
		var err error
		if body, err = proxywasm.GetHttpRequestBody(0, int(h.bodySize)); err != nil {
			proxywasm.LogErrorf("apiguard: cannot read the request body: %v", err)
			return h.deny(internalError)
		}
	}
	return h.decideBody(body)
}

// OnHttpResponseHeaders runs the response-headers phase, only on streams
// with a stage that asks for it, once per response: on the upstream's, and
// on Envoy's own (503 upstream unreachable, 504 timeout). apiguard's own
// local reply had the phase run before it was sent (respond).
func (h *httpContext) OnHttpResponseHeaders(_ int, endOfStream bool) types.Action {
	s := &h.stream
	if len(s.Responders) == 0 || h.responded {
		return types.ActionContinue
	}
	defer h.failClosedOnPanic()
	h.responded = true
	h.response.reset()
	h.plugin.pipeline.ResponseHeaders(s, &h.response, h.plugin.state)
	err := applyResponseEdits(&s.Response, &h.response)
	// apiguard's own reply is a problem document already; a response
	// without a body has nothing to replace.
	if err == nil && s.ReplaceBody != nil && !h.replied && !endOfStream {
		h.replacing = true
		err = editHeaders(&stage.Edits{Remove: []string{"content-length"}, Set: s.ReplaceBody.Headers}, nil,
			removeResponseHeader, replaceResponseHeader)
	}
	if err != nil {
		proxywasm.LogErrorf("apiguard: cannot edit the response: %v", err)
		// A local reply of ours is already a denial, and cannot be
		// replaced by another: it goes as it is.
		if !h.replied {
			return h.deny(internalError)
		}
	}
	return types.ActionContinue
}

// OnHttpResponseBody replaces the body of a response whose headers asked
// for it: nothing of it is buffered, each chunk is dropped as it passes
// and the last one becomes the replacement. A chunk that cannot be
// dropped is held, never forwarded: the stream then times out rather than
// leak what the replacement hides.
func (h *httpContext) OnHttpResponseBody(_ int, endOfStream bool) types.Action {
	if !h.replacing {
		return types.ActionContinue
	}
	var body []byte
	if endOfStream {
		body = h.stream.ReplaceBody.Data
	}
	if err := proxywasm.ReplaceHttpResponseBody(body); err != nil {
		proxywasm.LogErrorf("apiguard: cannot replace the response body: %v", err)
		return types.ActionPause
	}
	return types.ActionContinue
}

// resume finishes a stream that waited for keys: it continues it, or the
// denial has already answered it.
func (h *httpContext) resume() {
	defer h.failClosedOnPanic()
	h.resumed(h.plugin.pipeline.Resume(&h.stream, &h.request, h.plugin.state))
}

// resumeCall resumes the stage that asked for the stream's call with its
// result; paused tells whether the stream paused for it (the call was sent)
// and must be resumed or answered, or is still in its headers callback.
func (h *httpContext) resumeCall(res stage.CallResult, paused bool) types.Action {
	if paused {
		defer h.failClosedOnPanic()
	}
	d := h.plugin.pipeline.CallAnswered(&h.stream, &h.request, h.plugin.state, res)
	if !paused {
		return h.decide(d, true)
	}
	h.resumed(d)
	return types.ActionPause
}

// resumed applies the decision on a stream that paused: it continues it, or
// the denial has already answered it.
func (h *httpContext) resumed(d verdict.Decision) {
	act := h.decide(d, false)
	if act == types.ActionContinue && h.reading && h.bodySize > 0 {
		// The body reached the paused stream (allow_on_headers_stop_iteration).
		// Resuming now would send what arrived of it upstream unread: the
		// body phase decides it now if it is whole, or from the body
		// callback that ends it, whose Continue resumes the stream.
		if !h.bodyEnded {
			return
		}
		act = h.endBody()
	}
	if act == types.ActionContinue && !h.calling {
		if err := proxywasm.ResumeHttpRequest(); err != nil {
			proxywasm.LogErrorf("apiguard: cannot resume a stream: %v", err)
		}
	}
}

// answer sends a stage's local reply that is not a denial (a preflight's
// 204).
func (h *httpContext) answer(a *stage.Answer) types.Action {
	h.plugin.metrics.answered.Increment(1)
	h.replied = true
	// a.Headers belong to the compiled policy: edited in a copy.
	reply = h.respond(a.Status, append(reply[:0], a.Headers...))
	err := sendLocalResponse(a.Status, reply, nil, -1)
	clear(reply)
	if err != nil {
		proxywasm.LogErrorf("apiguard: cannot send local reply: %v", err)
	}
	return types.ActionPause
}

func (h *httpContext) deny(d verdict.Decision) types.Action {
	h.plugin.metrics.denied(d.Reason, h.routeStats)
	h.replied, h.stream.Denied = true, d.Reason
	h.sendProblem(d)
	return types.ActionPause
}

// respond runs the response phase on apiguard's own reply, status and
// headers, before it is sent, and returns the headers with the stages'
// edits made: they go out with the reply in the one host call that sends
// it, and its pass back through OnHttpResponseHeaders has nothing left to
// do (Envoy encodes a local reply through the filter that sent it; were it
// not to, the reply would be hardened all the same). A panic in a stage
// sends the reply as it is: it is already a refusal or a preflight's answer.
func (h *httpContext) respond(status int, headers [][2]string) (out [][2]string) {
	s := &h.stream
	if len(s.Responders) == 0 || h.responded {
		return headers
	}
	h.responded = true
	defer func() {
		if r := recover(); r != nil {
			proxywasm.LogCriticalf("apiguard: internal error in the response phase of a local reply: %v", r)
			out = headers
		}
	}()
	h.response.reset()
	h.response.pairs = append(appendPair(h.response.pairs, ":status", statusCode(status)), headers...)
	h.response.read = true
	h.plugin.pipeline.ResponseHeaders(s, &h.response, h.plugin.state)
	return editPairs(headers, &s.Response)
}

// OnHttpStreamDone runs from proxy_on_log, the stream's last use of the
// context (Envoy then calls done and delete), so it can be reused.
func (h *httpContext) OnHttpStreamDone() {
	p := h.plugin
	if h.waiting {
		p.forget(h)
		h.waiting = false
	}
	if a := p.pipeline.Audit(); a != nil && !h.start.IsZero() {
		h.audit(a)
		h.start = time.Time{}
	}
	h.replied, h.responded, h.replacing, h.reading, h.bodyEnded, h.buffered, h.bodySize, h.calling = false, false, false, false, false, false, 0, false
	h.stream.Reset()
	h.request.release()
	h.response.release()
	h.routeStats = nil
	if len(p.free) < maxFreeContexts {
		p.free = append(p.free, h)
	}
	finishCollection()
}

// failClosedOnPanic turns a Go panic in request handling into a 500 for this
// stream instead of a trap that would fail the whole VM: no request may be able
// to take the worker's plugin down.
func (h *httpContext) failClosedOnPanic() {
	if r := recover(); r != nil {
		proxywasm.LogCriticalf("apiguard: internal error handling request: %v", r)
		// A stream already answered cannot be answered twice.
		if !h.replied {
			h.deny(internalError)
		}
	}
}
