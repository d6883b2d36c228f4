// Package gateway serves real HTTP/1.1 through plugin.wasm running in the e2e
// host: the local stand-in for Envoy that `make run` starts and that users run
// on their own policy before shipping it. It treats the wire as Envoy does:
// its own HTTP/1 codec with Envoy's header limits, timeouts and local replies,
// and the bytes forwarded as the client and the upstream sent them.
package gateway

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"strings"
	"sync"
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
	// Limits are the request header limits; Envoy's defaults if zero.
	Limits Limits
	// Timeouts bound slow clients and idle connections; Envoy's defaults if zero.
	Timeouts Timeouts
}

// Gateway serves HTTP/1.1 connections, running the plugin on every request.
type Gateway struct {
	opts     Options
	env      *host.Env
	vms      []*host.VM
	next     atomic.Uint32
	upstream *cluster

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	active    sync.WaitGroup
}

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
	opts.Limits, opts.Timeouts = opts.Limits.withDefaults(), opts.Timeouts.withDefaults()
	g := &Gateway{opts: opts, listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{}}
	if opts.Upstream != nil {
		c, err := newCluster(opts.Upstream, opts.Limits, opts.Timeouts.Route)
		if err != nil {
			return nil, err
		}
		g.upstream = c
	}
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

// Close stops the workers and drops the idle upstream connections; Shutdown
// the listeners first.
func (g *Gateway) Close() {
	g.env.Close()
	if g.upstream != nil {
		g.upstream.close()
	}
}
