package config

import "github.com/tidwall/gjson"

// trace, set only by this package's tests, sees every object read and every
// map and array walked, so that the configuration reference (CONFIG.md) is
// checked against what the parser knows rather than against a copy of it.
// Reading runs once, at start; unset, it costs a nil check per call.
var trace interface {
	object(path string, keys []string, reads []func(string, gjson.Result))
	keys(path string, v gjson.Result)
	elements(path string, v gjson.Result)
}

// traceObject hands the trace an object's keys and readers rather than its
// Fields: a map passed to an interface method escapes to the heap, in every
// caller's literal, trace or not.
func traceObject(path string, fields Fields) {
	keys := make([]string, 0, len(fields))
	reads := make([]func(string, gjson.Result), 0, len(fields))
	for k, f := range fields {
		keys = append(keys, k)
		reads = append(reads, f.Read)
	}
	trace.object(path, keys, reads)
}
