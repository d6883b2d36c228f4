// Package hosttest is a stage.Host for native tests: shared data with
// Envoy's compare-and-swap rules, counters and logs in memory, properties
// from a map. It is safe for concurrent use, so tests can run several
// simulated workers on one host.
package hosttest

import (
	"errors"
	"strings"
	"sync"

	"github.com/apiguard/apiguard/filters/stage"
)

// Host is an in-memory stage.Host. The zero value is ready to use.
type Host struct {
	mu sync.Mutex
	// Properties are returned by Property, keyed by the path joined with
	// dots ("source.address").
	Properties map[string][]byte
	// FailShared makes every shared-data call fail, as a host that
	// refuses them.
	FailShared bool
	shared     map[string]*entry
	counters   map[string]uint64
	// ids are the names of DefineCounter's ids.
	ids  []string
	logs []string
}

type entry struct {
	value []byte
	cas   uint32
}

var _ stage.Host = (*Host)(nil)

func (h *Host) Property(path ...string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.Properties[strings.Join(path, ".")]
	if !ok {
		return nil, stage.ErrNotFound
	}
	return v, nil
}

func (h *Host) SharedData(key string) ([]byte, uint32, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.FailShared {
		return nil, 0, errHost
	}
	e, ok := h.shared[key]
	if !ok {
		return nil, 0, stage.ErrNotFound
	}
	return append([]byte(nil), e.value...), e.cas, nil
}

// SetSharedData follows Envoy's SharedData::set: a cas of 0, or the key's
// current version, writes and bumps the version; any other is a mismatch.
func (h *Host) SetSharedData(key string, value []byte, cas uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.FailShared {
		return errHost
	}
	if h.shared == nil {
		h.shared = map[string]*entry{}
	}
	e, ok := h.shared[key]
	switch {
	case !ok:
		// A copy of the key, as proxy-wasm copies it out of the module's
		// memory: the caller may reuse its bytes once the call returned.
		// Only a new key is stored: an entry is updated in place, as
		// assigning to a map would replace its key with the one given.
		e = &entry{}
		h.shared[strings.Clone(key)] = e
	case cas != 0 && e.cas != cas:
		return stage.ErrCASMismatch
	}
	e.value, e.cas = append([]byte(nil), value...), e.cas+1
	return nil
}

// SharedBytes is the size of every key and value written, as Envoy's
// shared data holds them.
func (h *Host) SharedBytes() (keys int, bytes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, e := range h.shared {
		bytes += len(k) + len(e.value)
	}
	return len(h.shared), bytes
}

// SharedContains reports whether any key or value of shared data contains
// s: a test that a secret is never stored in clear.
func (h *Host) SharedContains(s string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, e := range h.shared {
		if strings.Contains(k, s) || strings.Contains(string(e.value), s) {
			return true
		}
	}
	return false
}

// DefineCounter gives every definition its own id, as Envoy does, each
// naming the one counter of that name.
func (h *Host) DefineCounter(name string) uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counters == nil {
		h.counters = map[string]uint64{}
	}
	if _, ok := h.counters[name]; !ok {
		h.counters[name] = 0
	}
	h.ids = append(h.ids, name)
	return uint32(len(h.ids) - 1)
}

func (h *Host) Count(id uint32, n uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counters[h.ids[id]] += n
}

// Counter returns a counter's value.
func (h *Host) Counter(name string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counters[name]
}

// Defined reports whether a counter of that name was defined.
func (h *Host) Defined(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.counters[name]
	return ok
}

// Definitions are the names DefineCounter was called with, in order, one
// per call.
func (h *Host) Definitions() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...)
}

// Worker is a worker on h for tests that run stages without the pipeline:
// the stages' counters are numbered (they must be freshly compiled) and
// defined on h, as pipeline.NewWorker does.
func Worker(h *Host, stages ...stage.Stage) *stage.Worker {
	var cs stage.Counters
	for _, st := range stages {
		cs.Add(st)
	}
	w := &stage.Worker{Host: h}
	w.Define(cs.Names())
	return w
}

func (h *Host) Log(msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, msg)
}

// Logs returns the lines logged so far.
func (h *Host) Logs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.logs...)
}

var errHost = errors.New("host call failed")

// Headers are a phase's headers as a stage.Headers, for tests that run the
// pipeline natively.
type Headers [][2]string

var _ stage.Headers = Headers(nil)

func (h Headers) Get(name string) string {
	for _, kv := range h {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

func (h Headers) All() ([][2]string, error) { return h, nil }
