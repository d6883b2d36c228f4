package host

import "sync"

// Metric types, as in the ABI.
const (
	metricCounter   = 0
	metricGauge     = 1
	metricHistogram = 2
)

// metricStore holds stats by name for the whole process, as Envoy's stats
// store does: every VM that defines the same name updates the same stat.
type metricStore struct {
	mu     sync.Mutex
	byName map[string]uint32
	defs   []metricDef
}

type metricDef struct {
	name  string
	kind  uint32
	value uint64
}

func newMetricStore() *metricStore {
	return &metricStore{byName: map[string]uint32{}}
}

func (m *metricStore) define(kind uint32, name string) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.byName[name]; ok {
		return id
	}
	m.defs = append(m.defs, metricDef{name: name, kind: kind})
	id := uint32(len(m.defs)) // ids start at 1
	m.byName[name] = id
	return id
}

func (m *metricStore) def(id uint32) (*metricDef, bool) {
	if id == 0 || int(id) > len(m.defs) {
		return nil, false
	}
	return &m.defs[id-1], true
}

func (m *metricStore) increment(id uint32, delta int64) status {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.def(id)
	switch {
	case !ok:
		return statusNotFound
	case d.kind == metricHistogram:
		return statusBadArgument
	case d.kind == metricCounter && delta <= 0:
		return statusBadArgument
	}
	d.value = uint64(int64(d.value) + delta)
	return statusOK
}

func (m *metricStore) record(id uint32, value uint64) status {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.def(id)
	if !ok {
		return statusNotFound
	}
	// A histogram keeps its last sample here; tests read counters and gauges.
	d.value = value
	return statusOK
}

func (m *metricStore) value(id uint32) (uint64, status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.def(id)
	if !ok {
		return 0, statusNotFound
	}
	return d.value, statusOK
}

func (m *metricStore) get(name string) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byName[name]
	if !ok {
		return 0, false
	}
	return m.defs[id-1].value, true
}
