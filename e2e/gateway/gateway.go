// Package gateway serves real HTTP/1.1 through plugin.wasm running in the e2e
// host: the local stand-in for Envoy that `make run` starts and that users run
// on their own policy before shipping it. Each connection is pinned to one
// worker VM, as Envoy pins it to one worker thread.
package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apiguard/apiguard/e2e/host"
)

// Options configure a Gateway.
type Options struct {
	// Module is plugin.wasm's bytes; Config is the filter JSON.
	Module, Config []byte
	// Upstream is the base URL requests are forwarded to.
	Upstream *url.URL
	// Clusters maps Envoy cluster names (for remote JWKS and other callouts)
	// to base URLs.
	Clusters map[string]string
	// Workers is the number of VMs, as Envoy's --concurrency; 2 if zero.
	Workers int
	// Profile is the WASI profile the VMs get.
	Profile host.Profile
	// MinLogLevel filters the plugin's log lines.
	MinLogLevel host.LogLevel
	// Log receives the plugin's lines and one access-log line per request.
	Log *log.Logger
	// WaitTimeout bounds how long a paused request waits (e.g. for the first
	// JWKS fetch) before the gateway answers 504; 10 s if zero.
	WaitTimeout time.Duration
}

// Gateway is an http.Handler running the plugin on every request.
type Gateway struct {
	opts   Options
	env    *host.Env
	vms    []*host.VM
	next   atomic.Uint32
	client *http.Client
}

type connKey struct{}

// New starts the workers. A configuration the plugin rejects is an error that
// lists the plugin's own messages, each naming a JSON path.
func New(opts Options) (*Gateway, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = log.New(io.Discard, "", 0)
	}
	g := &Gateway{opts: opts, client: &http.Client{
		// The upstream's redirects are the client's business, not ours.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	env, err := host.NewEnv(host.Config{
		Module: opts.Module, Name: "apiguard", RootID: "apiguard", Configuration: opts.Config,
		Clusters: opts.Clusters, Profile: opts.Profile,
		LogSink: func(e host.LogEntry) {
			if e.Level >= opts.MinLogLevel {
				opts.Log.Printf("[worker %d] %s: %s", e.Worker, e.Level, e.Message)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	g.env = env
	for i := 0; i < opts.Workers; i++ {
		vm, err := env.StartVM()
		if err != nil {
			env.Close()
			return nil, &ConfigError{Err: err, Messages: configErrors(env)}
		}
		g.vms = append(g.vms, vm)
	}
	return g, nil
}

// ConfigError is a configuration the plugin refused to start with.
type ConfigError struct {
	Err error
	// Messages are the plugin's critical log lines: one per problem.
	Messages []string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%v:\n  %s", e.Err, strings.Join(e.Messages, "\n  "))
}

func configErrors(env *host.Env) []string {
	var out []string
	for _, l := range env.Logs() {
		if l.Level >= 5 && !strings.HasPrefix(l.Message, "Plugin Crash") {
			out = append(out, l.Message)
		}
	}
	return out
}

// Check loads config into one VM and returns the plugin's errors, if any: the
// same messages Envoy would log when it rejects the filter.
func Check(module, config []byte) error {
	g, err := New(Options{Module: module, Config: config, Workers: 1})
	if err != nil {
		return err
	}
	g.Close()
	return nil
}

// Env is the host environment, for metrics and ticks.
func (g *Gateway) Env() *host.Env { return g.env }

// Close stops the workers.
func (g *Gateway) Close() { g.env.Close() }

// ConnContext pins a connection to a worker; use it as http.Server.ConnContext.
func (g *Gateway) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, int(g.next.Add(1)-1)%len(g.vms))
}

func (g *Gateway) worker(r *http.Request) *host.VM {
	if i, ok := r.Context().Value(connKey{}).(int); ok {
		return g.vms[i]
	}
	return g.vms[int(g.next.Add(1)-1)%len(g.vms)]
}

// hopByHop headers belong to one connection and are never forwarded.
var hopByHop = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "te": true,
	"trailer": true, "transfer-encoding": true, "upgrade": true,
	"proxy-authenticate": true, "proxy-authorization": true,
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	vm := g.worker(r)
	rec := &record{status: 0}
	defer func() {
		g.opts.Log.Printf("%s %s %d %s worker=%d %s", r.Method, r.RequestURI, rec.status, rec.decision, vm.Worker(),
			time.Since(start).Round(time.Microsecond))
	}()
	s, err := vm.NewStream(host.StreamInfo{SourceAddress: r.RemoteAddr, Protocol: r.Proto})
	if err != nil {
		g.fail(w, rec, err)
		return
	}
	defer func() {
		if d, ok := s.FilterState("apiguard_decision"); ok {
			rec.decision = "denied:" + d
		} else if rec.decision == "" {
			rec.decision = "allowed"
		}
		if err := s.Finish(); err != nil {
			g.opts.Log.Printf("plugin failed in on_log/on_done: %v", err)
		}
	}()
	g.serve(w, r, s, rec)
}

