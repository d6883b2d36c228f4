package host

import "sync"

// sharedData is Envoy's process-wide shared-data table: one scope per vm_id,
// one CAS counter for the whole process that starts at 1 and skips 0, no
// delete, no expiry, no size limit.
type sharedData struct {
	mu     sync.Mutex
	cas    uint32
	scopes map[string]map[string]sharedEntry
}

type sharedEntry struct {
	value []byte
	cas   uint32
}

func newSharedData() *sharedData {
	return &sharedData{scopes: map[string]map[string]sharedEntry{}}
}

func (s *sharedData) nextCAS() uint32 {
	s.cas++
	if s.cas == 0 {
		s.cas = 1
	}
	return s.cas
}

// get returns the stored value (not a copy: callers copy it into the VM).
func (s *sharedData) get(vmID, key string) ([]byte, uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.scopes[vmID][key]
	return e.value, e.cas, ok
}

// set writes value under key. A non-zero cas must match the stored entry's CAS;
// on an absent key any cas creates it, as in proxy-wasm-cpp-host.
func (s *sharedData) set(vmID, key string, value []byte, cas uint32) status {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope := s.scopes[vmID]
	if scope == nil {
		scope = map[string]sharedEntry{}
		s.scopes[vmID] = scope
	}
	if e, ok := scope[key]; ok && cas != 0 && cas != e.cas {
		return statusCASMismatch
	}
	scope[key] = sharedEntry{value: append([]byte(nil), value...), cas: s.nextCAS()}
	return statusOK
}
