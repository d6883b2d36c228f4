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
// never picks "the first valid one". In a header that a source reads, every
// value counts: one that starts with the source's scheme is a credential
// even if it is malformed (then the request is refused, never let through
// as "no token"), and any other value next to a credential (say Basic next
// to Bearer) is a second credential.
func extract(sources []Source, headers [][2]string, query string) (found, bool, verdict.Decision) {
	var out []found
	var claimed map[int]bool // indices in headers of values a source read
	for _, src := range sources {
		switch {
		case src.Header != "":
			for i, kv := range headers {
				if kv[0] != src.Header {
					continue
				}
				tok, ok, d := headerCredential(kv[1], src.Prefix)
				if d.Denied() {
					return found{}, false, d
				}
				if ok {
					out = append(out, found{tok, src})
					if claimed == nil {
						claimed = map[int]bool{}
					}
					claimed[i] = true
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
	dup := verdict.Deny(verdict.TokenDuplicate, "more than one credential in the request")
	switch {
	case len(out) == 0:
		return found{}, false, verdict.Decision{}
	case len(out) > 1:
		return found{}, false, dup
	case out[0].token == "":
		return found{}, false, verdict.Deny(verdict.TokenMalformed, "empty credential")
	}
	for i, kv := range headers {
		if !claimed[i] && kv[0] != "cookie" && readsHeader(sources, kv[0]) {
			return found{}, false, dup
		}
	}
	return out[0], true, verdict.Decision{}
}

func readsHeader(sources []Source, name string) bool {
	for _, src := range sources {
		if src.Header == name {
			return true
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
	value = strings.TrimLeft(value, " \t")
	scheme := strings.TrimRight(prefix, " ")
	if len(value) < len(scheme) || !strings.EqualFold(value[:len(scheme)], scheme) {
		return "", false, verdict.Decision{}
	}
	tok := value[len(scheme):]
	if len(scheme) < len(prefix) {
		if tok != "" && tok[0] != ' ' {
			return "", true, verdict.Deny(verdict.TokenMalformed, "the credential does not follow its scheme's syntax")
		}
		tok = strings.TrimLeft(tok, " ")
	}
	tok = strings.TrimRight(tok, " \t")
	if strings.Contains(tok, ",") {
		return "", true, verdict.Deny(verdict.TokenDuplicate, "two credentials joined in one header value")
	}
	if strings.ContainsAny(tok, " \t") {
		return "", true, verdict.Deny(verdict.TokenMalformed, "the credential does not follow its scheme's syntax")
	}
	return tok, true, verdict.Decision{}
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
