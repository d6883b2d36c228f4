package authn

import (
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/apiguard/apiguard/filters/verdict"
)

func (p *provider) claimHeaders(tok *jwt.Token) *jwt.ClaimHeaders {
	if h := tok.ClaimHeaders(); h != nil {
		return h
	}
	h := &jwt.ClaimHeaders{}
	for _, ch := range p.ClaimHeaders {
		claim, _ := tok.Claim(ch.Claim)
		v, ok, d := claimValue(claim)
		if d.Denied() {
			h.Set, h.Refused = nil, d
			break
		}
		if ok {
			h.Set = append(h.Set, [2]string{ch.Header, v})
		}
	}
	if p.PayloadHeader != "" && !h.Refused.Denied() {
		// The token's own payload part, as Envoy forwards it: decoding
		// checked that it is canonical base64url, so encoding the payload
		// again would give the same bytes.
		h.Set = append(h.Set, [2]string{p.PayloadHeader, tok.PayloadPart()})
	}
	tok.SetClaimHeaders(h)
	return h
}

// claimValue renders a top-level claim (looked up by its literal name with
// jwt.Token.Claim, so "a.b" is never the nested path a -> b) as a header
// value: strings, numbers and booleans (the latter two as JSON), or an array
// of those, each element encoded by encodeClaim and joined with ",". Any
// other shape, or a control character, is refused; a claim the token does
// not have is no value (false) and no denial.
func claimValue(v gjson.Result) (string, bool, verdict.Decision) {
	if !v.Exists() {
		return "", false, verdict.Decision{}
	}
	bad := verdict.Deny(verdict.TokenClaimHeader, "claim cannot be a header value")
	control := verdict.Deny(verdict.TokenClaimHeader, "control character in a claim copied to a header")
	var b strings.Builder
	scalar := func(x gjson.Result) verdict.Decision {
		switch x.Type {
		case gjson.String:
			if !encodeClaim(&b, x.Str) {
				return control
			}
		case gjson.Number, gjson.True, gjson.False:
			b.WriteString(x.Raw)
		default:
			return bad
		}
		return verdict.Decision{}
	}
	if !v.IsArray() {
		d := scalar(v)
		return b.String(), !d.Denied(), d
	}
	var d verdict.Decision
	first := true
	v.ForEach(func(_, el gjson.Result) bool {
		if !first {
			b.WriteByte(',')
		}
		first = false
		d = scalar(el)
		return !d.Denied()
	})
	return b.String(), !d.Denied(), d
}

// encodeClaim writes a claim string so that any HTTP stack carries it intact
// and every value has one reading: printable ASCII is kept, except that "%",
// "," and space are percent-encoded like every byte of a non-ASCII character
// (U+2028 and U+2029 included), so "café" is "caf%C3%A9", the array ["a,b"]
// is "a%2Cb" while ["a","b"] is "a,b", and " admin" cannot lose its space to
// a stack that trims values. Upstreams decode with RFC 3986 percent-decoding
// ("+" stays "+"). C0 controls and DEL are refused (false): no identity
// needs them and they are how header injection starts.
func encodeClaim(b *strings.Builder, s string) bool {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == 0x7f:
			return false
		case c == ' ' || c == '%' || c == ',' || c >= 0x80:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return true
}
