package host

import "strings"

// Envoy keeps some headers in inline O(1) slots. Adding a header whose slot is
// taken appends the value to it, comma-separated, instead of adding a second
// entry (Envoy source/common/http/header_map_impl.cc, HeaderMapImpl::insertByKey
// and appendToHeader). The codecs build the maps the filters see with that
// insert, and the wasm filter's add_header_map_value, set_header_map_pairs and
// replace_header_map_value use it too (Context::addHeaderMapValue → addCopy,
// replaceHeaderMapValue → setCopy = remove + addCopy).

// envoyInlineRequestHeaders is the static inline set of a request header map:
// INLINE_REQ_HEADERS and INLINE_REQ_RESP_HEADERS in envoy/http/header_map.h,
// with the names of source/common/http/headers.h (default "x-envoy" prefix).
var envoyInlineRequestHeaders = []string{
	// INLINE_REQ_STRING_HEADERS
	"x-client-trace-id", "x-envoy-downstream-service-cluster", "x-envoy-downstream-service-node",
	"x-envoy-external-address", "x-envoy-force-trace", "x-envoy-hedge-on-per-try-timeout",
	"x-envoy-internal", "x-envoy-ip-tags", "x-envoy-retry-on", "x-envoy-retry-grpc-on",
	"x-envoy-retriable-status-codes", "x-envoy-retriable-header-names", "x-envoy-original-path",
	"x-envoy-original-url", "x-envoy-upstream-alt-stat-name", "x-envoy-upstream-rq-timeout-alt-response",
	"expect", "x-forwarded-client-cert", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
	"grpc-timeout", ":authority", ":method", ":path", ":protocol", ":scheme", "te", "user-agent",
	// INLINE_REQ_NUMERIC_HEADERS
	"x-envoy-expected-rq-timeout-ms", "x-envoy-max-retries", "x-envoy-upstream-rq-timeout-ms",
	"x-envoy-upstream-rq-per-try-timeout-ms", "x-envoy-upstream-stream-duration-ms",
	// Registered by the attribute library the wasm filter links
	// (source/extensions/filters/common/expr/context.cc, referer_handle).
	"referer",
}

// envoyInlineRequestResponseHeaders is INLINE_REQ_RESP_HEADERS: inline in both.
var envoyInlineRequestResponseHeaders = []string{
	"connection", "content-type", "x-envoy-decorator-operation", "keep-alive", "proxy-connection",
	"proxy-status", "x-request-id", "transfer-encoding", "upgrade", "via",
	"content-length", "x-envoy-attempt-count",
}

// envoyInlineResponseHeaders is INLINE_RESP_HEADERS and INLINE_RESP_HEADERS_TRAILERS.
var envoyInlineResponseHeaders = []string{
	"date", "x-envoy-degraded", "x-envoy-immediate-health-check-fail", "x-envoy-ratelimited",
	"x-envoy-upstream-canary", "x-envoy-upstream-healthchecked-cluster", "location", "server",
	"x-envoy-upstream-service-time", ":status", "grpc-status", "grpc-message",
}

// mapRules is how one kind of Envoy header map stores what is added to it.
type mapRules struct {
	// inline maps a key with an inline slot to the key the slot is stored
	// under (the request map's static table maps the legacy "host" to
	// ":authority").
	inline map[string]string
}

// Response maps have the same inline set in every Envoy build the host
// models; only the request map's depends on the linked extensions.
var (
	responseRules         = mapRules{inline: inlineSet(envoyInlineResponseHeaders, envoyInlineRequestResponseHeaders)}
	responseTrailerRules  = mapRules{inline: inlineSet([]string{"grpc-status", "grpc-message"})} // INLINE_RESP_HEADERS_TRAILERS
	requestTrailerRules   = mapRules{}
	inlineRequestDefaults = [][]string{envoyInlineRequestHeaders, envoyInlineRequestResponseHeaders}
)

func inlineSet(lists ...[]string) map[string]string {
	m := map[string]string{}
	for _, l := range lists {
		for _, k := range l {
			k = strings.ToLower(k)
			m[k] = k
		}
	}
	return m
}

// requestRules are a request map's rules with extra headers linked
// extensions register.
func requestRules(extraInline []string) mapRules {
	inline := inlineSet(append(inlineRequestDefaults, extraInline)...)
	inline["host"] = ":authority"
	return mapRules{inline: inline}
}

// add inserts key: value as HeaderMapImpl::insertByKey does. An inline key
// whose slot is taken gets the value appended after a comma (an empty value
// appends nothing, and an empty slot takes the value without a comma); any
// other key gets a new entry. Pseudo-headers go after the last pseudo-header,
// as HeaderList::insert keeps them first.
func (r mapRules) add(h *Headers, key, value string) {
	key = strings.ToLower(key)
	if slot, ok := r.inline[key]; ok {
		key = slot
		for i := range *h {
			if (*h)[i][0] != key {
				continue
			}
			switch {
			case value == "":
			case (*h)[i][1] == "":
				(*h)[i][1] = value
			default:
				(*h)[i][1] += "," + value
			}
			return
		}
	}
	if !strings.HasPrefix(key, ":") {
		*h = append(*h, [2]string{key, value})
		return
	}
	at := 0
	for at < len(*h) && strings.HasPrefix((*h)[at][0], ":") {
		at++
	}
	*h = append(*h, [2]string{})
	copy((*h)[at+1:], (*h)[at:])
	(*h)[at] = [2]string{key, value}
}

