// Package host is a Go implementation of the host side of the proxy-wasm ABI
// 0.2.1 on wazero, faithful to what Envoy (proxy-wasm-cpp-host) does: the same
// WASI subset, the same call order, header-map, buffer, property, shared-data,
// http-call and metric semantics, one VM per simulated worker. The e2e tests and
// the local gateway run plugin.wasm in it. See ../shared/ENVOY-HOST.md for the
// behaviours reproduced here.
package host

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/e2e/envoystats"
)

// Profile selects which Envoy's WASI the VMs get.
type Profile int

const (
	// Envoy133 is Envoy 1.33-1.38: 18 WASI functions, poll_oneoff returns
	// ENOSYS (52) without writing nevents.
	Envoy133 Profile = iota
	// CppHostCurrent is proxy-wasm-cpp-host after PR #533: poll_oneoff reports
	// zero events and returns success.
	CppHostCurrent
)

func (p Profile) String() string {
	if p == CppHostCurrent {
		return "cpp-host-current"
	}
	return "envoy-1.33"
}

// LogLevel mirrors proxy-wasm's log levels (trace 0 .. critical 5).
type LogLevel int32

var logLevelNames = [...]string{"trace", "debug", "info", "warn", "error", "critical"}

func (l LogLevel) String() string {
	if l >= 0 && int(l) < len(logLevelNames) {
		return logLevelNames[l]
	}
	return fmt.Sprintf("level(%d)", int32(l))
}

// LogEntry is one line a VM logged through proxy_log or fd_write.
type LogEntry struct {
	Worker  int
	Level   LogLevel
	Message string
}

// Config describes the plugin as Envoy's PluginConfig would.
type Config struct {
	// Module is the compiled .wasm file's bytes.
	Module []byte
	// Name and RootID are the plugin's name and root_id properties.
	Name, RootID string
	// VMID scopes shared data, as Envoy's vm_config.vm_id.
	VMID string
	// NodeID and NodeCluster are the bootstrap node's id and cluster (xds.node).
	NodeID, NodeCluster string
	// Configuration is the plugin configuration buffer (the filter JSON).
	Configuration []byte
	// VMConfiguration is the vm_config.configuration buffer.
	VMConfiguration []byte
	// Environment is vm_config.environment_variables.
	Environment map[string]string
	// Profile is the WASI profile; Envoy133 by default.
	Profile Profile
	// Clusters maps Envoy cluster names to base URLs (http://127.0.0.1:port)
	// that dispatch_http_call reaches; h2c://127.0.0.1:port speaks HTTP/2
	// without TLS, as a cluster with http2_protocol_options does (a gRPC
	// service's).
	Clusters map[string]string
	// MeasureGuestCPU makes every callback measure its thread's CPU time
	// (VM.GuestCPU), for benchmarks; it pins the goroutine to its thread
	// for each callback.
	MeasureGuestCPU bool
	// Clock is the time source for WASI clocks and ticks; a real clock if nil.
	Clock Clock
	// LogSink, if set, receives every log line as it is written.
	LogSink func(LogEntry)
	// LocalReplySkipsFilter makes a local reply bypass the plugin's own response
	// callbacks. The default (false) is Envoy's: the reply is encoded through the
	// whole filter chain, including the filter that sent it.
	LocalReplySkipsFilter bool
	// AllowOnHeadersStopIteration is PluginConfig.allow_on_headers_stop_iteration
	// (Envoy 1.35 and later; off by default). With it, a Pause from
	// on_request_headers stays StopIteration instead of cpp-host's conversion to
	// StopAllIterationAndWatermark (ContextBase::onRequestHeaders), so the body
	// reaches the plugin while its headers are paused, and a Continue from a
	// body callback continues the headers with it (FilterManager::decodeData).
	AllowOnHeadersStopIteration bool
	// Routes, if set, is the route table Envoy matches each request against:
	// before the plugin, and again after it edited the request headers (see
	// Stream.clearRouteCache). Without one every request goes upstream.
	Routes []Route
	// InternalAddresses is internal_address_config.cidr_ranges: peers there
	// send internal requests. Since Envoy 1.33 none are internal by default
	// (before, RFC 1918 and loopback were).
	InternalAddresses []netip.Prefix
	// UseRemoteAddress is the HTTP connection manager's use_remote_address
	// (false in envoy/envoy.yaml, as in Envoy): see Env.SanitizeRequest.
	UseRemoteAddress bool
	// BufferLimit is the most the plugin may buffer of a body
	// (per_connection_buffer_limit_bytes); DefaultBufferLimit if 0.
	BufferLimit int
	// InlineRequestHeaders are request headers that linked extensions register
	// as inline (Envoy's CustomInlineHeaderRegistry), on top of the core set
	// the host always joins. A repeated inline header reaches the plugin as one
	// comma-joined value. Envoy's oauth2 and cache filters register
	// "authorization", so it is inline in a build that links them (the
	// official one does); nil models a build without them.
	InlineRequestHeaders []string
	// HTTPCallTimeout, if set, bounds the http calls the plugin gave no
	// timeout; by default such a call has none, as in Envoy.
	HTTPCallTimeout time.Duration
	// CountGuestAllocations counts the guest Go runtime's allocations
	// (VM.GuestAllocations) with a wazero function listener; it slows every
	// allocation, so only measurements that need it set it.
	CountGuestAllocations bool
	// TraceFirstCalls records each module function's first run and the
	// callback that made it (VM.FirstCalls): the code each start-up phase
	// hands a lazily compiling engine. It slows every call.
	TraceFirstCalls bool
	// CountCalls counts each run of the module functions whose names start
	// with one of these prefixes (VM.TakeCallCounts): the coverage a fuzzer
	// of whole streams sees of the guest. Names are the name section's,
	// where a Go module writes every character but letters, digits, "_"
	// and "." as "_" ("github.com_apiguard_apiguard_filters_route.Normalize",
	// "main.init"). It slows each of those calls.
	CountCalls []string
	// FailHostCalls names proxy_* host calls that answer InternalFailure
	// without doing anything, to show the plugin fails closed when a host
	// call fails (Envoy fails them on maps a stream no longer has, on a
	// full shared-data store, ...). Empty: none fails.
	FailHostCalls []string
}

