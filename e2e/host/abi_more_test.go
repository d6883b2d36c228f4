package host

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Properties follow Envoy's Context::getProperty and the attribute tables of
// source/extensions/filters/common/expr/context.cc: request attributes read
// the live request map (the plugin's rewrite shows), and are NOT_FOUND once it
// is released, except in on_log. set_property stores the whole path; lookups
// use the first segment only.
func TestPropertiesReadTheLiveRequest(t *testing.T) {
	start := time.Unix(1_700_000_000, 123)
	_, vms := startProbe(t, Config{Clock: NewFakeClock(start), NodeID: "node-1", NodeCluster: "edge"}, 1)
	info := StreamInfo{SourceAddress: "203.0.113.7:51000", DestinationAddress: "10.0.0.2:8443",
		UpstreamAddress: "10.1.2.3:8080", RouteName: "orders", ClusterName: "orders-svc"}
	reqCalls := []struct{ call, want string }{
		{"replace,0,:path,/v2/orders?id=7#frag", "0"},
		{"prop,request.path", "0=/v2/orders?id=7#frag"},
		{"prop,request.url_path", "0=/v2/orders"},
		{"prop,request.query", "0=id=7"},
		{"prop,request.host", "0=api.example.com"},
		{"prop,request.method", "0=GET"},
		{"prop,request.scheme", "0=https"},
		{"prop,request.useragent", "0=probe/1"},
		{"prop,request.id", "1"},
		{"prop,request.protocol", "0=HTTP/1.1"},
		{"propint,request.time", "0=" + strconv.FormatInt(start.UnixNano(), 10)},
		{"prop,request.headers.x-dup", "0=a,b"},
		{"prop,request.headers.x-none", "1"},
		{"prop,source.address", "0=203.0.113.7:51000"},
		{"propint,source.port", "0=51000"},
		{"prop,destination.address", "0=10.0.0.2:8443"},
		{"propint,destination.port", "0=8443"},
		{"prop,upstream.address", "1"},
		{"prop,xds.route_name", "0=orders"},
		{"prop,xds.cluster_name", "0=orders-svc"},
		{"prop,xds.node.id", "0=node-1"},
		{"prop,xds.node", "0=\x0a\x06node-1\x12\x04edge"},
		{"prop,plugin_name", "0=probe"},
		{"prop,plugin_name.x", "1"},
		{"prop,route_name", "1"},
		{"propint,response.code", "1"},
		{"setprop,my.key,v1", "0"},
		{"prop,my.key", "1"},
		{"prop,my", "1"},
		{"setprop,flat,v2", "0"},
		{"prop,flat", "0=v2"},
		{"prop,flat.sub", "1"},
	}
	respCalls := "prop,request.path;propmap,request.headers;prop,upstream.address;propint,upstream.port;" +
		"propint,response.code;prop,response.code_details;propmap,response.headers"
	logCalls := "prop,request.path;prop,response.headers.x-r"
	var script, want []string
	for _, c := range reqCalls {
		script, want = append(script, c.call), append(want, c.want)
	}
	h := callsHeaders(strings.Join(script, ";"), [2]string{"user-agent", "probe/1"},
		[2]string{"x-dup", "a"}, [2]string{"x-dup", "b"},
		[2]string{"x-probe-response-calls", respCalls}, [2]string{"x-probe-log-calls", logCalls})
	s := startCalls(t, vms[0], info, h, true)
	expectAnswers(t, answers(t, s, "probe_result"), want...)
	if v, ok := s.FilterState("my\x00key"); !ok || v != "v1" {
		t.Errorf("filter state under the whole path = %q, %v", v, ok)
	}

	if _, err := s.ResponseHeaders(Headers{{":status", "200"}, {"x-r", "a"}, {"x-r", "b"}}, true); err != nil {
		t.Fatal(err)
	}
	expectAnswers(t, answers(t, s, "probe_response_result"),
		"1", "0=", "0=10.1.2.3:8080", "0=8080", "0=200", "0=via_upstream", "0=:status:200/x-r:a,b/x-probe-response-seen:1")
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	expectAnswers(t, answers(t, s, "probe_log_result"), "0=/v2/orders?id=7#frag", "0=a,b")
}

