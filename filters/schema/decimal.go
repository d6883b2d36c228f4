package schema

import "strconv"

// decimal is a JSON number read exactly, for bounds and enums: its sign, its
// significant digits (mant[first:last+1], the '.' skipped) and the power of
// ten of the first, so that its value is 0.d…d × 10^point. Two decimals
// compare digit by digit, without a float64, which rounds
// 9007199254740993 to the bound 9007199254740992, or a big.Rat, which
// allocates per number and makes 10^exponent of a configuration's 1e999999999.
type decimal struct {
	neg bool
	// mant is the number's text between its sign and its exponent.
	mant        []byte
	first, last int
	point       int
}

// maxExponent bounds an exponent as written; a document's is refused past
// four digits (number_range) before it gets here.
const maxExponent = 999_999

// parseDecimal reads text, one JSON number; false when its exponent is
// past maxExponent (or the text is no number).
func parseDecimal(text []byte) (decimal, bool) {
	neg := len(text) > 0 && text[0] == '-'
	if neg {
		text = text[1:]
	}
	end, exp := len(text), 0
	for i, c := range text {
		if c != 'e' && c != 'E' {
			continue
		}
		end = i
		e, err := strconv.Atoi(string(text[i+1:]))
		if err != nil || e > maxExponent || e < -maxExponent {
			return decimal{}, false
		}
		exp = e
		break
	}
	for i, c := range text[:end] {
		if (c < '0' || c > '9') && (c != '.' || i == 0) {
			return decimal{}, false
		}
	}
	if end == 0 {
		return decimal{}, false
	}
	var d decimal
	d.read(neg, text[:end], exp)
	return d, true
}

// read sets d to the number of sign neg, mantissa mant (digits, maybe with
// a '.') and exponent exp. It sets each field: in wasm, assigning a whole
// decimal is a call (memory.copy, RATIONALE: a Decision's sixteen bytes).
func (d *decimal) read(neg bool, mant []byte, exp int) {
	d.neg, d.mant, d.first, d.last = neg, mant, -1, -1
	dot := len(mant)
	for i, c := range mant {
		switch {
		case c == '.':
			dot = i
		case c != '0':
			if d.first < 0 {
				d.first = i
			}
			d.last = i
		}
	}
	switch {
	case d.first < 0:
		d.first, d.point = 0, 0
	case d.first < dot:
		d.point = dot - d.first + exp
	default:
		d.point = dot + 1 - d.first + exp
	}
}

func (d *decimal) zero() bool { return d.last < d.first }

// cmp is the sign of d - e.
func (d *decimal) cmp(e *decimal) int {
	ds, es := d.sign(), e.sign()
	switch {
	case ds != es:
		return cmpInt(int64(ds), int64(es))
	case ds == 0:
		return 0
	}
	c := d.cmpMagnitude(e)
	if d.neg {
		return -c
	}
	return c
}

func (d *decimal) sign() int {
	switch {
	case d.zero():
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// cmpMagnitude compares two nonzero decimals' absolute values: the one whose
// first digit stands for a larger power of ten is larger, else the first
// digit that differs decides, else the one with more digits.
func (d *decimal) cmpMagnitude(e *decimal) int {
	if d.point != e.point {
		return cmpInt(int64(d.point), int64(e.point))
	}
	i, j := d.first, e.first
	for {
		if i <= d.last && d.mant[i] == '.' {
			i++
		}
		if j <= e.last && e.mant[j] == '.' {
			j++
		}
		switch di, ej := i > d.last, j > e.last; {
		case di && ej:
			return 0
		case di:
			return -1
		case ej:
			return 1
		}
		if d.mant[i] != e.mant[j] {
			return cmpInt(int64(d.mant[i]), int64(e.mant[j]))
		}
		i++
		j++
	}
}

// appendCanonical appends d's one spelling among all the texts of its value
// ("0", or the sign, the significant digits, 'e' and point), for enums.
func (d *decimal) appendCanonical(dst []byte) []byte {
	if d.zero() {
		return append(dst, '0')
	}
	if d.neg {
		dst = append(dst, '-')
	}
	for _, c := range d.mant[d.first : d.last+1] {
		if c != '.' {
			dst = append(dst, c)
		}
	}
	dst = append(dst, 'e')
	return strconv.AppendInt(dst, int64(d.point), 10)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
