package main

import (
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/filters/verdict"
)

// metrics are the plugin's Envoy stats. Names are dot-separated so that a
// stats_tags regex can split out the reason (Envoy has no tag API for wasm).
//
//	apiguard.requests.allowed                 requests the pipeline let through
//	apiguard.requests.denied.<reason>         local replies that deny, by reason code
//	apiguard.requests.answered                local replies that allow (a CORS preflight's 204)
//	apiguard.authn.<provider>.verified        tokens a provider verified (cache hits included)
//	apiguard.authn.<provider>.denied.<reason> tokens a provider refused, by reason
//	apiguard.route.<route>.allowed            requests a route let through
//	apiguard.route.<route>.denied             requests a route denied (authentication)
type metrics struct {
	allowed  proxywasm.MetricCounter
	answered proxywasm.MetricCounter
	byReason map[verdict.Reason]proxywasm.MetricCounter
	// routes are defined on a route's first match, so a worker defines only
	// the counters of routes it served.
	routes map[string]*routeMetrics
	// Per provider, indexed like providers: a scan of a few names compares
	// the pipeline's own strings, cheaper in wasm than hashing for a map.
	providers      []string
	verified       []proxywasm.MetricCounter
	providerDenied []map[verdict.Reason]proxywasm.MetricCounter
}

func defineMetrics(providers []string) *metrics {
	m := &metrics{
		allowed:   proxywasm.DefineCounterMetric("apiguard.requests.allowed"),
		answered:  proxywasm.DefineCounterMetric("apiguard.requests.answered"),
		byReason:  map[verdict.Reason]proxywasm.MetricCounter{},
		routes:    map[string]*routeMetrics{},
		providers: providers,
	}
	for _, r := range verdict.All() {
		m.byReason[r] = proxywasm.DefineCounterMetric("apiguard.requests.denied." + r.Code())
	}
	for _, name := range providers {
		m.verified = append(m.verified, proxywasm.DefineCounterMetric("apiguard.authn."+name+".verified"))
		denied := map[verdict.Reason]proxywasm.MetricCounter{}
		for _, r := range verdict.All() {
			denied[r] = proxywasm.DefineCounterMetric("apiguard.authn." + name + ".denied." + r.Code())
		}
		m.providerDenied = append(m.providerDenied, denied)
	}
	return m
}

// authenticated counts a provider's verdict, when a provider decided.
func (m *metrics) authenticated(provider string, d verdict.Decision) {
	if provider == "" {
		return
	}
	for i, name := range m.providers {
		switch {
		case name != provider:
		case d.Denied():
			m.providerDenied[i][d.Reason].Increment(1)
			return
		default:
			m.verified[i].Increment(1)
			return
		}
	}
}

// routeMetrics count one route's decisions.
type routeMetrics struct{ allowed, denied proxywasm.MetricCounter }

// route returns the counters of the named route, nil for none.
func (m *metrics) route(name string) *routeMetrics {
	if name == "" {
		return nil
	}
	r, ok := m.routes[name]
	if !ok {
		r = &routeMetrics{
			allowed: proxywasm.DefineCounterMetric("apiguard.route." + name + ".allowed"),
			denied:  proxywasm.DefineCounterMetric("apiguard.route." + name + ".denied"),
		}
		m.routes[name] = r
	}
	return r
}

func (m *metrics) allow(route *routeMetrics) {
	m.allowed.Increment(1)
	if route != nil {
		route.allowed.Increment(1)
	}
}

func (m *metrics) denied(r verdict.Reason, route *routeMetrics) {
	if c, ok := m.byReason[r]; ok {
		c.Increment(1)
	}
	if route != nil {
		route.denied.Increment(1)
	}
}
