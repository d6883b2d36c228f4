package host

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The probe's "calls" action runs a script of raw host calls in each callback
// and stores the answers (status, or status=value) as filter state; these
// tests read them and compare with what Envoy and proxy-wasm-cpp-host answer.

// callsHeaders is a request whose request-headers callback runs script.
func callsHeaders(script string, extra ...[2]string) Headers {
	h := Headers{{":method", "GET"}, {":path", "/probe?x=1"}, {":authority", "api.example.com"}, {":scheme", "https"},
		{"x-probe-action", "calls"}, {"x-probe-calls", script}}
	return append(h, extra...)
}

// answers returns a callback's answers, one per call of its script.
func answers(t *testing.T, s *Stream, key string) []string {
	t.Helper()
	v, ok := s.FilterState(key)
	if !ok {
		t.Fatalf("the probe stored no %s", key)
	}
	return strings.Split(v, ";")
}

func expectAnswers(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("answers\n got %q\nwant %q", got, want)
	}
}

// startCalls runs the request headers of a calls stream on vm.
func startCalls(t *testing.T, vm *VM, info StreamInfo, h Headers, endOfStream bool) *Stream {
	t.Helper()
	s, err := vm.NewStream(info)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestHeaders(h, endOfStream); err != nil {
		t.Fatal(err)
	}
	return s
}

// Envoy joins a repeated inline header into one value
// (source/common/http/header_map_impl.cc HeaderMapImpl::insertByKey,
// appendToHeader), both as the codec builds the request and when the plugin
// adds one (Context::addHeaderMapValue → addCopy). "authorization" is inline
// only when an extension (oauth2, cache) registers it.
func TestRepeatedInlineHeadersAreJoined(t *testing.T) {
	client := []([2]string){{"authorization", "Bearer a"}, {"authorization", "Bearer b"},
		{"user-agent", "one"}, {"user-agent", "two"}, {"x-custom", "c1"}, {"x-custom", "c2"}}
	script := "get,0,authorization;get,0,user-agent;get,0,x-custom;get,0,host;" +
		"add,0,x-forwarded-for,10.0.0.1;add,0,x-forwarded-for,;add,0,x-forwarded-for,10.0.0.2;get,0,x-forwarded-for;" +
		"replace,0,user-agent,three;get,0,user-agent;size,0"
	tests := []struct {
		name      string
		inline    []string
		wantAuth  string
		wantAuthN int
	}{
		{name: "core inline set", wantAuth: "0=Bearer a", wantAuthN: 2},
		{name: "authorization registered by an extension", inline: []string{"authorization"},
			wantAuth: "0=Bearer a,Bearer b", wantAuthN: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, vms := startProbe(t, Config{InlineRequestHeaders: tc.inline}, 1)
			s := startCalls(t, vms[0], StreamInfo{}, callsHeaders(script, client...), true)
			up := s.UpstreamRequestHeaders()
			// get_header_map_size is byteSize(): key and value bytes, not
			// entries and not the serialized length.
			byteSize := 0
			for _, kv := range up {
				byteSize += len(kv[0]) + len(kv[1])
			}
			expectAnswers(t, answers(t, s, "probe_result"), tc.wantAuth, "0=one,two", "0=c1", "0=api.example.com",
				"0", "0", "0", "0=10.0.0.1,10.0.0.2", "0", "0=three", "0="+strconv.Itoa(byteSize))
			if n := len(up.Values("authorization")); n != tc.wantAuthN {
				t.Errorf("%d authorization entries reached the upstream, want %d", n, tc.wantAuthN)
			}
			if !strings.HasPrefix(up[0][0], ":") || up.Values("user-agent")[0] != "three" {
				t.Errorf("upstream headers %v", up)
			}
		})
	}
}

func TestInsertKeepsPseudoHeadersFirst(t *testing.T) {
	r := requestRules(nil)
	h := Headers{{":method", "GET"}, {"a", "1"}}
	r.add(&h, ":path", "/x")
	r.add(&h, "host", "example.com")
	want := Headers{{":method", "GET"}, {":path", "/x"}, {":authority", "example.com"}, {"a", "1"}}
	if len(h) != len(want) {
		t.Fatalf("got %v, want %v", h, want)
	}
	for i := range want {
		if h[i] != want[i] {
			t.Errorf("entry %d: %q, want %q", i, h[i], want[i])
		}
	}
}

// copyToPointerSize (cpp-host include/proxy-wasm/wasm.h) writes pointer 0 for
// an empty value; get_header_map_pairs returns an empty map the same way;
// get_buffer_bytes past the end is OK and empty (src/exports.cc).
func TestEmptyResultsArePointerZero(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	h := callsHeaders("get,0,x-empty;pairs,1;pairs,6;prop,request.query;status;body,0,0,10;body,4,0,1",
		[2]string{"x-empty", ""}, [2]string{"x-probe-body-calls", "body,0,10,5;body,0,0,3;body,0,2,100;body,0,6,0"})
	h[1][1] = "/probe"
	s := startCalls(t, vms[0], StreamInfo{}, h, false)
	expectAnswers(t, answers(t, s, "probe_result"),
		"0=<nil>", "0=<nil>", "0=<nil>", "0=<nil>", "0=<nil>/code=0",
		"0=<nil>", // no body has arrived: Envoy's body buffer is empty, not missing
		"1")       // no http-call response: NOT_FOUND
	if _, _, err := s.RequestBody([]byte("abcdef"), true); err != nil {
		t.Fatal(err)
	}
	expectAnswers(t, answers(t, s, "probe_body_result"), "0=<nil>", "0=abc", "0=cdef", "0=<nil>")
}