// key is the key a lookup or removal of k reaches (HeaderMapImpl's static
// lookup table: "host" in a request map is ":authority").
func (r mapRules) key(k string) string {
	k = strings.ToLower(k)
	if slot, ok := r.inline[k]; ok {
		return slot
	}
	return k
}

// set is setCopy: remove every entry of key, then add.
func (r mapRules) set(h *Headers, key, value string) {
	key = r.key(key)
	h.Del(key)
	r.add(h, key, value)
}

// build makes a map from pairs the way a codec does, entry by entry.
func (r mapRules) build(pairs Headers) Headers {
	out := make(Headers, 0, len(pairs))
	for _, kv := range pairs {
		r.add(&out, kv[0], kv[1])
	}
	return out
}

// byteSize is HeaderMapImpl::byteSize: the sum of every key's and value's
// length, what get_header_map_size reports (Context::getHeaderMapSize).
func (h Headers) byteSize() int {
	n := 0
	for _, kv := range h {
		n += len(kv[0]) + len(kv[1])
	}
	return n
}

// The header-map types of the ABI; 4 and 5 are gRPC metadata, which the host
// never has.
const (
	mapRequestHeaders = iota
	mapRequestTrailers
	mapResponseHeaders
	mapResponseTrailers
	mapGRPCInitialMetadata
	mapGRPCTrailingMetadata
	mapCallResponseHeaders
	mapCallResponseTrailers
	maxHeaderMapType = mapCallResponseTrailers
)

// headerMap is Envoy's Context::getMap: the map a mutating call (add,
// replace, remove, set pairs, size) may touch now, and its rules, or nil
// (BAD_ARGUMENT). A released request map stays unavailable, even in on_log;
// the http-call response maps are read-only.
func (vm *VM) headerMap(t uint32) (*Headers, mapRules) {
	st := vm.stream()
	if st == nil {
		return nil, mapRules{}
	}
	switch t {
	case mapRequestHeaders:
		if st.reqHeadersOpen {
			return &st.reqHeaders, vm.env.requestRules
		}
	case mapRequestTrailers:
		if st.reqTrailersOpen {
			return &st.reqTrailers, requestTrailerRules
		}
	case mapResponseHeaders:
		if st.respHeadersOpen {
			return &st.respHeaders, responseRules
		}
	case mapResponseTrailers:
		return &st.respTrailers, responseTrailerRules
	}
	return nil, mapRules{}
}

// constHeaderMap is Envoy's Context::getConstMap: what reads see. In on_log
// the request and response headers are the access log's (as the stream left
// them) and the request trailers are absent.
func (vm *VM) constHeaderMap(t uint32) *Headers {
	switch t {
	case mapCallResponseHeaders:
		if vm.callResp != nil {
			return &vm.callResp.headers
		}
		return nil
	case mapCallResponseTrailers:
		if vm.callResp != nil {
			return &vm.callResp.trailers
		}
		return nil
	}
	st := vm.stream()
	if st == nil || !st.logPhase {
		h, _ := vm.headerMap(t)
		return h
	}
	switch t {
	case mapRequestHeaders:
		return &st.reqHeaders
	case mapResponseHeaders:
		return &st.respHeaders
	case mapResponseTrailers:
		return &st.respTrailers
	}
	return nil
}

// getHeaderValue is Envoy's Context::getHeaderMapValue: the first value of
// key; an unavailable map is BAD_ARGUMENT, or NOT_FOUND in on_log.
func (vm *VM) getHeaderValue(t uint32, key string, retPtr, retSize uint32) status {
	h := vm.constHeaderMap(t)
	if h == nil {
		if st := vm.stream(); st != nil && st.logPhase {
			return statusNotFound
		}
		return statusBadArgument
	}
	rules := vm.env.requestRules
	if t != mapRequestHeaders {
		rules = mapRules{}
	}
	v, found := h.Get(rules.key(key))
	if !found {
		return statusNotFound
	}
	return vm.copyOutString(v, retPtr, retSize)
}

// editMap applies edit to the mutable map t, once the guest's arguments were
// readable.
func (vm *VM) editMap(t uint32, readable bool, edit func(h *Headers, r mapRules)) status {
	h, rules := vm.headerMap(t)
	switch {
	case !readable:
		return statusInvalidMemory
	case h == nil:
		return statusBadArgument
	}
	edit(h, rules)
	vm.headersEdited(t)
	return statusOK
}

// releaseRequest is what Envoy's Context::continueStream does for either
// direction: the request headers, body and trailers are gone, so later host
// calls on them are BAD_ARGUMENT (on_log still reads the headers).
func (s *Stream) releaseRequest() {
	s.reqHeadersOpen, s.reqBodyOpen, s.reqTrailersOpen = false, false, false
}