// record is what the access-log line reports.
type record struct {
	status   int
	decision string
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, s *host.Stream, rec *record) {
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	act, err := s.RequestHeaders(requestHeaders(r), !hasBody)
	if act == host.Pause && err == nil {
		act, err = s.Wait(g.opts.WaitTimeout)
	}
	if g.answered(w, s, rec, act, err) {
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	up := s.UpstreamRequestHeaders()
	var body io.Reader = http.NoBody
	pumpDone := make(chan pumpResult, 1)
	if hasBody {
		pr, pw := io.Pipe()
		body = pr
		go func() { pumpDone <- g.pumpRequestBody(r.Body, pw, s) }()
	} else {
		pumpDone <- pumpResult{}
	}
	req, err := g.upstreamRequest(ctx, up, body, r.ContentLength)
	if err != nil {
		g.fail(w, rec, err)
		return
	}
	resp, upErr := g.client.Do(req)
	pump := <-pumpDone
	switch {
	case pump.err != nil:
		if resp != nil {
			resp.Body.Close()
		}
		g.fail(w, rec, pump.err)
		return
	case pump.reply:
		if resp != nil {
			resp.Body.Close()
		}
		g.writeLocalReply(w, s, rec)
		return
	case upErr != nil:
		rec.decision = "upstream_error"
		rec.status = http.StatusBadGateway
		http.Error(w, "upstream connect error", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	g.forwardResponse(w, resp, s, rec)
}

type pumpResult struct {
	reply bool
	err   error
}

// pumpRequestBody streams the client's body through the plugin to the
// upstream, chunk by chunk, honouring pauses (buffering) and local replies.
func (g *Gateway) pumpRequestBody(src io.Reader, dst *io.PipeWriter, s *host.Stream) pumpResult {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		eos := errors.Is(rerr, io.EOF)
		if rerr != nil && !eos {
			dst.CloseWithError(rerr)
			return pumpResult{err: rerr}
		}
		if n == 0 && !eos {
			continue
		}
		out, act, err := s.RequestBody(buf[:n], eos)
		if act == host.Pause && eos && err == nil {
			if act, err = s.Wait(g.opts.WaitTimeout); act == host.Continue {
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
			return pumpResult{}
		}
	}
}

func requestHeaders(r *http.Request) host.Headers {
	h := host.Headers{{":method", r.Method}, {":path", r.RequestURI}, {":authority", r.Host}, {":scheme", "http"}}
	if r.TLS != nil {
		h[3][1] = "https"
	}
	for k, vs := range r.Header {
		if hopByHop[strings.ToLower(k)] {
			continue
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if _, ok := h.Get("x-request-id"); !ok {
		var id [16]byte
		_, _ = rand.Read(id[:])
		h.Add("x-request-id", hex.EncodeToString(id[:]))
	}
	return h
}

func (g *Gateway) upstreamRequest(ctx context.Context, h host.Headers, body io.Reader, length int64) (*http.Request, error) {
	method, _ := h.Get(":method")
	path, _ := h.Get(":path")
	authority, _ := h.Get(":authority")
	u, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, fmt.Errorf("upstream path: %w", err)
	}
	target := *g.opts.Upstream
	target.Path = strings.TrimSuffix(g.opts.Upstream.Path, "/") + u.Path
	target.RawPath = strings.TrimSuffix(g.opts.Upstream.EscapedPath(), "/") + u.EscapedPath()
	target.RawQuery = u.RawQuery
	req, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return nil, err
	}
	req.Host = authority
	req.ContentLength = length
	if body == http.NoBody {
		req.ContentLength = 0
	}
	for _, kv := range h {
		if strings.HasPrefix(kv[0], ":") || hopByHop[kv[0]] || kv[0] == "content-length" || kv[0] == "host" {
			continue
		}
		req.Header.Add(kv[0], kv[1])
	}
	return req, nil
}

func (g *Gateway) forwardResponse(w http.ResponseWriter, resp *http.Response, s *host.Stream, rec *record) {
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
	if g.answered(w, s, rec, act, err) {
		return
	}
	rec.status = writeHeaders(w, s.DownstreamResponseHeaders())
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		eos := rerr != nil
		if n > 0 || eos {
			out, _, err := s.ResponseBody(buf[:n], eos)
			if err != nil {
				return // headers are out: all we can do is cut the body short
			}
			if _, werr := w.Write(out); werr != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if eos {
			return
		}
	}
}

// answered writes what ends a stream early, a failure or the plugin's local
// reply, and reports whether it did.
func (g *Gateway) answered(w http.ResponseWriter, s *host.Stream, rec *record, act host.Action, err error) bool {
	switch {
	case err != nil:
		g.fail(w, rec, err)
	case act == host.Reply:
		g.writeLocalReply(w, s, rec)
	default:
		return false
	}
	return true
}

func writeHeaders(w http.ResponseWriter, h host.Headers) int {
	status := http.StatusBadGateway
	for _, kv := range h {
		if kv[0] == ":status" {
			status, _ = strconv.Atoi(kv[1])
			continue
		}
		if strings.HasPrefix(kv[0], ":") {
			continue
		}
		w.Header().Add(kv[0], kv[1])
	}
	w.WriteHeader(status)
	return status
}

func (g *Gateway) writeLocalReply(w http.ResponseWriter, s *host.Stream, rec *record) {
	h, body, err := s.EncodeLocalReply()
	if err != nil {
		g.fail(w, rec, err)
		return
	}
	rec.status = writeHeaders(w, h)
	_, _ = w.Write(body)
}

// fail answers like Envoy when the plugin cannot run: 503 if the VM failed
// (failure_policy FAIL_CLOSED), 504 if a paused stream was never resumed.
func (g *Gateway) fail(w http.ResponseWriter, rec *record, err error) {
	rec.status, rec.decision = http.StatusServiceUnavailable, "wasm_fail_stream"
	if errors.Is(err, host.ErrStalled) {
		rec.status, rec.decision = http.StatusGatewayTimeout, "stalled"
	}
	g.opts.Log.Printf("stream failed: %v", err)
	w.WriteHeader(rec.status)
}
