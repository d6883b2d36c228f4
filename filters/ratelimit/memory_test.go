package ratelimit_test

import (
	"strconv"
	"testing"

	"github.com/apiguard/apiguard/filters/ratelimit"
	"github.com/apiguard/apiguard/filters/stage"
)

// TestAMillionKeysStayWithinTheTable: a million distinct API keys through
// one rule leave at most the rule's table in shared data: Slots entries of
// a name and a 16-byte value, and the secret.
func TestAMillionKeysStayWithinTheTable(t *testing.T) {
	g := load(t, `{"rate_limit": {"rules": [{"name": "per-key", "key": ["header:x-api-key"], "rate": 10, "per": "second"}]},
		"routes": [{"name": "orders", "match": {"path": "/orders"}, "auth": "none"}]}`)
	g.host.Properties["source.address"] = []byte("192.0.2.1:1")
	w := g.p.NewWorker(g.host)
	h := headers{{":method", "GET"}, {":path", "/orders"}, {":authority", "api.example"}, {"x-api-key", ""}}
	for i := 0; i < 1_000_000; i++ {
		h[3][1] = "key-" + strconv.Itoa(i)
		var s stage.Stream
		g.p.RequestHeaders(&s, h, w)
	}
	// Names are "apiguard.ratelimit.per-key.16384.<slot>": at most 5 digits.
	perEntry := len("apiguard.ratelimit.per-key.16384.") + 5 + 16
	bound := ratelimit.DefaultSlots*perEntry + len("apiguard.ratelimit.seed") + 32
	entries, bytes := g.host.SharedBytes()
	if entries > ratelimit.DefaultSlots+1 || bytes > bound {
		t.Errorf("%d entries, %d bytes; the bound is %d entries, %d bytes", entries, bytes, ratelimit.DefaultSlots+1, bound)
	}
	t.Logf("%d entries, %d bytes (bound %d)", entries, bytes, bound)
}
