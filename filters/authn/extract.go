package authn

import (
	"net/url"
	"strings"

	"github.com/apiguard/apiguard/filters/verdict"
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

// found is one credential located in the request.
type found struct {
	token  string
	source Source
}

// extract finds every credential the sources name. Finding more than one, or
// the same header or parameter twice, is a TokenDuplicate denial: apiguard
// never picks "the first valid one".
func extract(sources []Source, headers [][2]string, query string) (found, bool, verdict.Decision) {
	var out []found
	for _, src := range sources {
		switch {
		case src.Header != "":
			for _, kv := range headers {
				if kv[0] != src.Header {
					continue
				}
				if src.Prefix == "" {
					out = append(out, found{kv[1], src})
				} else if len(kv[1]) >= len(src.Prefix) && strings.EqualFold(kv[1][:len(src.Prefix)], src.Prefix) {
					out = append(out, found{strings.TrimLeft(kv[1][len(src.Prefix):], " "), src})
				}
			}
		case src.Query != "":
			for _, v := range queryValues(query, src.Query) {
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
	switch len(out) {
	case 0:
		return found{}, false, verdict.Decision{}
	case 1:
		if out[0].token == "" {
			return found{}, false, verdict.Deny(verdict.TokenMalformed, "empty credential")
		}
		return out[0], true, verdict.Decision{}
	}
	return found{}, false, verdict.Deny(verdict.TokenDuplicate, "more than one credential in the request")
}

// queryValues returns every value of name in a raw query, decoded.
func queryValues(query, name string) []string {
	var out []string
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		k, v, _ := strings.Cut(pair, "=")
		if key, err := url.QueryUnescape(k); err != nil || key != name {
			continue
		}
		if val, err := url.QueryUnescape(v); err == nil {
			out = append(out, val)
		} else {
			out = append(out, "")
		}
	}
	return out
}

// withoutQueryParam removes every occurrence of name from a raw query.
func withoutQueryParam(query, name string) string {
	var kept []string
	for _, pair := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(pair, "=")
		if key, err := url.QueryUnescape(k); err == nil && key == name {
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
