package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/filters/verdict"
)

// metrics are the plugin's Envoy stats. Names are dot-separated so that a
// stats_tags regex can split out the reason (Envoy has no tag API for wasm).
//
//	apiguard.requests.allowed          requests the pipeline let through
//	apiguard.requests.denied.<reason>  local replies, by reason code
type metrics struct {
	allowed  proxywasm.MetricCounter
	byReason map[verdict.Reason]proxywasm.MetricCounter
}

func defineMetrics() *metrics {
	m := &metrics{
		allowed:  proxywasm.DefineCounterMetric("apiguard.requests.allowed"),
		byReason: map[verdict.Reason]proxywasm.MetricCounter{},
	}
	for _, r := range verdict.All() {
		m.byReason[r] = proxywasm.DefineCounterMetric("apiguard.requests.denied." + r.Code())
	}
	return m
}

func (m *metrics) denied(r verdict.Reason) {
	if c, ok := m.byReason[r]; ok {
		c.Increment(1)
	}
}
