package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/apiguard/apiguard/e2e/envoystats"
	"github.com/apiguard/apiguard/e2e/gateway"
)

// serveAdmin serves the gateway's admin endpoints on addr, with the
// stats_tags of the Envoy bootstrap at statsConfig; a failure of the
// server later goes to errc. stop closes it.
func serveAdmin(g *gateway.Gateway, addr, statsConfig string, logger *log.Logger, errc chan<- error) (stop func(), err error) {
	bootstrap, err := os.ReadFile(statsConfig)
	if err != nil {
		return nil, fmt.Errorf("-stats-config: %w", err)
	}
	tagger, err := envoystats.LoadTagger(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("-stats-config %s: %w", statsConfig, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-admin: %w", err)
	}
	srv := &http.Server{Handler: g.Admin(tagger), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin: %w", err)
		}
	}()
	logger.Printf("admin on http://%s (/stats/prometheus, /stats; stats_tags from %s)", ln.Addr(), statsConfig)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