// Env is what the VMs of one plugin share, as an Envoy process does: the compiled
// code, shared data (keyed by vm_id), metrics by name, clusters and the clock.
type Env struct {
	cfg      Config
	runtimeC wazero.RuntimeConfig
	shared   *sharedData
	metrics  *metricStore
	clock    Clock
	http     *httpCaller
	grpc     grpcCaller

	// requestRules is how Envoy's request header maps store added headers.
	requestRules mapRules
	// calls counts calls (Config.CountCalls); nil when not asked.
	calls *callCounter

	mu   sync.Mutex
	vms  []*VM
	logs []LogEntry
	// config is the current plugin configuration (UpdateConfiguration).
	config []byte
}

var (
	cacheOnce sync.Once
	cache     wazero.CompilationCache
)

// compilationCache is shared by every runtime in the process and persisted under
// the user's cache directory: compiling a Go module takes wazero about 2 s, a
// cached one loads in milliseconds.
func compilationCache() wazero.CompilationCache {
	cacheOnce.Do(func() {
		if dir, err := os.UserCacheDir(); err == nil {
			if c, err := wazero.NewCompilationCacheWithDir(filepath.Join(dir, "apiguard-wazero")); err == nil {
				cache = c
				return
			}
		}
		cache = wazero.NewCompilationCache()
	})
	return cache
}

