// Command plugin is apiguard's proxy-wasm glue, built to plugin.wasm: it reads
// the filter JSON at plugin start, compiles it into an immutable pipeline, and
// on each stream gathers what the pipeline needs from the host, asks it for a
// decision and applies it. Policy lives in filters/; nothing here decides.
package main

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/filters/authn"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/pipeline"
	"github.com/apiguard/apiguard/filters/route"
	"github.com/apiguard/apiguard/filters/verdict"
)

// A c-shared wasip1 reactor runs init from _initialize and never runs main.
func init() { proxywasm.SetVMContext(&vmContext{}) }

func main() {}

type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(id uint32) types.PluginContext { return &pluginContext{rootID: id} }

// pluginContext holds what one configuration compiled to (immutable once
// OnPluginStart returned true) and this worker's own state: the providers'
// current keys, their fetch schedules, the verified-token cache.
type pluginContext struct {
	types.DefaultPluginContext
	pipeline *pipeline.Pipeline
	metrics  *metrics
	// keys are each provider's current key set (nil until a remote one
	// arrives); remotes fetch the remote ones (nil for inline providers).
	keys    []*jwt.KeySet
	remotes []*remoteKeys
	// rootID is this plugin context's id; worker identifies this VM in the
	// JWKS fetch lease; tick is the tick period last set.
	rootID uint32
	worker uint64
	tick   time.Duration
	// cache remembers verified tokens on this worker.
	cache *jwt.Cache
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
	pl, errs := pipeline.Load(raw)
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
	p.pipeline, p.cache = pl, jwt.NewCache(0, 0)
	names := pl.Authenticator().Providers()
	p.metrics = defineMetrics(names)
	p.keys = make([]*jwt.KeySet, len(names))
	for i := range names {
		p.keys[i], _ = pl.Authenticator().KeySource(i)
	}
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
	return &httpContext{plugin: p, id: id}
}

// httpContext is one stream.
type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
	id     uint32
	params route.Params
	// What the request-headers stage found, kept for a stream that waits
	// for its provider's keys: the matched route, the client's :path and the
	// :path to forward ("" keeps it).
	route         int
	path, forward string
	waiting       bool
	// routeStats count the matched route's decisions; nil when none matched.
	routeStats *routeMetrics
}

func (h *httpContext) OnHttpRequestHeaders(int, bool) types.Action {
	defer h.failClosedOnPanic()
	p := h.plugin
	method, _ := proxywasm.GetHttpRequestHeader(":method")
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	// Envoy puts HTTP/1's Host in :authority, so one read serves both.
	authority, _ := proxywasm.GetHttpRequestHeader(":authority")
	var scheme string
	if route.HasPort(authority) {
		scheme, _ = proxywasm.GetHttpRequestHeader(":scheme")
	}
	out := p.pipeline.Request(pipeline.Request{Method: method, Path: path, Authority: authority, Scheme: scheme}, &h.params)
	if out.Denied() {
		return h.deny(out.Decision)
	}
	h.route, h.path, h.forward = out.RouteIndex, path, out.Path
	if h.routeStats = p.metrics.route(out.Route); h.routeStats != nil {
		// Filter state wasm.apiguard_route, for access logs.
		_ = proxywasm.SetProperty([]string{"apiguard_route"}, []byte(out.Route))
	}
	// Headers apiguard writes from claims never come from the client, on any
	// route; authenticate removes them on routes that read every header.
	if !p.pipeline.NeedsAuthentication(h.route) {
		for _, name := range p.pipeline.Authenticator().ProtectedHeaders() {
			_ = proxywasm.RemoveHttpRequestHeader(name)
		}
	}
	return h.authenticate(true)
}

// authenticate runs the authentication stage, if the route has one, and
// applies the result. mayWait lets a stream pause until its provider's keys
// arrive; a stream resumed after waiting is answered either way.
func (h *httpContext) authenticate(mayWait bool) types.Action {
	p := h.plugin
	if p.pipeline.NeedsAuthentication(h.route) {
		headers, err := proxywasm.GetHttpRequestHeaders()
		if err != nil {
			proxywasm.LogErrorf("apiguard: cannot read request headers: %v", err)
			return h.deny(internalError)
		}
		protected := p.pipeline.Authenticator().ProtectedHeaders()
		for _, kv := range headers {
			if slices.Contains(protected, kv[0]) {
				_ = proxywasm.RemoveHttpRequestHeader(kv[0])
			}
		}
		_, query, _ := strings.Cut(h.path, "?")
		res := p.pipeline.Authenticate(h.route, authn.Input{
			Headers: headers, Query: query, Now: time.Now(), Keys: p.keys, Cache: p.cache,
		})
		if res.Denied() && res.NeedKeys >= 0 && mayWait && p.waitForKeys(h, res.NeedKeys, res.Reason) {
			return types.ActionPause
		}
		p.metrics.authenticated(res)
		if res.Denied() {
			return h.deny(res.Decision)
		}
		for _, name := range res.Remove {
			_ = proxywasm.RemoveHttpRequestHeader(name)
		}
		for _, kv := range res.Set {
			_ = proxywasm.ReplaceHttpRequestHeader(kv[0], kv[1])
		}
		if res.QueryChanged {
			h.forward = withQuery(cmp.Or(h.forward, h.path), res.Query)
		}
	}
	if h.forward != "" {
		if err := proxywasm.ReplaceHttpRequestHeader(":path", h.forward); err != nil {
			proxywasm.LogErrorf("apiguard: cannot forward normalized path: %v", err)
			return h.deny(internalError)
		}
	}
	p.metrics.allow(h.routeStats)
	return types.ActionContinue
}

// resume finishes a stream that waited for keys: it continues it, or the
// denial has already answered it.
func (h *httpContext) resume() {
	defer h.failClosedOnPanic()
	if h.authenticate(false) == types.ActionContinue {
		if err := proxywasm.ResumeHttpRequest(); err != nil {
			proxywasm.LogErrorf("apiguard: cannot resume a stream: %v", err)
		}
	}
}

// withQuery replaces the query of a :path.
func withQuery(path, query string) string {
	path, _, _ = strings.Cut(path, "?")
	if query == "" {
		return path
	}
	return path + "?" + query
}

func (h *httpContext) deny(d verdict.Decision) types.Action {
	h.plugin.metrics.denied(d.Reason, h.routeStats)
	sendProblem(d)
	return types.ActionPause
}

// OnHttpStreamDone runs from proxy_on_log, the stream's last use of the
// context (Envoy then calls done and delete), so it can be reused.
func (h *httpContext) OnHttpStreamDone() {
	p := h.plugin
	if h.waiting {
		p.forget(h)
		h.waiting = false
	}
	h.params.Reset()
	h.path, h.forward, h.routeStats = "", "", nil
	if len(p.free) < maxFreeContexts {
		p.free = append(p.free, h)
	}
}

// failClosedOnPanic turns a Go panic in request handling into a 500 for this
// stream instead of a trap that would fail the whole VM: no request may be able
// to take the worker's plugin down.
func (h *httpContext) failClosedOnPanic() {
	if r := recover(); r != nil {
		proxywasm.LogCriticalf("apiguard: internal error handling request: %v", r)
		h.deny(internalError)
	}
}
