// Package replay is the host-call floor of a stream: the host calls one
// stream of a plugin made, in order and with their arguments, as the e2e
// host records them (host.VM.Record), for e2e/replayplugin to make again on
// every stream and do nothing else. What the replay costs above the null
// plugin is what those calls cost in an engine, whoever makes them; what the
// plugin costs above the replay is its own work.
package replay

// Script is one recorded stream.
type Script struct {
	// Metrics are the metrics the calls add to, defined when the replay
	// starts; a metric call names one by its place here.
	Metrics []Metric `json:"metrics,omitempty"`
	// Steps are the stream's callbacks, in the order the host ran them.
	Steps []Step `json:"steps"`
}

// Metric is a metric as proxy_define_metric defines it.
type Metric struct {
	Kind uint32 `json:"kind"`
	Name string `json:"name"`
}

// Step is one stream callback: the calls it made and what it returned.
type Step struct {
	Callback string `json:"callback"`
	Result   uint32 `json:"result"`
	Calls    []Call `json:"calls,omitempty"`
}

// Call is one host call, its arguments laid out by Params.
type Call struct {
	Fn    string   `json:"fn"`
	Ints  []uint64 `json:"ints,omitempty"`
	Bytes [][]byte `json:"bytes,omitempty"`
}

// Params are the replayable host functions' parameters, in order: 'i' an
// integer passed as it was, 'b' a pointer and a size the host reads bytes
// from, 'o' a pointer the host writes an answer to. A metric call's first
// integer is the metric's place in Script.Metrics, not the host's id; a
// shared-data write is replayed without its CAS version (0: it always
// succeeds, as an uncontended one does). A stream that calls anything else
// cannot be replayed.
var Params = map[string]string{
	"proxy_log":                          "ib",
	"proxy_get_current_time_nanoseconds": "o",
	"proxy_get_property":                 "boo",
	"proxy_set_property":                 "bb",
	"proxy_send_local_response":          "ibbbi",
	"proxy_get_shared_data":              "booo",
	"proxy_set_shared_data":              "bbi",
	"proxy_get_header_map_value":         "iboo",
	"proxy_add_header_map_value":         "ibb",
	"proxy_replace_header_map_value":     "ibb",
	"proxy_remove_header_map_value":      "ib",
	"proxy_get_header_map_pairs":         "ioo",
	"proxy_set_header_map_pairs":         "ib",
	"proxy_get_header_map_size":          "io",
	"proxy_get_buffer_status":            "ioo",
	"proxy_get_buffer_bytes":             "iiioo",
	"proxy_set_buffer_bytes":             "iiib",
	"proxy_continue_stream":              "i",
	"proxy_increment_metric":             "ii",
	"proxy_record_metric":                "ii",
	"clock_time_get":                     "iio",
}

// StreamCallbacks are the callbacks a replay answers step by step, in the
// SDK's stream context; the others (context create, done, delete) must make
// no host call.
var StreamCallbacks = map[string]bool{
	"proxy_on_request_headers": true, "proxy_on_request_body": true, "proxy_on_request_trailers": true,
	"proxy_on_response_headers": true, "proxy_on_response_body": true, "proxy_on_response_trailers": true,
	"proxy_on_log": true,
}
