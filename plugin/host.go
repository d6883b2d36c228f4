package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/filters/stage"
)

// host is stage.Host over proxy-wasm, one per worker.
type host struct {
	// counters are defined on first use; their names come from
	// configuration, so the map stays bounded.
	counters map[string]proxywasm.MetricCounter
}

func (host) Property(path ...string) ([]byte, error) {
	v, err := proxywasm.GetProperty(path)
	if err == types.ErrorStatusNotFound {
		return nil, stage.ErrNotFound
	}
	return v, err
}

func (host) SharedData(key string) ([]byte, uint32, error) {
	v, cas, err := proxywasm.GetSharedData(key)
	if err == types.ErrorStatusNotFound {
		return nil, 0, stage.ErrNotFound
	}
	return v, cas, err
}

func (host) SetSharedData(key string, value []byte, cas uint32) error {
	err := proxywasm.SetSharedData(key, value, cas)
	if err == types.ErrorStatusCasMismatch {
		return stage.ErrCASMismatch
	}
	return err
}

func (h *host) Count(name string, n uint64) {
	c, ok := h.counters[name]
	if !ok {
		c = proxywasm.DefineCounterMetric(name)
		h.counters[name] = c
	}
	c.Increment(n)
}

func (host) Log(msg string) { proxywasm.LogInfo(msg) }
