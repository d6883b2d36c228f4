package host

import (
	"net"
	"strconv"
	"strings"
)

// property answers proxy_get_property for the attributes Envoy exposes. Paths
// arrive as NUL-separated segments ("request\x00path"). Anything unknown reads
// filter state written by proxy_set_property, as Envoy's wasm.<path> does.
func (vm *VM) property(path string) ([]byte, bool) {
	switch path {
	case "plugin_name":
		return []byte(vm.env.cfg.Name), true
	case "plugin_root_id":
		return []byte(vm.env.cfg.RootID), true
	case "plugin_vm_id":
		return []byte(vm.env.cfg.VMID), true
	}
	st := vm.stream()
	if st == nil {
		return vm.filterState(path)
	}
	if v, ok := st.property(path); ok {
		return v, true
	}
	return vm.filterState(path)
}

func (vm *VM) filterState(path string) ([]byte, bool) {
	st := vm.stream()
	if st == nil || st.filterState == nil {
		return nil, false
	}
	v, ok := st.filterState[path]
	return v, ok
}

func (vm *VM) setProperty(path string, value []byte) status {
	st := vm.stream()
	if st == nil {
		return statusNotFound
	}
	if st.filterState == nil {
		st.filterState = map[string][]byte{}
	}
	st.filterState[path] = append([]byte(nil), value...)
	return statusOK
}

func (s *Stream) property(path string) ([]byte, bool) {
	req := func(key string) ([]byte, bool) {
		v, ok := s.origRequest.Get(key)
		return []byte(v), ok
	}
	switch path {
	case "source\x00address":
		return []byte(s.info.SourceAddress), s.info.SourceAddress != ""
	case "source\x00port":
		_, port, err := net.SplitHostPort(s.info.SourceAddress)
		p, err2 := strconv.ParseInt(port, 10, 64)
		if err != nil || err2 != nil {
			return nil, false
		}
		return le64(uint64(p)), true
	case "request\x00path":
		return req(":path")
	case "request\x00url_path":
		p, ok := s.origRequest.Get(":path")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return []byte(p), ok
	case "request\x00query":
		p, ok := s.origRequest.Get(":path")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			return []byte(p[i+1:]), true
		}
		return nil, ok
	case "request\x00host":
		return req(":authority")
	case "request\x00scheme":
		return req(":scheme")
	case "request\x00method":
		return req(":method")
	case "request\x00id":
		return req("x-request-id")
	case "request\x00protocol":
		return []byte(s.info.Protocol), true
	case "request\x00time":
		return le64(uint64(s.startTime.UnixNano())), true
	case "response\x00code":
		if s.respCode == 0 {
			return nil, false
		}
		return le64(uint64(s.respCode)), true
	case "response\x00code_details":
		return []byte(s.respDetails), s.respCode != 0
	case "connection\x00mtls":
		return []byte{0}, true
	}
	return nil, false
}
