package jwt

import (
	"math"
	"time"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/verdict"
)

// maxNumericDate bounds exp, nbf and iat (the end of year 9999) so that no
// arithmetic on them can overflow.
const maxNumericDate = 253402300799

// numericDate reads a NumericDate claim: a JSON number of seconds, finite,
// within [0, maxNumericDate]. A string, even of digits, is refused.
func numericDate(v gjson.Result) (float64, bool) {
	if v.Type != gjson.Number {
		return 0, false
	}
	// gjson parsed the number with strconv.ParseFloat already; its only
	// error on a well-formed number (strictObject checked the grammar) is
	// out of range, which reads as an infinity.
	f := v.Num
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxNumericDate {
		return 0, false
	}
	return f, true
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// checkClaims applies the registered-claim rules in the order of their cost:
// iss, aud, then the times.
func (v *Verifier) checkClaims(t *Token, now time.Time) verdict.Decision {
	// t.Claim, not gjson paths: each Get would scan the payload again.
	if iss, _ := t.Claim("iss"); iss.Type != gjson.String || iss.Str != v.cfg.Issuer {
		return verdict.Deny(verdict.TokenIssuer, "iss does not match the provider's issuer")
	}
	aud, _ := t.Claim("aud")
	if d := v.checkAudience(aud); d.Denied() {
		return d
	}
	n, skew := unix(now), v.cfg.ClockSkew.Seconds()
	if exp, ok := t.Claim("exp"); ok {
		f, ok := numericDate(exp)
		if !ok {
			return verdict.Deny(verdict.TokenExpired, "exp must be a NumericDate")
		}
		if n >= f+skew {
			return verdict.Deny(verdict.TokenExpired, "")
		}
		t.exp = f
	} else if !v.cfg.AllowMissingExp {
		return verdict.Deny(verdict.TokenExpired, "exp is required")
	}
	for _, claim := range [...]string{"nbf", "iat"} {
		v, ok := t.Claim(claim)
		if !ok {
			continue
		}
		f, ok := numericDate(v)
		if !ok {
			return verdict.Deny(verdict.TokenNotYetValid, claim+" must be a NumericDate")
		}
		if n+skew < f {
			return verdict.Deny(verdict.TokenNotYetValid, claim+" is in the future")
		}
	}
	return verdict.Decision{}
}

// checkAudience accepts aud as a string or a non-empty array of strings, one
// of which must equal (case-sensitively) one of the provider's audiences.
func (v *Verifier) checkAudience(aud gjson.Result) verdict.Decision {
	bad := verdict.Deny(verdict.TokenAudience, "aud must be a string or an array of strings")
	switch {
	case aud.Type == gjson.String:
		if v.audiences[aud.Str] {
			return verdict.Decision{}
		}
	case aud.IsArray():
		found, n := false, 0
		var elementErr bool
		aud.ForEach(func(_, a gjson.Result) bool {
			n++
			if a.Type != gjson.String {
				elementErr = true
				return false
			}
			found = found || v.audiences[a.Str]
			return true
		})
		if elementErr || n == 0 {
			return bad
		}
		if found {
			return verdict.Decision{}
		}
	default:
		return bad
	}
	return verdict.Deny(verdict.TokenAudience, "")
}
