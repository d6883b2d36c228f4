package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/filters/stage"
)

// host is stage.Host over proxy-wasm, one per worker.
type host struct{}

func (host) Property(path ...string) ([]byte, error) {
	v, err := getProperty(path)
	if err == types.ErrorStatusNotFound {
		return nil, stage.ErrNotFound
	}
	return v, err
}

func (host) SharedData(key string) ([]byte, uint32, error) {
	v, cas, err := getSharedData(key)
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

func (host) DefineCounter(name string) uint32 { return uint32(proxywasm.DefineCounterMetric(name)) }

func (host) Count(id uint32, n uint64) { proxywasm.MetricCounter(id).Increment(n) }

func (host) Log(msg string) { proxywasm.LogInfo(msg) }
