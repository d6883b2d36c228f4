package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/apiguard/apiguard/e2e/gateway"
)

// reloadOnHangup pushes the config file again on each SIGHUP, as Envoy
// applies a listener update (LDS) while traffic flows: new requests get the
// new policy, requests in flight finish on the old one, and a policy the
// plugin refuses is logged and changes nothing. It listens from the moment it
// returns until ctx ends.
func reloadOnHangup(ctx context.Context, g *gateway.Gateway, path string, logger *log.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(g, path, logger)
			}
		}
	}()
}

func reload(g *gateway.Gateway, path string, logger *log.Logger) {
	config, err := os.ReadFile(path)
	if err != nil {
		logger.Printf("reload: %v; the running policy stays", err)
		return
	}
	changed, err := g.Reload(config)
	switch {
	case err != nil:
		logger.Printf("reload: %s refused, the running policy stays: %v", path, strings.ReplaceAll(err.Error(), "\n", " "))
	case !changed:
		logger.Printf("reload: %s unchanged", path)
	default:
		logger.Printf("reload: %s applied", path)
	}
}