// NewEnv validates the module against the chosen profile (compiling it once) and
// returns an Env ready to start VMs.
func NewEnv(cfg Config) (*Env, error) {
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.BufferLimit == 0 {
		cfg.BufferLimit = DefaultBufferLimit
	}
	e := &Env{
		cfg:      cfg,
		runtimeC: wazero.NewRuntimeConfig().WithCompilationCache(compilationCache()).WithCloseOnContextDone(false),
		shared:   newSharedData(),
		metrics:  newMetricStore(),
		clock:    cfg.Clock,
		config:   cfg.Configuration,
	}
	e.requestRules = requestRules(cfg.InlineRequestHeaders)
	e.calls = callCounterFor(cfg.CountCalls)
	e.http = newHTTPCaller(cfg.Clusters, cfg.HTTPCallTimeout)
	rt := wazero.NewRuntimeWithConfig(context.Background(), e.runtimeC)
	defer rt.Close(context.Background())
	compiled, err := rt.CompileModule(context.Background(), cfg.Module)
	if err != nil {
		return nil, fmt.Errorf("compile module: %w", err)
	}
	if err := CheckModule(compiled, cfg.Profile); err != nil {
		return nil, err
	}
	return e, nil
}

// Logs returns every line logged so far by every VM.
func (e *Env) Logs() []LogEntry {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]LogEntry(nil), e.logs...)
}

// WriteLogs prints the collected logs, for test failure reports.
func (e *Env) WriteLogs(w io.Writer) {
	for _, l := range e.Logs() {
		fmt.Fprintf(w, "[worker %d] %s: %s\n", l.Worker, l.Level, l.Message)
	}
}

func (e *Env) log(worker int, level LogLevel, msg string) {
	entry := LogEntry{Worker: worker, Level: level, Message: msg}
	e.mu.Lock()
	e.logs = append(e.logs, entry)
	e.mu.Unlock()
	if e.cfg.LogSink != nil {
		e.cfg.LogSink(entry)
	}
}

// ResetLogs drops the collected log lines (a soak would otherwise grow them).
func (e *Env) ResetLogs() {
	e.mu.Lock()
	e.logs = nil
	e.mu.Unlock()
}

// Metric returns a metric's current value by name, and whether it was defined.
func (e *Env) Metric(name string) (uint64, bool) { return e.metrics.get(name) }

// MetricNames lists the names of every metric the plugin defined, sorted.
func (e *Env) MetricNames() []string { return e.metrics.names() }

// Stats are the plugin's counters and gauges as Envoy's stats store holds
// them, by their full names (in the wasmcustom namespace), for an admin
// endpoint to render.
func (e *Env) Stats() []envoystats.Stat { return e.metrics.stats() }

// SharedData returns a copy of a shared-data value and its CAS, for tests.
func (e *Env) SharedData(key string) ([]byte, uint32, bool) {
	v, cas, ok := e.shared.get(e.cfg.VMID, key)
	return append([]byte(nil), v...), cas, ok
}

// Advance moves a fake clock forward by d, stopping at each instant a tick or
// an http-call deadline comes due, in time order across VMs: the plugin sees
// time pass between ticks, each timer re-arms a period after it fired (so
// Advance(61*time.Second) with a 1 s period fires 61 ticks, one per second),
// and a call past its deadline is answered as Envoy's router answers a
// timeout. It panics on a real clock.
func (e *Env) Advance(d time.Duration) {
	fc, ok := e.clock.(*FakeClock)
	if !ok {
		panic("host: Advance needs a FakeClock")
	}
	target := fc.Now().Add(d)
	e.mu.Lock()
	vms := append([]*VM(nil), e.vms...)
	e.mu.Unlock()
	for {
		var next time.Time
		var due *VM
		for _, vm := range vms {
			if t, ok := vm.nextEvent(); ok && (due == nil || t.Before(next)) {
				next, due = t, vm
			}
		}
		if due == nil || next.After(target) {
			break
		}
		if next.After(fc.Now()) {
			fc.set(next)
		}
		due.fireDueTicks(fc.Now())
	}
	fc.set(target)
}

// Close stops every VM.
func (e *Env) Close() {
	e.mu.Lock()
	vms := e.vms
	e.vms = nil
	e.mu.Unlock()
	for _, vm := range vms {
		vm.Close()
	}
	e.grpc.close()
}