// Metrics follow Envoy's Context::defineMetric, incrementMetric, recordMetric
// and getMetric: ids carry the type in their low two bits and every define
// hands out a new one (source/extensions/common/wasm/wasm.h), all naming the
// one process-wide stat; record adds to a counter; get on a histogram is
// BAD_ARGUMENT.
func TestMetricsFollowEnvoy(t *testing.T) {
	env, vms := startProbe(t, Config{}, 2)
	// The probe's start defined counters of its own, so ids are compared
	// with each other, not with fixed numbers.
	s := startCalls(t, vms[0], StreamInfo{}, callsHeaders("define,0,c;define,0,c;define,1,g;define,2,h;define,3,x"), true)
	ids := metricIDs(t, answers(t, s, "probe_result")[:4])
	if ids[0]&3 != 0 || ids[1] != ids[0]+4 || ids[2]&3 != 1 || ids[3]&3 != 2 {
		t.Errorf("ids %v: want a counter (low bits 0), the same name again 4 higher, a gauge (1), a histogram (2)", ids)
	}
	if got := answers(t, s, "probe_result")[4]; got != "2" {
		t.Errorf("define of type 3: %s, want BAD_ARGUMENT", got)
	}
	calls := []struct{ call, want string }{
		{"inc,c,2", "0"},
		{"record,c,5", "0"},
		{"getmetric,c", "0=7"},
		{"inc,c,0", "2"},
		{"inc,c,-1", "2"},
		{"inc,g,5", "0"},
		{"inc,g,-2", "0"},
		{"getmetric,g", "0=3"},
		{"record,g,9", "0"},
		{"getmetric,g", "0=9"},
		{"record,h,9", "0"},
		{"getmetric,h", "2"},
		{"inc,h,1", "2"},
	}
	var script, want []string
	for _, c := range calls {
		script, want = append(script, c.call), append(want, c.want)
	}
	s = startCalls(t, vms[0], StreamInfo{}, callsHeaders(strings.Join(script, ";")), true)
	expectAnswers(t, answers(t, s, "probe_result"), want...)
	// Another worker's ids are its own, and name the same stat.
	s = startCalls(t, vms[1], StreamInfo{}, callsHeaders("define,0,c;getmetric,c"), true)
	if got := answers(t, s, "probe_result"); len(got) != 2 || got[1] != "0=7" {
		t.Errorf("worker 1 reads c as %v, want 7", got)
	}
	if v, ok := env.Metric("c"); !ok || v != 7 {
		t.Errorf("counter c = %d, %v; want 7", v, ok)
	}
}

// metricIDs parses the ids of successful define answers ("0=ID").
func metricIDs(t *testing.T, answers []string) []uint32 {
	t.Helper()
	var ids []uint32
	for _, a := range answers {
		n, err := strconv.ParseUint(strings.TrimPrefix(a, "0="), 10, 32)
		if err != nil || !strings.HasPrefix(a, "0=") {
			t.Fatalf("define answered %q", a)
		}
		ids = append(ids, uint32(n))
	}
	return ids
}

// Minor differences: proxy_log refuses a level above critical (cpp-host
// src/exports.cc log); get_status keeps the last failure of an http call
// (Envoy Context::onHttpCallFailure sets it, a success does not clear it);
// malformed header pairs are an empty map (PairsUtil::toPairs), so
// set_header_map_pairs clears the map.
func TestLogStatusAndPairsDetails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	// A reset after the headers is the async client's onFailure(Reset).
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-length", "100")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	defer reset.Close()
	_, vms := startProbe(t, Config{Clusters: map[string]string{"up": srv.URL, "reset": reset.URL}}, 1)
	vm := vms[0]
	script := func(calls string) []string {
		t.Helper()
		s := startCalls(t, vm, StreamInfo{}, callsHeaders(calls), true)
		defer s.Finish()
		return answers(t, s, "probe_result")
	}
	expectAnswers(t, script("log,5;log,6;log,4294967295"), "0", "2", "2")
	expectAnswers(t, script("status"), "0=<nil>/code=0")
	call := func(cluster string, wantStatus int) {
		t.Helper()
		res := vm.RoundTrip(probe("call", [2]string{"x-probe-cluster", cluster}), okUpstream)
		if res.Status != wantStatus {
			t.Fatalf("call to %s: status %d %s", cluster, res.Status, res.Body)
		}
	}
	call("reset", 502)
	expectAnswers(t, script("status"), "0=<nil>/code=11")
	call("up", 200)
	expectAnswers(t, script("status"), "0=<nil>/code=11")
	expectAnswers(t, script("setpairs,0,garbage;pairs,0;setpairs,0,a=1/b=2;get,0,b"), "0", "0=<nil>", "0", "0=2")
}

