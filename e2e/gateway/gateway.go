// Package gateway serves real HTTP/1.1 through plugin.wasm running in the e2e
// host: the local stand-in for Envoy that `make run` starts and that users run
// on their own policy before shipping it. It treats the wire as Envoy does:
// its own HTTP/1 codec with Envoy's header limits, timeouts and local replies,
// and the bytes forwarded as the client and the upstream sent them.
package gateway

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"slices"
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
	// UseRemoteAddress is the connection manager's use_remote_address, off
	// as in envoy/envoy.yaml: when set, the client's address is appended to
	// x-forwarded-for and the request counts as an edge request (its
	// x-request-id is replaced, its x-envoy-* control headers removed).
	UseRemoteAddress bool
	// BufferLimit is the most the plugin may buffer of a body, Envoy's
	// per_connection_buffer_limit_bytes: 1 MiB if zero. Beyond it a request
	// is answered 413; a response 500, or reset once its headers went out.
	BufferLimit int
	// Clock is the VMs' time source (WASI clocks and ticks); real if nil.
	Clock host.Clock
	// TLS, when set, terminates TLS on every connection, as an Envoy
	// listener with a DownstreamTlsContext: with ClientCAs and
	// tls.VerifyClientCertIfGiven, a client certificate is verified when
	// presented (require_client_certificate false, Envoy's default), and
	// the connection.* properties describe it (NewTLS builds one).
	TLS *tls.Config
}

// Gateway serves HTTP/1.1 connections, running the plugin on every request.
type Gateway struct {
	opts     Options
	env      *host.Env
	vms      []*host.VM
	next     atomic.Uint32
	upstream *cluster
	// reload serializes configuration pushes; config is the last one given.
	reload sync.Mutex
	config []byte

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
		Clusters: opts.Clusters, Profile: opts.Profile, UseRemoteAddress: opts.UseRemoteAddress,
		BufferLimit: opts.BufferLimit, Clock: opts.Clock,
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
	if err := g.load(opts.Config); err != nil {
		env.Close()
		return nil, &ConfigError{Err: err, Messages: configErrors(env.Logs())}
	}
	return g, nil
}

// load starts the workers as Envoy starts a listener's wasm filter, so a
// plugin that breaks under any step fails here as it would there: the main
// thread's canary VM first (it rejects a configuration before any worker
// gets it), then one VM per worker, then a configuration push of the same
// JSON re-serialized (one trailing newline more: Envoy keys a plugin by its
// configuration's bytes), as a control plane's first LDS update does. Every
// worker VM then holds a second root context and shuts the first one down;
// requests run on the second, as in every e2e story (e2e/harness_test.go).
func (g *Gateway) load(config []byte) error {
	if err := g.env.Canary(); err != nil {
		return err
	}
	for i := 0; i < g.opts.Workers; i++ {
		vm, err := g.env.StartVM()
		if err != nil {
			return err
		}
		g.vms = append(g.vms, vm)
	}
	g.config = config
	return g.env.UpdateConfiguration(append(slices.Clip(config), '\n'))
}

// Reload pushes config as Envoy applies a listener update that changes only
// the plugin's configuration (an LDS push, or a file watched by a control
// plane): a canary first, then a second root context in every worker's VM
// for new streams, while streams in flight finish on the old one, which is
// then shut down. A configuration the canary refuses changes nothing and is
// an error with the plugin's messages. The bytes given last (to New or
// Reload) again are no update, as Envoy ignores a listener update that
// changes nothing.
func (g *Gateway) Reload(config []byte) (changed bool, err error) {
	g.reload.Lock()
	defer g.reload.Unlock()
	if bytes.Equal(config, g.config) {
		return false, nil
	}
	before := len(g.env.Logs())
	if err := g.env.UpdateConfiguration(config); err != nil {
		return false, &ConfigError{Err: err, Messages: configErrors(g.env.Logs()[before:])}
	}
	g.config = slices.Clone(config)
	return true, nil
}

// NewTLS reads a server certificate and key (PEM files) and, if clientCA is
// not "", the CA certificates (PEM) that verify client certificates, as an
// Envoy listener's DownstreamTlsContext with a validation_context: a client
// may connect without a certificate (plain TLS), and one that presents a
// certificate that does not verify fails the handshake.
func NewTLS(certFile, keyFile, clientCA string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(clientCA)
	if err != nil {
		return nil, err
	}
	cfg.ClientCAs = x509.NewCertPool()
	if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
		return nil, errors.New(clientCA + ": no PEM certificate")
	}
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	return cfg, nil
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

func configErrors(logs []host.LogEntry) []string {
	var out []string
	for _, l := range logs {
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

// RoundTrip runs one stream through the first worker without the wire: the
// host's model of Envoy's stream (its request sanitization, the plugin's
// callbacks, a local reply or the upstream, here a function), so policy
// tests need no network.
func (g *Gateway) RoundTrip(req host.Request, upstream host.Upstream) *host.Result {
	return g.vms[0].RoundTrip(req, upstream)
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
