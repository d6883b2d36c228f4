package main

import (
	"flag"
	"time"

	"github.com/apiguard/apiguard/e2e/gateway"
)

// serveFlags are the codec's limits and timeouts, named and defaulted as
// Envoy's HttpConnectionManager settings.
type serveFlags struct {
	headersKB, headersCount                   int
	streamIdle, request, requestHeaders, idle time.Duration
	route                                     time.Duration
	useRemoteAddress                          bool
	bufferLimit                               int
}

func (s *serveFlags) register() {
	flag.IntVar(&s.headersKB, "max-request-headers-kb", 60, "request header block limit in KiB, as Envoy's max_request_headers_kb (431 beyond)")
	flag.IntVar(&s.headersCount, "max-headers-count", 100, "request header count limit, as Envoy's max_headers_count (431 beyond)")
	flag.DurationVar(&s.streamIdle, "stream-idle-timeout", 5*time.Minute, "Envoy's stream_idle_timeout: a request with no activity for this long is answered 408 (0 disables)")
	flag.DurationVar(&s.request, "request-timeout", 0, "Envoy's request_timeout: time to receive the whole request (0 disables)")
	flag.DurationVar(&s.requestHeaders, "request-headers-timeout", 0, "Envoy's request_headers_timeout: time to receive the request headers (0 disables)")
	flag.DurationVar(&s.route, "route-timeout", 15*time.Second, "Envoy's route timeout: time from the end of the request to the end of the upstream's response, 504 beyond (0 disables)")
	flag.IntVar(&s.bufferLimit, "buffer-limit-bytes", 1<<20, "Envoy's per_connection_buffer_limit_bytes: the most the plugin may buffer of a body (413 for a request, 500 or a reset for a response beyond)")
	flag.BoolVar(&s.useRemoteAddress, "use-remote-address", false, "Envoy's use_remote_address (off in envoy/envoy.yaml): append the client's address to x-forwarded-for and treat requests as edge requests")
	flag.DurationVar(&s.idle, "idle-timeout", time.Hour, "Envoy's idle_timeout: a connection without a request is closed after this long (0 disables)")
}

// options converts the flags, where 0 disables a timeout as in Envoy, to the
// gateway's settings, where 0 means Envoy's default and negative disables.
func (s serveFlags) options() (gateway.Limits, gateway.Timeouts) {
	off := func(d time.Duration) time.Duration {
		if d <= 0 {
			return -1
		}
		return d
	}
	return gateway.Limits{HeaderBytes: s.headersKB << 10, Headers: s.headersCount},
		gateway.Timeouts{StreamIdle: off(s.streamIdle), Request: off(s.request), RequestHeaders: off(s.requestHeaders), Idle: off(s.idle), Route: off(s.route)}
}
