// Package route normalizes request paths and matches them against the
// configured routes.
//
// Normalization exists to stop path-confusion bypasses: every request is
// matched on one canonical form, and that same form is forwarded upstream, so
// what a policy authorized is what the upstream serves.
package route

import (
	"strings"
	"unicode/utf8"

	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/verdict"
)

// MaxPathLength bounds the :path normalization will look at; longer paths are
// refused before any work proportional to them.
const MaxPathLength = 8192

// Path is a normalized request target.
type Path struct {
	// Decoded is the normalized path, percent-decoded once, e.g. "/files/a b".
	// It always starts with "/".
	Decoded string
	// Escaped is Decoded re-encoded canonically, for forwarding: "/files/a%20b".
	Escaped string
	// Query is the raw query after the first '?', unchanged.
	Query string
}

// The fixed sentences a BadPath denial carries; none echoes the request.
const (
	detailNotOriginForm  = "path must start with /"
	detailTooLong        = "path too long"
	detailFragment       = "fragment in path"
	detailBadEscape      = "invalid percent-encoding"
	detailEncodedSep     = "encoded slash, backslash or NUL in path"
	detailBackslash      = "backslash in path"
	detailControl        = "control character in path"
	detailDoubleEncoding = "double-encoded path"
	detailUTF8           = "invalid UTF-8 in path"
)

func bad(detail string) (Path, verdict.Decision) {
	return Path{}, verdict.Deny(verdict.BadPath, detail)
}

// Normalize returns the canonical form of an HTTP :path (origin-form), or a
// verdict.BadPath denial. In order:
//   - the path must start with "/", be at most MaxPathLength bytes and carry no
//     fragment; the query (after the first "?") is kept as is, but a raw
//     control character or "#" in it is refused as in the path;
//   - ";params" are stripped from each raw segment ("/admin;x/users" is
//     "/admin/users"); an encoded "%3B" is data, not a delimiter;
//   - percent-escapes are decoded exactly once; an invalid escape, an encoded
//     "/", "\" or NUL, a raw "\", any control character, and a decoded "%XX"
//     (double encoding) are refused, as is invalid or overlong UTF-8;
//   - empty segments are merged ("//") and "." and ".." are resolved after
//     decoding, clamped at the root (RFC 3986 section 5.2.4); a trailing
//     slash is kept.
func Normalize(raw string) (Path, verdict.Decision) {
	if len(raw) > MaxPathLength {
		return bad(detailTooLong)
	}
	if raw == "" || raw[0] != '/' {
		return bad(detailNotOriginForm)
	}
	path, query := splitQuery(raw)
	if detail := queryDetail(query); detail != "" {
		return bad(detail)
	}
	if isCanonical(path) {
		return Path{Decoded: path, Escaped: path, Query: query}, verdict.Decision{}
	}
	decoded, detail := normalizeSlow(path)
	if detail != "" {
		return bad(detail)
	}
	return Path{Decoded: decoded, Escaped: escape(decoded), Query: query}, verdict.Decision{}
}

// splitQuery cuts raw at its first '?'. A plain loop: in wasm, strings.Cut
// costs four calls.
func splitQuery(raw string) (string, string) {
	for i := 0; i < len(raw); i++ {
		if raw[i] == '?' {
			return raw[:i], raw[i+1:]
		}
	}
	return raw, ""
}

// literal reports the bytes that stand for themselves in a canonical path
// segment: RFC 3986 unreserved characters, sub-delims except ";", ":" and "@".
var literal = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!$&'()*+,=:@" {
		t[c] = true
	}
	return t
}()

// isCanonical is the fast path: a path of literal characters with no empty
// (except a trailing one), "." or ".." segment is already normal.
func isCanonical(p string) bool {
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			if !literal[p[i]] {
				return false
			}
			continue
		}
		seg := p[segStart:i]
		if seg == "." || seg == ".." || (seg == "" && i < len(p)) {
			return false
		}
		segStart = i + 1
	}
	return true
}

func isControl(c byte) bool { return c < 0x20 || c == 0x7f }

// queryDetail refuses, in the query that goes upstream byte for byte, what
// the path refuses raw: a control character (a NUL, CR or LF ends a string,
// a header or a request line in the upstream's parser) or a fragment.
// Envoy's codecs never deliver them; another host, or a filter before
// apiguard that rewrites :path, might.
func queryDetail(q string) string {
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case isControl(c):
			return detailControl
		case c == '#':
			return detailFragment
		}
	}
	return ""
}

// normalizeSlow decodes and resolves a path that is not canonical. It returns
// the decoded path, or a denial detail.
func normalizeSlow(p string) (string, string) {
	segs := make([]string, 0, 8)
	trailing := false
	for rest := p[1:]; ; {
		rawSeg, tail, more := strings.Cut(rest, "/")
		if i := strings.IndexByte(rawSeg, ';'); i >= 0 {
			rawSeg = rawSeg[:i]
		}
		seg, detail := decodeSegment(rawSeg)
		if detail != "" {
			return "", detail
		}
		switch seg {
		case "", ".":
			trailing = !more
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
			trailing = !more
		default:
			segs = append(segs, seg)
			trailing = false
		}
		if !more {
			break
		}
		rest = tail
	}
	var b strings.Builder
	b.Grow(len(p))
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing || len(segs) == 0 {
		b.WriteByte('/')
	}
	out := b.String()
	if !utf8.ValidString(out) {
		return "", detailUTF8
	}
	return out, ""
}

// decodeSegment percent-decodes one raw segment and applies the byte rules.
func decodeSegment(raw string) (string, string) {
	if strings.IndexByte(raw, '%') < 0 {
		for i := 0; i < len(raw); i++ {
			if d := rawByteDetail(raw[i]); d != "" {
				return "", d
			}
		}
		return raw, ""
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '%' {
			if d := rawByteDetail(c); d != "" {
				return "", d
			}
			out = append(out, c)
			continue
		}
		if i+2 >= len(raw) {
			return "", detailBadEscape
		}
		hi, ok1 := httpsyntax.Unhex(raw[i+1])
		lo, ok2 := httpsyntax.Unhex(raw[i+2])
		if !ok1 || !ok2 {
			return "", detailBadEscape
		}
		c = hi<<4 | lo
		switch {
		case c == '/' || c == '\\' || c == 0:
			return "", detailEncodedSep
		case isControl(c):
			return "", detailControl
		}
		out = append(out, c)
		i += 2
	}
	for i := 0; i+2 < len(out); i++ {
		if out[i] == '%' {
			if _, ok := httpsyntax.Unhex(out[i+1]); ok {
				if _, ok := httpsyntax.Unhex(out[i+2]); ok {
					return "", detailDoubleEncoding
				}
			}
		}
	}
	return string(out), ""
}

func rawByteDetail(c byte) string {
	switch {
	case c == '\\':
		return detailBackslash
	case c == '#':
		return detailFragment
	case isControl(c):
		return detailControl
	}
	return ""
}

const upperHex = "0123456789ABCDEF"

// escape re-encodes a decoded path: literal bytes and "/" stay, every other
// byte (";", "%", space, "?", "#", non-ASCII) becomes %XX.
func escape(decoded string) string {
	n := 0
	for i := 0; i < len(decoded); i++ {
		if c := decoded[i]; c != '/' && !literal[c] {
			n++
		}
	}
	if n == 0 {
		return decoded
	}
	b := make([]byte, 0, len(decoded)+2*n)
	for i := 0; i < len(decoded); i++ {
		c := decoded[i]
		if c == '/' || literal[c] {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upperHex[c>>4], upperHex[c&15])
	}
	return string(b)
}
