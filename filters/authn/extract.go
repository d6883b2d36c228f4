package authn

import (
	"slices"
	"strings"

	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/verdict"
	"github.com/apiguard/apiguard/internal/swar"
)

// Source is one place a provider's token may be: a header (with a scheme
// prefix, matched case-insensitively), a query parameter or a cookie.
type Source struct {
	Header string // lower-case header name
	Prefix string // e.g. "Bearer "; empty takes the whole value
	Query  string
	Cookie string
}

// DefaultSources is where a provider looks when it names none: RFC 6750's
// Authorization: Bearer.
var DefaultSources = []Source{{Header: "authorization", Prefix: "Bearer "}}

// found is one credential located in the request, and the provider's
// source that found it.
type found struct {
	token  string
	source *Source
}

// same reports whether f and g are one credential found by equal sources
// (of two providers reading the same place).
func (f *found) same(g *found) bool {
	return f.token == g.token && *f.source == *g.source
}

// extract finds every credential the sources name. Finding more than one, or
// the same header or parameter twice, is a TokenDuplicate denial: apiguard
// never picks "the first valid one". So is a token parameter that an
// upstream splitting the query on ";" too would read differently
// (httpsyntax.SemicolonSplit): it would see a token apiguard did not. In a
// header that a source reads, every value that starts with the source's
// scheme is a credential even if it is malformed (then the request is
// refused, never let through as "no token"); claimed marks each such
// headers[i], so that strayValue can find the others. The credential goes
// in cred, and sources are walked by pointer: in wasm, a struct of more than
// sixteen bytes is copied through a call.
func extract(sources []Source, headers [][2]string, query string, claimed *claims, cred *found) (bool, verdict.Decision) {
	// Room for the usual one credential and a duplicate, without an
	// allocation per request.
	var buf [2]found
	out := buf[:0]
	for si := range sources {
		src := &sources[si]
		switch {
		case src.Header != "":
			// By index: in wasm, copying a header pair is a call.
			for i := range headers {
				kv := &headers[i]
				if kv[0] != src.Header {
					continue
				}
				tok, ok, d := headerCredential(kv[1], src.Prefix)
				if d.Denied() {
					return false, d
				}
				if ok {
					out = append(out, found{tok, src})
					claimed.set(i)
				}
			}
		case src.Query != "":
			values := queryValues(query, src.Query)
			if split, ok := httpsyntax.SemicolonSplit(query); ok && !slices.Equal(values, queryValues(split, src.Query)) {
				return false, verdict.Deny(verdict.TokenDuplicate, "a token parameter that upstreams splitting on \";\" read differently")
			}
			for _, v := range values {
				out = append(out, found{v, src})
			}
		case src.Cookie != "":
			for _, kv := range headers {
				if kv[0] == "cookie" {
					for _, v := range cookieValues(kv[1], src.Cookie) {
						out = append(out, found{v, src})
					}
				}
			}
		}
	}
	switch {
	case len(out) == 0:
		return false, verdict.Decision{}
	case len(out) > 1:
		return false, verdict.Deny(verdict.TokenDuplicate, "more than one credential in the request")
	case out[0].token == "":
		return false, verdict.Deny(verdict.TokenMalformed, "empty credential")
	}
	*cred = out[0]
	return true, verdict.Decision{}
}

// strayValue reports whether a header that a source of the route's
// providers reads holds a value no source took as a credential (say Basic
// next to Bearer). Next to a credential that is a second one: the upstream
// could read it instead of the verified token.
func (a *Authenticator) strayValue(r *Requirement, headers [][2]string, claimed *claims) bool {
	// By index: in wasm, copying a header pair is a call.
	for i := range headers {
		kv := &headers[i]
		if claimed.has(i) {
			continue
		}
		for _, pi := range r.providers {
			sources := a.providers[pi].Sources
			for si := range sources {
				if sources[si].Header == kv[0] {
					return true
				}
			}
		}
	}
	return false
}

