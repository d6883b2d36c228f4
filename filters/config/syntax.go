package config

import (
	"encoding/binary"
	"math/bits"
	"strconv"

	"github.com/apiguard/apiguard/internal/swar"
)

// maxDepth is encoding/json's nesting limit, kept so that a document it
// refused is still refused, and so that nothing reads a deeper one.
const maxDepth = 10000

// checkSyntax reports where data stops being one JSON value (RFC 8259): the
// bytes read up to and including the offending one, and what is wrong there,
// "" when data is valid. Offsets and messages are encoding/json's (its
// checkValid, which json.Unmarshal runs first), so an operator sees the same
// error as before; but this is one pass over the bytes without allocating,
// where encoding/json's scanner calls a function per byte: configure reads
// the whole document, and under V8 without Liftoff every function it calls
// is compiled first. When d is not nil, it records where each object and
// array starts and ends.
func checkSyntax(data []byte, d *doc) (int, string) {
	// isObject has bit k set when the container at depth k is an object.
	var isObject [maxDepth/64 + 1]uint64
	depth, i, n := 0, 0, len(data)
	var msg string
value:
	for i < n && isSpace(data[i]) {
		i++
	}
	if i == n {
		return n, "unexpected end of JSON input"
	}
	switch c := data[i]; {
	case c == '{' || c == '[':
		if depth == maxDepth {
			return syntaxErr(data, i, "exceeded max depth")
		}
		if d != nil {
			d.opened(i)
		}
		if c == '{' {
			isObject[depth/64] |= 1 << (depth % 64)
		} else {
			isObject[depth/64] &^= 1 << (depth % 64)
		}
		depth++
		for i++; i < n && isSpace(data[i]); i++ {
		}
		if i == n {
			return n, "unexpected end of JSON input"
		}
		if c == '{' && data[i] == '}' || c == '[' && data[i] == ']' {
			if d != nil {
				d.closed(i)
			}
			depth--
			i++
			goto end
		}
		if c == '[' {
			goto value
		}
		goto key
	case c == '"':
		if i, _, msg = scanString(data, i+1); msg != "" {
			return syntaxErr(data, i, msg)
		}
	case c == '-' || '0' <= c && c <= '9':
		if i, msg = scanNumber(data, i); msg != "" {
			return syntaxErr(data, i, msg)
		}
	case c == 't' || c == 'f' || c == 'n':
		lit := "null"
		if c == 't' {
			lit = "true"
		} else if c == 'f' {
			lit = "false"
		}
		for k := 1; k < len(lit); k++ {
			if i+k == n || data[i+k] != lit[k] {
				return syntaxErr(data, i+k, "in literal "+lit+" (expecting "+quoteChar(lit[k])+")")
			}
		}
		i += len(lit)
	default:
		return syntaxErr(data, i, "looking for beginning of value")
	}
end:
	for i < n && isSpace(data[i]) {
		i++
	}
	if depth == 0 {
		if i < n {
			return syntaxErr(data, i, "after top-level value")
		}
		return 0, ""
	}
	if i == n {
		return n, "unexpected end of JSON input"
	}
	if top := depth - 1; isObject[top/64]&(1<<(top%64)) != 0 {
		switch data[i] {
		case ',':
			for i++; i < n && isSpace(data[i]); i++ {
			}
			if i == n {
				return n, "unexpected end of JSON input"
			}
			goto key
		case '}':
			if d != nil {
				d.closed(i)
			}
			depth--
			i++
			goto end
		}
		return syntaxErr(data, i, "after object key:value pair")
	}
	switch data[i] {
	case ',':
		i++
		goto value
	case ']':
		if d != nil {
			d.closed(i)
		}
		depth--
		i++
		goto end
	}
	return syntaxErr(data, i, "after array element")
key:
	// data[i] is the first byte after "{" or "," that is not a space.
	if data[i] != '"' {
		return syntaxErr(data, i, "looking for beginning of object key string")
	}
	if i, _, msg = scanString(data, i+1); msg != "" {
		return syntaxErr(data, i, msg)
	}
	for i < n && isSpace(data[i]) {
		i++
	}
	if i == n {
		return n, "unexpected end of JSON input"
	}
	if data[i] != ':' {
		return syntaxErr(data, i, "after object key")
	}
	i++
	goto value
}

// scanString returns the index after the string whose first byte after the
// opening quote is data[i] and whether it holds an escape, or where it goes
// wrong and how. The walk of a checked document reads a string without
// escapes as its bytes (unquote).
func scanString(data []byte, i int) (end int, escaped bool, msg string) {
	// Eight bytes at a time up to the first quote, backslash or control
	// character: in wasm, Go compiles each turn of a loop to a jump through
	// the function's dispatch table, and a byte at a time cost a hundred
	// instructions a byte of configuration.
	for n := len(data); i+8 <= n; i += 8 {
		if m := swar.StringStops(binary.LittleEndian.Uint64(data[i:])); m != 0 {
			i += bits.TrailingZeros64(m) / 8
			if data[i] == '"' {
				return i + 1, false, ""
			}
			break
		}
	}
	for n := len(data); i < n; i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1, escaped, ""
		case c < 0x20:
			return i, escaped, "in string literal"
		case c == '\\':
			escaped = true
			if i++; i == n {
				return i, escaped, "in string escape code"
			}
			switch data[i] {
			case 'b', 'f', 'n', 'r', 't', '\\', '/', '"':
			case 'u':
				for k := 0; k < 4; k++ {
					if i++; i == n || !isHex(data[i]) {
						return i, escaped, `in \u hexadecimal character escape`
					}
				}
			default:
				return i, escaped, "in string escape code"
			}
		}
	}
	// Running out of bytes in a string is not an error of the last byte.
	return len(data), escaped, "unexpected end of JSON input"
}

// scanNumber returns the index after the number starting at data[i], or where
// it goes wrong and how.
func scanNumber(data []byte, i int) (int, string) {
	n := len(data)
	if data[i] == '-' {
		if i++; i == n || !isDigit(data[i]) {
			return i, "in numeric literal"
		}
	}
	if data[i] == '0' {
		i++
	} else {
		for i < n && isDigit(data[i]) {
			i++
		}
	}
	if i < n && data[i] == '.' {
		if i++; i == n || !isDigit(data[i]) {
			return i, "after decimal point in numeric literal"
		}
		for i < n && isDigit(data[i]) {
			i++
		}
	}
	if i < n && (data[i] == 'e' || data[i] == 'E') {
		if i++; i < n && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i == n || !isDigit(data[i]) {
			return i, "in exponent of numeric literal"
		}
		for i < n && isDigit(data[i]) {
			i++
		}
	}
	return i, ""
}

// syntaxErr is the error at data[i], as encoding/json words it. At the end of
// data (i == len(data)) encoding/json reads one more space to finish a
// number or literal, so that is the invalid character; "unexpected end"
// passes through.
func syntaxErr(data []byte, i int, context string) (int, string) {
	if context == "unexpected end of JSON input" {
		return len(data), context
	}
	if i == len(data) {
		return i, "invalid character ' ' " + context
	}
	return i + 1, "invalid character " + quoteChar(data[i]) + " " + context
}

// quoteChar is encoding/json's: c as a quoted character literal.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
