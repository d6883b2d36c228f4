// Package rls speaks the Envoy rate limit service's protocol
// (envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit): it encodes a
// RateLimitRequest and decodes a RateLimitResponse (the messages, without
// gRPC's framing, which is the transport's).
//
// The messages are written and read field by field (wire.go) rather than
// through generated types: the generated ones would pull the
// reflection-based protobuf runtime and Envoy's API packages into
// plugin.wasm for three messages. The tests check every field against the
// generated types of github.com/envoyproxy/go-control-plane.
package rls

import (
	"errors"
	"time"
)

// Service and Method name the call.
const (
	Service = "envoy.service.ratelimit.v3.RateLimitService"
	Method  = "ShouldRateLimit"
)

// Entry is one key/value of a descriptor (RateLimitDescriptor.Entry).
type Entry struct {
	Key, Value string
}

// Code is a RateLimitResponse.Code.
type Code uint8

// The codes the service answers.
const (
	// Unknown is what an answer without a code decodes to.
	Unknown Code = iota
	OK
	OverLimit
)

// Unit is a RateLimitResponse.RateLimit.Unit; its values are the proto's.
type Unit uint8

// Units, numbered as in rls.proto (WEEK was added last, as 7).
const (
	UnitUnknown Unit = 0
	Second      Unit = 1
	Minute      Unit = 2
	Hour        Unit = 3
	Day         Unit = 4
	Month       Unit = 5
	Year        Unit = 6
	Week        Unit = 7
)

// Seconds is the unit's length in seconds, 0 when unknown (months and years
// as the service counts them: 30 and 365 days).
func (u Unit) Seconds() int64 {
	switch u {
	case Second:
		return 1
	case Minute:
		return 60
	case Hour:
		return 3600
	case Day:
		return 86400
	case Week:
		return 7 * 86400
	case Month:
		return 30 * 86400
	case Year:
		return 365 * 86400
	}
	return 0
}

// Status is one descriptor's answer (RateLimitResponse.DescriptorStatus).
type Status struct {
	Code Code
	// HasLimit: the service named the limit that applied (current_limit);
	// a descriptor no configured limit matches has none.
	HasLimit        bool
	Name            string
	RequestsPerUnit uint32
	Unit            Unit
	Remaining       uint32
	// UntilReset is duration_until_reset, 0 when absent.
	UntilReset time.Duration
}

// Response is what apiguard reads of a RateLimitResponse.
type Response struct {
	Overall  Code
	Statuses []Status
}

// AppendRequest appends a RateLimitRequest for domain with one descriptor of
// entries to b.
func AppendRequest(b []byte, domain string, entries []Entry) []byte {
	descriptor := 0
	for _, e := range entries {
		n := stringField(1, e.Key) + stringField(2, e.Value)
		descriptor += sizeTag(1) + sizeBytes(n)
	}
	b = appendString(b, 1, domain)
	b = appendTag(b, 2, bytesType)
	b = appendVarint(b, uint64(descriptor))
	for _, e := range entries {
		b = appendTag(b, 1, bytesType)
		b = appendVarint(b, uint64(stringField(1, e.Key)+stringField(2, e.Value)))
		b = appendString(b, 1, e.Key)
		b = appendString(b, 2, e.Value)
	}
	return b
}

// stringField is the encoded size of a string field, 0 for "" (proto3 omits
// empty strings).
func stringField(num int, s string) int {
	if s == "" {
		return 0
	}
	return sizeTag(num) + sizeBytes(len(s))
}

func appendString(b []byte, num int, s string) []byte {
	if s == "" {
		return b
	}
	b = appendTag(b, num, bytesType)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

// maxStatuses bounds the statuses decoded: apiguard sends one descriptor,
// and a service answering thousands is broken, not generous.
const maxStatuses = 64

// Errors of DecodeResponse.
var (
	ErrMalformed   = errors.New("malformed RateLimitResponse")
	ErrTooManyRows = errors.New("RateLimitResponse has too many statuses")
)

// DecodeResponse reads a RateLimitResponse. Fields apiguard does not use are
// skipped; a malformed message is an error, never a panic.
func DecodeResponse(msg []byte) (Response, error) {
	var r Response
	err := fields(msg, func(num int, typ wireType, v uint64, b []byte) error {
		switch {
		case num == 1 && typ == varintType:
			r.Overall = code(v)
		case num == 2 && typ == bytesType:
			if len(r.Statuses) == maxStatuses {
				return ErrTooManyRows
			}
			st, err := decodeStatus(b)
			if err != nil {
				return err
			}
			r.Statuses = append(r.Statuses, st)
		}
		return nil
	})
	return r, err
}

func decodeStatus(msg []byte) (Status, error) {
	var st Status
	err := fields(msg, func(num int, typ wireType, v uint64, b []byte) error {
		switch {
		case num == 1 && typ == varintType:
			st.Code = code(v)
		case num == 2 && typ == bytesType:
			st.HasLimit = true
			return fields(b, func(num int, typ wireType, v uint64, b []byte) error {
				switch {
				case num == 1 && typ == varintType:
					st.RequestsPerUnit = uint32(v)
				case num == 2 && typ == varintType && v <= uint64(Week):
					st.Unit = Unit(v)
				case num == 3 && typ == bytesType:
					st.Name = string(b)
				}
				return nil
			})
		case num == 3 && typ == varintType:
			st.Remaining = uint32(v)
		case num == 4 && typ == bytesType:
			var secs, nanos int64
			err := fields(b, func(num int, typ wireType, v uint64, _ []byte) error {
				switch {
				case num == 1 && typ == varintType:
					secs = int64(v)
				case num == 2 && typ == varintType:
					nanos = int64(int32(v))
				}
				return nil
			})
			if err != nil {
				return err
			}
			st.UntilReset = duration(secs, nanos)
		}
		return nil
	})
	return st, err
}

// duration converts a google.protobuf.Duration, clamped to [0, 100 years]:
// a negative or absurd reset is the service's bug, not a reason to overflow.
func duration(secs, nanos int64) time.Duration {
	const maxSecs = 100 * 365 * 86400
	switch {
	case secs < 0 || secs == 0 && nanos < 0:
		return 0
	case secs > maxSecs:
		return maxSecs * time.Second
	}
	return time.Duration(secs)*time.Second + time.Duration(nanos)
}

func code(v uint64) Code {
	if v > uint64(OverLimit) {
		return Unknown
	}
	return Code(v)
}

// fields calls f for each field of msg: varints with v set, length-delimited
// fields with b set; fixed-width and group fields are skipped.
func fields(msg []byte, f func(num int, typ wireType, v uint64, b []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := consumeTag(msg)
		if n < 0 {
			return ErrMalformed
		}
		msg = msg[n:]
		var v uint64
		var b []byte
		switch typ {
		case varintType:
			v, n = consumeVarint(msg)
		case bytesType:
			b, n = consumeBytes(msg)
		default:
			n = skipValue(num, typ, msg, 0)
		}
		if n < 0 {
			return ErrMalformed
		}
		msg = msg[n:]
		if typ == varintType || typ == bytesType {
			if err := f(num, typ, v, b); err != nil {
				return err
			}
		}
	}
	return nil
}