// headerCredential reads one header value for a source with prefix (e.g.
// "Bearer "). A value whose start matches the prefix's scheme ("Bearer")
// case-insensitively is a credential (ok), whatever follows: RFC 6750's
// "Bearer" 1*SP token gives the token; "Bearer\tx", "Bearer,x", "Bearerx" or
// a token with spaces inside are refused as malformed rather than passed
// over, since an upstream may read them as credentials. A comma is never
// part of a token: it is how Envoy joins a repeated Authorization header
// ("Bearer X,Bearer Y"), so it is two credentials. An empty prefix takes the
// whole value.
func headerCredential(value, prefix string) (string, bool, verdict.Decision) {
	value = httpsyntax.TrimOWS(value)
	scheme := strings.TrimRight(prefix, " ")
	if len(value) < len(scheme) || !strings.EqualFold(value[:len(scheme)], scheme) {
		return "", false, verdict.Decision{}
	}
	tok := value[len(scheme):]
	if len(scheme) < len(prefix) {
		if tok != "" && tok[0] != ' ' {
			return "", true, verdict.Deny(verdict.TokenMalformed, "the credential does not follow its scheme's syntax")
		}
		// 1*SP: a tab after the spaces is inside the token, refused below.
		for tok != "" && tok[0] == ' ' {
			tok = tok[1:]
		}
	}
	// ',', ' ' and '\t' all sort below '-', the least byte of a JWT: one
	// pass over an 800-byte token instead of a search for each in wasm.
	if !swar.HasLess(tok, ','+1) {
		return tok, true, verdict.Decision{}
	}
	if strings.IndexByte(tok, ',') >= 0 {
		return "", true, verdict.Deny(verdict.TokenDuplicate, "two credentials joined in one header value")
	}
	if strings.IndexByte(tok, ' ') >= 0 || strings.IndexByte(tok, '\t') >= 0 {
		return "", true, verdict.Deny(verdict.TokenMalformed, "the credential does not follow its scheme's syntax")
	}
	return tok, true, verdict.Decision{}
}

// queryValues returns every value of name in a raw query, decoded.
func queryValues(query, name string) []string {
	var out []string
	httpsyntax.EachQueryPair(query, func(k, v string) bool {
		if key, ok := httpsyntax.Unescape(k, true); !ok || key != name {
			return true
		}
		if val, ok := httpsyntax.Unescape(v, true); ok {
			out = append(out, val)
		} else {
			out = append(out, "")
		}
		return true
	})
	return out
}

// withoutQueryParam removes every occurrence of name from a raw query.
func withoutQueryParam(query, name string) string {
	var kept []string
	for pair := range httpsyntax.QueryPairs(query) {
		k, _, _ := strings.Cut(pair, "=")
		if key, ok := httpsyntax.Unescape(k, true); ok && key == name {
			continue
		}
		kept = append(kept, pair)
	}
	return strings.Join(kept, "&")
}

// cookieValues returns every value of the named cookie in one Cookie header.
func cookieValues(header, name string) []string {
	var out []string
	for _, part := range strings.Split(header, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			out = append(out, strings.Trim(v, `"`))
		}
	}
	return out
}

// withoutCookie removes the named cookie from one Cookie header.
func withoutCookie(header, name string) string {
	var kept []string
	for _, part := range strings.Split(header, ";") {
		p := strings.TrimSpace(part)
		if k, _, _ := strings.Cut(p, "="); k == name || p == "" {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "; ")
}

// claims marks the request's headers a source took a credential from, by
// place: a bit each for the first 64, which is every request in practice
// and costs no allocation, a slice beyond.
type claims struct {
	low  uint64
	high []bool
}

func (c *claims) set(i int) {
	if i < 64 {
		c.low |= 1 << i
		return
	}
	for len(c.high) <= i-64 {
		c.high = append(c.high, false)
	}
	c.high[i-64] = true
}

func (c *claims) has(i int) bool {
	if i < 64 {
		return c.low&(1<<i) != 0
	}
	return i-64 < len(c.high) && c.high[i-64]
}
