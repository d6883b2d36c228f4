package host

import (
	"encoding/binary"
	"net"
	"strconv"
	"strings"
)

// property answers proxy_get_property as Envoy's Context::getProperty does
// (source/extensions/common/wasm/context.cc, with the attribute tables of
// source/extensions/filters/common/expr/context.cc). The path is NUL-separated
// segments ("request\x00path"); only the first segment names a top-level
// attribute, later ones select inside it. A top-level name Envoy does not
// know reads the filter state that proxy_set_property wrote under that one
// segment ("wasm.<name>"), and a further segment is NOT_FOUND, since that
// value is plain bytes.
//
// Encodings: strings are raw bytes; integers are 8-byte little-endian int64;
// times are int64 nanoseconds since the epoch; bools are one byte; header maps
// (request.headers, response.headers) are the proxy-wasm pairs format, one
// pair per name with repeated values joined by ","; xds.node is the
// serialized envoy.config.core.v3.Node (id and cluster only).
func (vm *VM) property(path string) ([]byte, bool) {
	segs := strings.Split(strings.TrimSuffix(path, "\x00"), "\x00")
	top, rest := segs[0], segs[1:]
	switch top {
	case "plugin_name":
		return leaf([]byte(vm.env.cfg.Name), true, rest)
	case "plugin_root_id":
		return leaf([]byte(vm.env.cfg.RootID), true, rest)
	case "plugin_vm_id":
		return leaf([]byte(vm.env.cfg.VMID), true, rest)
	case "xds":
		if len(rest) > 0 && rest[0] == "node" {
			return vm.node(rest[1:])
		}
	}
	st := vm.stream()
	if st == nil {
		return nil, false
	}
	switch top {
	case "request", "response", "source", "destination", "connection", "upstream", "xds":
		if len(rest) == 0 {
			return nil, false
		}
		return st.attribute(top, rest[0], rest[1:])
	}
	v, ok := st.filterState[top]
	return leaf(v, ok, rest)
}

// leaf is a scalar attribute: nothing lies below it.
func leaf(v []byte, ok bool, rest []string) ([]byte, bool) {
	if !ok || len(rest) > 0 {
		return nil, false
	}
	return v, true
}

func str(s string, ok bool) ([]byte, bool) { return []byte(s), ok }

func int64LE(v int64, ok bool) ([]byte, bool) {
	return binary.LittleEndian.AppendUint64(nil, uint64(v)), ok
}

// liveRequest is the request header map properties read: Envoy reads the
// filter's current map, so a rewritten :path shows, and once the map is
// released (Continue, continue_stream) only on_log sees it.
func (s *Stream) liveRequest() (Headers, bool) {
	if s.reqHeadersOpen || s.logPhase {
		return s.reqHeaders, true
	}
	return nil, false
}

func (s *Stream) liveResponse() (Headers, bool) {
	if s.respHeadersOpen || s.logPhase {
		return s.respHeaders, true
	}
	return nil, false
}

func (s *Stream) attribute(top, name string, rest []string) ([]byte, bool) {
	switch top {
	case "request":
		h, live := s.liveRequest()
		if name == "headers" {
			return headersAttribute(h, rest)
		}
		v, ok := s.requestAttribute(name, h, live)
		return leaf(v, ok, rest)
	case "response":
		if name == "headers" {
			h, _ := s.liveResponse()
			return headersAttribute(h, rest)
		}
		var v []byte
		ok := false
		switch name {
		case "code":
			v, ok = int64LE(int64(s.respCode), s.respCode != 0)
		case "code_details":
			v, ok = str(s.respDetails, s.respDetails != "")
		}
		return leaf(v, ok, rest)
	case "source":
		v, ok := peer(s.info.SourceAddress, name)
		return leaf(v, ok, rest)
	case "destination":
		v, ok := peer(s.info.DestinationAddress, name)
		return leaf(v, ok, rest)
	case "upstream":
		// Upstream info exists once the router picked a host, which the host
		// knows when the upstream answered.
		if !s.upstreamResponded {
			return nil, false
		}
		v, ok := peer(s.info.UpstreamAddress, name)
		return leaf(v, ok, rest)
	case "connection":
		v, ok := s.info.TLS.connection(name)
		return leaf(v, ok, rest)
	case "xds":
		switch name {
		case "route_name":
			return leaf([]byte(s.info.RouteName), s.info.RouteName != "", rest)
		case "cluster_name":
			return leaf([]byte(s.info.ClusterName), s.info.ClusterName != "", rest)
		}
	}
	return nil, false
}

