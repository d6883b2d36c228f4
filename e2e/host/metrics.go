package host

import (
	"slices"
	"sync"

	"github.com/apiguard/apiguard/e2e/envoystats"
)

// Metric types, as in the ABI.
const (
	metricCounter   = 0
	metricGauge     = 1
	metricHistogram = 2
)

// Envoy encodes a metric's type in the low bits of its id and steps ids by 4
// (source/extensions/common/wasm/wasm.h: kMetricTypeMask, kMetricIdIncrement;
// nextCounterMetricId and friends), so a VM's first counter is 4, its first
// gauge 5 and its first histogram 6.
const (
	metricTypeMask    = 0x3
	metricIDIncrement = 0x4
)

// metricStore holds stats by type and name for the whole process, as Envoy's
// stats store does: every VM that defines the same name updates the same stat.
type metricStore struct {
	mu     sync.Mutex
	byName map[metricKey]*stat
}

type metricKey struct {
	kind uint32
	name string
}

// stat is one Envoy stat. A histogram keeps its last sample: tests read
// counters and gauges.
type stat struct {
	value uint64
	kind  uint32
	name  string
}

func newMetricStore() *metricStore {
	return &metricStore{byName: map[metricKey]*stat{}}
}

// vmMetrics are the ids one VM handed out. Envoy's Context::defineMetric
// returns a new id on every call, even for a name defined before; each id
// points at the process-wide stat of that name.
type vmMetrics struct {
	next [3]uint32
	ids  map[uint32]*stat
}

func (v *vmMetrics) define(m *metricStore, kind uint32, name string) (uint32, status) {
	if kind > metricHistogram {
		return 0, statusBadArgument
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := metricKey{kind, name}
	st, ok := m.byName[k]
	if !ok {
		st = &stat{kind: kind, name: name}
		m.byName[k] = st
	}
	if v.ids == nil {
		v.ids = map[uint32]*stat{}
		v.next = [3]uint32{metricCounter, metricGauge, metricHistogram}
	}
	v.next[kind] += metricIDIncrement
	v.ids[v.next[kind]] = st
	return v.next[kind], statusOK
}

// increment is Envoy's Context::incrementMetric: counters take only positive
// deltas, gauges add or subtract, anything else is BAD_ARGUMENT.
func (v *vmMetrics) increment(m *metricStore, id uint32, delta int64) status {
	kind := id & metricTypeMask
	if kind != metricCounter && kind != metricGauge {
		return statusBadArgument
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := v.ids[id]
	switch {
	case !ok:
		return statusNotFound
	case kind == metricCounter && delta <= 0:
		return statusBadArgument
	}
	st.value += uint64(delta)
	return statusOK
}

// record is Envoy's Context::recordMetric: it adds to a counter, sets a gauge
// and records a histogram sample; an unknown id is NOT_FOUND.
func (v *vmMetrics) record(m *metricStore, id uint32, value uint64) status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := v.ids[id]
	if !ok {
		return statusNotFound
	}
	if id&metricTypeMask == metricCounter {
		st.value += value
	} else {
		st.value = value
	}
	return statusOK
}

// value is Envoy's Context::getMetric: counters and gauges only; a histogram
// (or any other type) id is BAD_ARGUMENT.
func (v *vmMetrics) value(m *metricStore, id uint32) (uint64, status) {
	kind := id & metricTypeMask
	if kind != metricCounter && kind != metricGauge {
		return 0, statusBadArgument
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := v.ids[id]
	if !ok {
		return 0, statusNotFound
	}
	return st.value, statusOK
}

// get returns a stat's value by name: a counter's or gauge's value, or a
// histogram's last sample.
func (m *metricStore) get(name string) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, kind := range []uint32{metricCounter, metricGauge, metricHistogram} {
		if st, ok := m.byName[metricKey{kind, name}]; ok {
			return st.value, true
		}
	}
	return 0, false
}

func (m *metricStore) names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.byName))
	for k := range m.byName {
		out = append(out, k.name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// stats are the counters and gauges as Envoy's stats store holds them:
// each under its full name, in the wasm extension's custom namespace
// (Context::defineMetric prefixes envoystats.WasmNamespace). Histograms
// keep only their last sample here, so they are left out.
func (m *metricStore) stats() []envoystats.Stat {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]envoystats.Stat, 0, len(m.byName))
	for k, st := range m.byName {
		typ := envoystats.Counter
		switch k.kind {
		case metricGauge:
			typ = envoystats.Gauge
		case metricHistogram:
			continue
		}
		out = append(out, envoystats.Stat{Name: envoystats.WasmNamespace + "." + k.name, Type: typ, Value: st.value})
	}
	return out
}