// Envoy's Context::httpCall reads the timeout as an int: 2^31 ms or more is
// negative, BAD_ARGUMENT. The tick period has no such limit.
func TestHTTPCallTimeoutOf2To31MillisecondsIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, vms := startProbe(t, Config{Clusters: map[string]string{"up": srv.URL}}, 1)
	tests := []struct {
		timeout    string
		wantStatus int
	}{
		{timeout: "2147483647", wantStatus: 200},
		{timeout: "2147483648", wantStatus: 503},
	}
	for _, tc := range tests {
		t.Run(tc.timeout, func(t *testing.T) {
			res := vms[0].RoundTrip(probe("call", [2]string{"x-probe-cluster", "up"}, [2]string{"x-probe-timeout", tc.timeout}), okUpstream)
			if res.Status != tc.wantStatus {
				t.Errorf("status %d %s, want %d", res.Status, res.Body, tc.wantStatus)
			}
		})
	}
}

func TestMalformedPairsAreAnEmptyMap(t *testing.T) {
	good := serializeHeaders(Headers{{"a", "1"}, {"b", "2"}})
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{name: "well formed", in: good, want: 2},
		{name: "truncated", in: good[:len(good)-1]},
		{name: "trailing byte", in: append(append([]byte(nil), good...), 0)},
		{name: "key without its NUL", in: func() []byte {
			b := append([]byte(nil), good...)
			b[4+8*2+1] = 'x' // the NUL after "a"
			return b
		}()},
		{name: "count beyond the data", in: []byte{9, 0, 0, 0}},
		{name: "empty", in: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := deserializeHeaders(tc.in); len(got) != tc.want {
				t.Errorf("%d pairs, want %d", len(got), tc.want)
			}
		})
	}
}

// TestConnectionPropertiesFollowTheTLSSession: connection.* as Envoy's
// ConnectionWrapper and SSL extractors answer them for a plaintext
// connection, plain TLS and mutual TLS: mtls a one-byte bool, always found;
// the certificate's fields NOT_FOUND on plaintext; the subject "" without a
// client certificate (an empty value, which the probe shows as <nil>); only
// the first URI and DNS SAN.
func TestConnectionPropertiesFollowTheTLSSession(t *testing.T) {
	_, vms := startProbe(t, Config{}, 1)
	script := "prop,connection.mtls;prop,connection.requested_server_name;prop,connection.tls_version;" +
		"prop,connection.subject_peer_certificate;prop,connection.uri_san_peer_certificate;" +
		"prop,connection.dns_san_peer_certificate;prop,connection.sha256_peer_certificate_digest;prop,connection.mtls.x;prop,connection.nope"
	client := &PeerCertificate{
		URISANs: []string{"spiffe://cluster.local/ns/orders/sa/billing", "spiffe://cluster.local/ns/orders/sa/other"},
		DNSSANs: []string{"billing.orders.svc", "billing"}, Subject: "CN=billing,O=orders", SHA256: "9f86d081884c7d65",
	}
	for _, tc := range []struct {
		name string
		tls  *TLS
		want []string
	}{
		{name: "plaintext", want: []string{"0=\x00", "0=<nil>", "1", "1", "1", "1", "1", "1", "1"}},
		{name: "plain TLS", tls: &TLS{Version: "TLSv1.3"}, want: []string{"0=\x00", "0=<nil>", "0=TLSv1.3", "0=<nil>", "1", "1", "1", "1", "1"}},
		{name: "mutual TLS", tls: &TLS{Version: "TLSv1.2", Peer: client}, want: []string{"0=\x01", "0=<nil>", "0=TLSv1.2", "0=CN=billing,O=orders",
			"0=spiffe://cluster.local/ns/orders/sa/billing", "0=billing.orders.svc", "0=9f86d081884c7d65", "1", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startCalls(t, vms[0], StreamInfo{SourceAddress: "203.0.113.7:51000", TLS: tc.tls}, callsHeaders(script), true)
			expectAnswers(t, answers(t, s, "probe_result"), tc.want...)
			if err := s.Finish(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
