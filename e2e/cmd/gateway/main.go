// Command gateway runs plugin.wasm in front of an upstream on loopback, the
// way Envoy would, so a policy can be tried before it ships (cmd/apiguard-check
// lints one). Envoy remains the production path.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/apiguard/apiguard/e2e/gateway"
	"github.com/apiguard/apiguard/e2e/host"
)

// clusterFlags collects repeated -cluster name=url flags.
type clusterFlags map[string]string

func (c clusterFlags) String() string { return fmt.Sprint(map[string]string(c)) }

func (c clusterFlags) Set(v string) error {
	name, target, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return errors.New("want NAME=URL")
	}
	if _, err := url.ParseRequestURI(target); err != nil {
		return fmt.Errorf("cluster %s: %w", name, err)
	}
	c[name] = target
	return nil
}

var levels = map[string]host.LogLevel{"trace": 0, "debug": 1, "info": 2, "warn": 3, "error": 4, "critical": 5}

// flags are the command line.
type flags struct {
	configPath, wasmPath, listen, upstream string
	workers                                int
	logLevel, profile                      string
	clusters                               clusterFlags
	demo                                   bool
	testPath                               string
	// tlsCert and tlsKey terminate TLS; clientCA verifies client
	// certificates (mutual TLS).
	tlsCert, tlsKey, clientCA string
	serve                     serveFlags
	// admin is the admin listener's address ("" for none); statsConfig
	// the Envoy bootstrap whose stats_tags it applies.
	admin, statsConfig string
}