func (s *Stream) requestAttribute(name string, h Headers, live bool) ([]byte, bool) {
	header := func(key string) ([]byte, bool) {
		if !live {
			return nil, false
		}
		return str(h.Get(key))
	}
	path, hasPath := h.Get(":path")
	hasPath = hasPath && live
	switch name {
	case "path":
		return header(":path")
	case "url_path":
		p, _, _ := strings.Cut(path, "?")
		return str(p, hasPath)
	case "query":
		_, q, _ := strings.Cut(path, "?")
		q, _, _ = strings.Cut(q, "#")
		return str(q, hasPath)
	case "host":
		return header(":authority")
	case "scheme":
		return header(":scheme")
	case "method":
		return header(":method")
	case "id":
		return header("x-request-id")
	case "useragent":
		return header("user-agent")
	case "referer":
		return header("referer")
	case "protocol":
		return str(s.info.Protocol, true)
	case "time":
		return int64LE(s.startTime.UnixNano(), true)
	}
	return nil, false
}

// headersAttribute is Envoy's HeadersWrapper: the whole map, or one name's
// values joined with "," (HeaderUtility::getAllOfHeaderAsString). An
// unavailable map is an empty map.
func headersAttribute(h Headers, rest []string) ([]byte, bool) {
	switch len(rest) {
	case 0:
		var joined Headers
		for _, kv := range h {
			if _, seen := joined.Get(kv[0]); !seen {
				joined = append(joined, [2]string{kv[0], strings.Join(h.Values(kv[0]), ",")})
			}
		}
		return serializeHeaders(joined), true
	case 1:
		vals := h.Values(rest[0])
		return []byte(strings.Join(vals, ",")), len(vals) > 0
	}
	return nil, false
}

// connection is Envoy's ConnectionWrapper for the TLS attributes
// (source/extensions/filters/common/expr/context.cc, ConnectionLookupValues
// and SslExtractorsValues), t nil for plaintext:
//
//   - mtls, a bool: a TLS connection whose peer presented a certificate;
//     false (found) on plaintext;
//   - requested_server_name, a string: the SNI, "" (found) without one;
//   - every other name reads the TLS session, NOT_FOUND on plaintext:
//     tls_version; subject_peer_certificate, "" (found) when the peer
//     presented none; uri_san_peer_certificate and dns_san_peer_certificate,
//     the FIRST SAN of that kind only (uriSanPeerCertificate()[0]) and
//     NOT_FOUND without one; sha256_peer_certificate_digest, hex, NOT_FOUND
//     without a certificate.
func (t *TLS) connection(name string) ([]byte, bool) {
	switch name {
	case "mtls":
		return []byte{boolByte(t != nil && t.Peer != nil)}, true
	case "requested_server_name":
		return nil, true
	}
	if t == nil {
		return nil, false
	}
	p := t.Peer
	if p == nil {
		p = &PeerCertificate{}
	}
	switch name {
	case "tls_version":
		return []byte(t.Version), true
	case "subject_peer_certificate":
		return []byte(p.Subject), true
	case "uri_san_peer_certificate":
		return first(p.URISANs)
	case "dns_san_peer_certificate":
		return first(p.DNSSANs)
	case "sha256_peer_certificate_digest":
		return []byte(p.SHA256), p.SHA256 != ""
	}
	return nil, false
}

func first(sans []string) ([]byte, bool) {
	if len(sans) == 0 {
		return nil, false
	}
	return []byte(sans[0]), true
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// peer is Envoy's PeerWrapper: "address" is the whole "ip:port", "port" the
// port as an int64.
func peer(addr, name string) ([]byte, bool) {
	if addr == "" {
		return nil, false
	}
	switch name {
	case "address":
		return []byte(addr), true
	case "port":
		_, port, err := net.SplitHostPort(addr)
		p, err2 := strconv.ParseInt(port, 10, 64)
		return int64LE(p, err == nil && err2 == nil)
	}
	return nil, false
}

// node is xds.node, the bootstrap's Node message, readable from the root
// context too. As a whole it is the serialized proto; id and cluster are its
// string fields.
func (vm *VM) node(rest []string) ([]byte, bool) {
	id, cluster := vm.env.cfg.NodeID, vm.env.cfg.NodeCluster
	if len(rest) == 0 {
		var b []byte
		for _, f := range []struct {
			tag byte
			v   string
		}{{0x0a, id}, {0x12, cluster}} {
			if f.v != "" {
				b = append(b, f.tag)
				b = binary.AppendUvarint(b, uint64(len(f.v)))
				b = append(b, f.v...)
			}
		}
		return b, true
	}
	switch rest[0] {
	case "id":
		return leaf([]byte(id), true, rest[1:])
	case "cluster":
		return leaf([]byte(cluster), true, rest[1:])
	}
	return nil, false
}

// setProperty is Envoy's Context::setProperty: the value is stored as filter
// state under the whole path ("wasm." + path, NULs included), so only a
// one-segment path can be read back. The root context has no stream info:
// NOT_FOUND.
func (vm *VM) setProperty(path string, value []byte) status {
	st := vm.stream()
	if st == nil {
		return statusNotFound
	}
	if st.filterState == nil {
		st.filterState = map[string][]byte{}
	}
	// A key set again keeps its string and its value's array.
	old, ok := st.filterState[path]
	if !ok {
		path = strings.Clone(path)
	}
	st.filterState[path] = append(old[:0], value...)
	return statusOK
}
