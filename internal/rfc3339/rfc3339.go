// Package rfc3339 writes timestamps as time.RFC3339Nano does, in UTC, into
// the caller's buffer. time.Format interprets its layout on every call and
// returns a new string: in wasm that was 1.3 µs and an allocation in each
// audit record, which the audit trail writes per stream.
package rfc3339

import "time"

// Append appends t in UTC as time.Time.Format(time.RFC3339Nano) writes it:
// 2006-01-02T15:04:05.999999999Z, the fraction's trailing zeros dropped, and
// the fraction too when it is zero.
func Append(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	if year < 0 {
		b = append(b, '-')
		year = -year
	}
	// One loop over the fields, not a call per field: each call of
	// appendPadded would be inlined, and wasm code is large per line.
	fields := [...]struct {
		v, width int
		sep      byte
	}{{year, 4, '-'}, {int(month), 2, '-'}, {day, 2, 'T'}, {hour, 2, ':'}, {minute, 2, ':'}, {second, 2, 0}}
	for _, f := range fields {
		b = appendPadded(b, f.v, f.width)
		if f.sep != 0 {
			b = append(b, f.sep)
		}
	}
	if ns := t.Nanosecond(); ns != 0 {
		digits := 9
		for ns%10 == 0 {
			ns /= 10
			digits--
		}
		b = append(b, '.')
		b = appendPadded(b, ns, digits)
	}
	return append(b, 'Z')
}

// appendPadded appends v (not negative) in decimal, zero-padded to width.
func appendPadded(b []byte, v, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v >= 10 || width > 1 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	buf[i] = byte('0' + v)
	return append(b, buf[i:]...)
}