// Envoy's Context::continueStream drops the request headers, body and
// trailers at once, for either direction; the maps are then BAD_ARGUMENT to
// change and read (getMap/getConstMap return null), pairs are empty, the
// request properties are NOT_FOUND and request.headers an empty map. on_log reads the access log's headers,
// which include the plugin's edits.
func TestContinueStreamReleasesTheRequest(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	h := callsHeaders("get,0,:path;replace,0,:path,/rewritten;prop,request.path;continue,0;"+
		"get,0,:path;add,0,x-late,1;pairs,0;size,0;prop,request.path;propmap,request.headers;prop,request.headers.x-probe-action;continue,2;continue,3;continue,4",
		[2]string{"x-probe-pause", "1"},
		[2]string{"x-probe-response-calls", "get,0,:path;get,2,:status;prop,request.path;propint,response.code"},
		[2]string{"x-probe-log-calls", "get,0,:path;add,0,x-log,1;get,1,x;prop,request.path;prop,request.url_path"})
	s := startCalls(t, vms[0], StreamInfo{}, h, true)
	expectAnswers(t, answers(t, s, "probe_result"),
		"0=/probe?x=1", "0", "0=/rewritten", "0",
		"2", "2", "0=<nil>", "2", "1", "0=", "1", "0", "12", "2")
	if act, err := s.Wait(time.Second); act != Continue || err != nil {
		t.Fatalf("continue_stream did not resume the stream: %v %v", act, err)
	}
	if p, _ := s.UpstreamRequestHeaders().Get(":path"); p != "/rewritten" {
		t.Errorf("upstream :path %q", p)
	}
	if _, err := s.ResponseHeaders(Headers{{":status", "200"}}, true); err != nil {
		t.Fatal(err)
	}
	expectAnswers(t, answers(t, s, "probe_response_result"), "2", "0=200", "1", "0=200")
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	// The filter state outlives on_log only in this host; read it from the
	// stream, which Finish has removed from the VM but not cleared.
	expectAnswers(t, answers(t, s, "probe_log_result"), "0=/rewritten", "2", "1", "0=/rewritten", "0=/rewritten")
}

// A local reply to a request the plugin paused leaves the request headers
// unreleased: Envoy drops them only on Continue or continue_stream, so the
// reply's response callbacks can still read them.
func TestALocalReplyLeavesUncontinuedRequestHeadersReadable(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	h := callsHeaders("reply,403", [2]string{"x-probe-response-calls", "get,0,:path;prop,request.path;get,2,:status"})
	s := startCalls(t, vms[0], StreamInfo{}, h, true)
	expectAnswers(t, answers(t, s, "probe_result"), "0")
	if act, err := s.Wait(time.Second); act != Reply || err != nil {
		t.Fatalf("got %v %v, want the local reply", act, err)
	}
	if _, _, err := s.EncodeLocalReply(); err != nil {
		t.Fatal(err)
	}
	expectAnswers(t, answers(t, s, "probe_response_result"), "0=/probe?x=1", "0=/probe?x=1", "0=403")
}

// Response maps join repeated inline headers too: the plugin's headers on a
// local reply (Context::sendLocalResponse adds them with addCopy) and an http
// call's response as the codec builds it.
func TestResponseMapsJoinInlineHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Via", "1.1 a")
		w.Header().Add("Via", "1.1 b")
		w.Header().Add("X-Other", "1")
	}))
	defer srv.Close()
	_, vms := startProbe(t, Config{Clusters: map[string]string{"up": srv.URL}}, 1)
	res := vms[0].RoundTrip(probe("call", [2]string{"x-probe-cluster", "up"}), okUpstream)
	if via, _ := res.Upstream.Headers.Get("x-probe-call-via"); via != "1.1 a,1.1 b" {
		t.Errorf("the plugin saw via entries %q, want one joined entry", via)
	}

	s := startCalls(t, vms[0], StreamInfo{}, callsHeaders("reply,403,via=x/via=y/x-r=1/x-r=2"), true)
	if act, err := s.Wait(time.Second); act != Reply || err != nil {
		t.Fatalf("got %v %v, want the local reply", act, err)
	}
	h, _, err := s.EncodeLocalReply()
	if err != nil {
		t.Fatal(err)
	}
	if via := h.Values("via"); len(via) != 1 || via[0] != "x,y" {
		t.Errorf("via %q, want one joined value", via)
	}
	if xr := h.Values("x-r"); len(xr) != 2 {
		t.Errorf("x-r %q, want two entries", xr)
	}
}