func main() {
	f := flags{clusters: clusterFlags{}}
	flag.StringVar(&f.configPath, "config", "", "filter JSON file (required)")
	flag.StringVar(&f.wasmPath, "wasm", "build/plugin.wasm", "plugin module")
	flag.StringVar(&f.listen, "listen", "127.0.0.1:8080", "listen address")
	flag.StringVar(&f.upstream, "upstream", "", "upstream base URL, e.g. http://127.0.0.1:9000")
	flag.IntVar(&f.workers, "workers", 2, "worker VMs, as Envoy's --concurrency")
	flag.StringVar(&f.logLevel, "log-level", "info", "plugin log level: trace, debug, info, warn, error, critical")
	flag.StringVar(&f.profile, "profile", "envoy-1.33", "host WASI profile: envoy-1.33 or cpp-host-current")
	flag.BoolVar(&f.demo, "demo", false, "serve a built-in echo upstream and print curl lines to try")
	flag.StringVar(&f.testPath, "test", "", "run this policy test file against -config headlessly, print a table, exit 1 on any failed case")
	flag.Var(f.clusters, "cluster", "NAME=URL: an Envoy cluster for callouts (remote JWKS; h2c://HOST:PORT for a gRPC service such as the rate limit service); repeatable")
	flag.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM); needs -tls-key")
	flag.StringVar(&f.tlsKey, "tls-key", "", "the -tls-cert's private key (PEM)")
	flag.StringVar(&f.clientCA, "client-ca", "", "CA certificates (PEM) that verify client certificates: mutual TLS, a verified client's SPIFFE ID in connection.uri_san_peer_certificate; needs -tls-cert")
	flag.StringVar(&f.admin, "admin", "", "serve Envoy's stats endpoints (/stats/prometheus, /stats) on this address, e.g. 127.0.0.1:9901")
	flag.StringVar(&f.statsConfig, "stats-config", "envoy/envoy.yaml", "Envoy bootstrap whose stats_config.stats_tags turn metric names into labels on -admin, as Envoy does")
	f.serve.register()
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: gateway -config FILE [-upstream URL | -demo | -test CASES] [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, f, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. ready,
// if set, is told the listen address once requests are accepted.
func run(ctx context.Context, f flags, out io.Writer, ready func(addr string)) error {
	if f.configPath == "" {
		return errors.New("-config is required (see -help)")
	}
	level, ok := levels[f.logLevel]
	if !ok {
		return fmt.Errorf("-log-level %q: want one of trace, debug, info, warn, error, critical", f.logLevel)
	}
	prof := host.Envoy133
	switch f.profile {
	case "envoy-1.33":
	case "cpp-host-current":
		prof = host.CppHostCurrent
	default:
		return fmt.Errorf("-profile %q: want envoy-1.33 or cpp-host-current", f.profile)
	}
	module, err := os.ReadFile(f.wasmPath)
	if err != nil {
		return fmt.Errorf("%w (run `make build` first)", err)
	}
	config, err := os.ReadFile(f.configPath)
	if err != nil {
		return err
	}
	if f.testPath != "" {
		return runTests(module, config, f.testPath, out)
	}
	logger := log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds)
	upstream := f.upstream
	var demoToken string
	if f.demo {
		if upstream == "" {
			demoURL, closeDemo, err := startDemoUpstream()
			if err != nil {
				return err
			}
			defer closeDemo()
			upstream = demoURL
		}
		if _, ok := f.clusters[demoIdPCluster]; !ok {
			idpURL, token, closeIdP, err := startDemoIdP()
			if err != nil {
				return err
			}
			defer closeIdP()
			f.clusters[demoIdPCluster], demoToken = idpURL, token
		}
	}
	if upstream == "" {
		return errors.New("-upstream is required (or -demo for a built-in echo upstream)")
	}
	up, err := url.Parse(upstream)
	if err != nil || up.Scheme == "" || up.Host == "" {
		return fmt.Errorf("-upstream %q: want a base URL like http://127.0.0.1:9000", upstream)
	}
	tlsConfig, err := f.tls()
	if err != nil {
		return err
	}
	limits, timeouts := f.serve.options()
	g, err := gateway.New(gateway.Options{
		TLS:    tlsConfig,
		Limits: limits, Timeouts: timeouts, UseRemoteAddress: f.serve.useRemoteAddress, BufferLimit: f.serve.bufferLimit,
		Module: module, Config: config, Upstream: up, Clusters: f.clusters,
		Workers: f.workers, Profile: prof, MinLogLevel: level, Log: logger,
	})
	if err != nil {
		return err
	}
	defer g.Close()
	go g.Env().RunTicks(ctx, 50*time.Millisecond)

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	logger.Printf("apiguard gateway on %s://%s -> %s (%d workers, %s)", scheme, ln.Addr(), up, f.workers, prof)
	if f.demo {
		printTryLines(out, ln.Addr().String(), demoToken)
	}
	reloadOnHangup(ctx, g, f.configPath, logger)
	errc := make(chan error, 2)
	go func() { errc <- g.Serve(ln) }()
	if f.admin != "" {
		stop, err := serveAdmin(g, f.admin, f.statsConfig, logger, errc)
		if err != nil {
			return err
		}
		defer stop()
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Printf("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return g.Shutdown(shutdown)
}

// tls is the listener's TLS from -tls-cert, -tls-key and -client-ca; nil
// for plaintext.
func (f flags) tls() (*tls.Config, error) {
	switch {
	case f.tlsCert == "" && f.tlsKey == "" && f.clientCA == "":
		return nil, nil
	case f.tlsCert == "" || f.tlsKey == "":
		return nil, errors.New("-tls-cert and -tls-key go together (and -client-ca needs them)")
	}
	cfg, err := gateway.NewTLS(f.tlsCert, f.tlsKey, f.clientCA)
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return cfg, nil
}

// startDemoUpstream serves an echo of what reached the upstream, as JSON.
func startDemoUpstream() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers := map[string]string{}
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			headers[strings.ToLower(k)] = strings.Join(r.Header[k], ", ")
		}
		w.Header().Set("content-type", "application/json")
		w.Header().Set("server", "demo-upstream")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"upstream": "demo", "method": r.Method, "path": r.URL.EscapedPath(), "query": r.URL.RawQuery, "headers": headers,
		})
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func printTryLines(out io.Writer, addr, token string) {
	fmt.Fprintf(out, `
Try it (the example policy is envoy/apiguard.json; a demo IdP signed the token below, valid for an hour):
  TOKEN=%[2]s
  curl -i http://%[1]s/healthz                         # public route: 200 from the demo upstream
  curl -i http://%[1]s/api/v1/orders/42                # no token: 401 token_missing
  curl -i -H "Authorization: Bearer $TOKEN" http://%[1]s/api/v1/orders/42   # 200; the upstream sees x-auth-sub: demo-user
  curl -i -X DELETE http://%[1]s/api/v1/orders/42      # method not on the route: 405 problem+json
  curl -i http://%[1]s/admin                           # no route: 404 problem+json (deny by default)
  curl -i --path-as-is http://%[1]s/public/../admin    # normalized to /admin before matching: 404
  curl -i http://%[1]s/public/%%2e%%2e/admin             # encoded dot-segments too: 404
  curl -i http://%[1]s/public/a%%2fb                    # encoded slash: 400
  curl -i http://%[1]s/public/%%zz                      # invalid percent-encoding reaches apiguard: 400 bad_path
  curl -i 'http://%[1]s/public//docs;jsessionid=1'     # merged slashes, stripped ;params: upstream sees /public/docs
Ctrl-C stops the gateway.

`, addr, token)
}
