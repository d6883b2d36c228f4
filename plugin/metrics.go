package main

import (
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"

	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// metrics are the glue's Envoy stats, all defined once at start (the
// stages' own are defined by pipeline.NewWorker): every series exists, at
// zero, from the first scrape, and counting one is an index, never a
// lookup by name. Names are dot-separated so that a stats_tags regex can
// split out the route, reason and provider (Envoy has no tag API for wasm).
//
//	apiguard.requests.allowed                 requests the pipeline let through
//	apiguard.requests.denied.<reason>         local replies that deny, by reason code
//	apiguard.requests.answered                local replies that allow (a CORS preflight's 204)
//	apiguard.authn.<provider>.verified        tokens a provider verified (cache hits included)
//	apiguard.authn.<provider>.cache_hits      of those, tokens found in the verified-token cache
//	apiguard.authn.<provider>.denied.<reason> tokens a provider refused, by reason
//	apiguard.route.<route>.allowed            requests a route let through
//	apiguard.route.<route>.denied             requests a route denied
type metrics struct {
	allowed  proxywasm.MetricCounter
	answered proxywasm.MetricCounter
	// byReason is indexed by reason.
	byReason []proxywasm.MetricCounter
	// routes are indexed like pipeline.Routes.
	routes []routeMetrics
	// Per provider, indexed like providers: a scan of a few names compares
	// the pipeline's own strings, cheaper in wasm than hashing for a map.
	providers []string
	verified  []proxywasm.MetricCounter
	cacheHits []proxywasm.MetricCounter
	// providerDenied is indexed by provider, then by reason; only the
	// reasons of providerReasons have a counter.
	providerDenied [][]proxywasm.MetricCounter
}

// providerReasons are the reasons a provider's verification gives (a
// missing or duplicate token is refused before any provider is tried).
var providerReasons = []verdict.Reason{
	verdict.TokenMalformed, verdict.TokenTooLarge, verdict.TokenAlgorithm, verdict.TokenIssuer, verdict.TokenAudience,
	verdict.TokenExpired, verdict.TokenNotYetValid, verdict.TokenUnknownKey, verdict.TokenSignature,
	verdict.TokenClaimHeader, verdict.KeysUnavailable, verdict.TokenCaseVariant, verdict.TokenType,
}

// routeMetrics count one route's decisions.
type routeMetrics struct{ allowed, denied proxywasm.MetricCounter }

func defineMetrics(providers, routes []string) *metrics {
	reasons := verdict.All()
	m := &metrics{
		allowed:   proxywasm.DefineCounterMetric("apiguard.requests.allowed"),
		answered:  proxywasm.DefineCounterMetric("apiguard.requests.answered"),
		byReason:  make([]proxywasm.MetricCounter, len(reasons)+1),
		routes:    make([]routeMetrics, len(routes)),
		providers: providers,
	}
	for _, r := range reasons {
		m.byReason[r] = proxywasm.DefineCounterMetric("apiguard.requests.denied." + r.Code())
	}
	// The routes' names are built in one string: a thousand routes' two
	// thousand strings cost more to allocate in wasm than to define.
	const prefix, allowed, denied = "apiguard.route.", ".allowed", ".denied"
	segments := make([]string, len(routes))
	size := 0
	for i, name := range routes {
		segments[i] = stage.MetricSegment(name)
		size += 2*(len(prefix)+len(segments[i])) + len(allowed) + len(denied)
	}
	var b strings.Builder
	b.Grow(size)
	for _, name := range segments {
		b.WriteString(prefix)
		b.WriteString(name)
		b.WriteString(allowed)
		b.WriteString(prefix)
		b.WriteString(name)
		b.WriteString(denied)
	}
	all := b.String()
	for i, name := range segments {
		a := all[:len(prefix)+len(name)+len(allowed)]
		d := all[len(a) : len(a)+len(prefix)+len(name)+len(denied)]
		all = all[len(a)+len(d):]
		m.routes[i] = routeMetrics{allowed: proxywasm.DefineCounterMetric(a), denied: proxywasm.DefineCounterMetric(d)}
	}
	for _, name := range providers {
		prefix := "apiguard.authn." + name
		m.verified = append(m.verified, proxywasm.DefineCounterMetric(prefix+".verified"))
		m.cacheHits = append(m.cacheHits, proxywasm.DefineCounterMetric(prefix+".cache_hits"))
		denied := make([]proxywasm.MetricCounter, len(reasons)+1)
		for _, r := range providerReasons {
			denied[r] = proxywasm.DefineCounterMetric(prefix + ".denied." + r.Code())
		}
		m.providerDenied = append(m.providerDenied, denied)
	}
	return m
}

// route returns the counters of the route a stream matched (its place
// counting from 1), nil for none.
func (m *metrics) route(matched int) *routeMetrics {
	if matched == 0 {
		return nil
	}
	return &m.routes[matched-1]
}

// authenticated counts a provider's verdict, when a provider decided.
func (m *metrics) authenticated(provider string, cached bool, d verdict.Decision) {
	if provider == "" {
		return
	}
	for i, name := range m.providers {
		switch {
		case name != provider:
		case d.Denied():
			// 0 is a reason outside providerReasons: Envoy's counter
			// ids start at 4 (wasm.h kMetricIdIncrement).
			if c := m.providerDenied[i][d.Reason]; c != 0 {
				c.Increment(1)
			}
			return
		default:
			m.verified[i].Increment(1)
			if cached {
				m.cacheHits[i].Increment(1)
			}
			return
		}
	}
}

func (m *metrics) allow(route *routeMetrics) {
	m.allowed.Increment(1)
	if route != nil {
		route.allowed.Increment(1)
	}
}

func (m *metrics) denied(r verdict.Reason, route *routeMetrics) {
	if int(r) < len(m.byReason) && r != verdict.None {
		m.byReason[r].Increment(1)
	}
	if route != nil {
		route.denied.Increment(1)
	}
}
