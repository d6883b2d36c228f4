// Package verdict is what every policy stage returns: continue, or deny with one
// reason from a closed set. Problem bodies, logs, metrics and tests all speak in
// these reasons, so a reason's code is a stable public name.
package verdict

import (
	"unicode/utf8"
	"unsafe"
)

// Reason is why a request was denied. The zero value means "not denied".
type Reason uint8

// The closed set of denial reasons. Add new ones at the end of the list and to
// the reasons table below; codes are part of the public contract.
const (
	// None means the request may continue.
	None Reason = iota
	// BadPath: the :path cannot be normalized safely (encoded slash, backslash or
	// NUL, double encoding, invalid UTF-8, control characters, missing or not
	// origin-form). Status 400.
	BadPath
	// NoRoute: no route matches the normalized path and the default is deny. Status 404.
	NoRoute
	// MethodNotAllowed: a route matches the path but not the method. Status 405.
	MethodNotAllowed
	// BadRequest: the request is malformed in a way no other reason names
	// (missing :method, duplicate pseudo-headers). Status 400.
	BadRequest
	// Internal: the plugin itself failed while handling the request; it fails
	// closed. Status 500.
	Internal
	// TokenMissing: the route requires a token and none was presented. Status 401.
	TokenMissing
	// TokenMalformed: not a compact JWS with strict base64url parts and
	// duplicate-free JSON, or a header apiguard refuses (crit, b64, JWE). 401.
	TokenMalformed
	// TokenTooLarge: the token exceeds the provider's size limit. 401.
	TokenTooLarge
	// TokenDuplicate: more than one credential was presented (two tokens, two
	// Authorization headers); apiguard never picks one. Status 400.
	TokenDuplicate
	// TokenAlgorithm: alg is none, not allowed, or not the verifying key's. 401.
	TokenAlgorithm
	// TokenIssuer: iss is missing or not the provider's issuer. 401.
	TokenIssuer
	// TokenAudience: aud is missing, malformed or names none of the provider's
	// audiences. 401.
	TokenAudience
	// TokenExpired: exp is missing, malformed or past, beyond the clock skew. 401.
	TokenExpired
	// TokenNotYetValid: nbf or iat lies in the future, beyond the clock skew. 401.
	TokenNotYetValid
	// TokenUnknownKey: no key of the provider matches the token's kid. 401.
	TokenUnknownKey
	// TokenSignature: the signature does not verify. 401.
	TokenSignature
	// TokenClaimHeader: a claim copied into a request header is not a safe
	// header value. 401.
	TokenClaimHeader
	// KeysUnavailable: the provider has no usable keys (JWKS unreachable,
	// invalid or empty), so no token can be verified: fail closed. 401.
	KeysUnavailable
	// TokenCaseVariant: the token's header or payload has, in one object at
	// any depth, two member names equal under Unicode simple case folding
	// ("role" and "Role"). A decoder that matches names case-insensitively,
	// as Go's encoding/json does, could read the one apiguard did not check. 401.
	TokenCaseVariant
	// TokenType: the provider requires a typ (e.g. at+jwt) and the token's
	// header lacks it or names another type, such as an ID token's. 401.
	TokenType
	// BodyTooLarge: the request body (its content-length, or the bytes that
	// arrived) exceeds the route's limit. Status 413.
	BodyTooLarge
	// RequestInvalid: a header, path parameter, query parameter or the body
	// breaks the route's validation rules; the problem lists where. 400.
	RequestInvalid
	// UnsupportedMediaType: the body's content-type or content-encoding is
	// not one the route accepts, or a body came without a content-type. 415.
	UnsupportedMediaType
	// HeadersTooLarge: more headers, or larger ones, than the route's
	// limits. Status 431.
	HeadersTooLarge
	// RateLimited: a rate-limit rule refuses the request, or the limiter's
	// shared state is too contended to decide and the rule fails closed.
	// Retry-After says when to come back. Status 429.
	RateLimited
	// Forbidden: the verified caller may not do this: the route's allow
	// rule does not hold for its claims (roles, claims, a claim bound to
	// the object the request names), a deny rule matched, or the route is
	// always denied. Status 403.
	Forbidden
	// InsufficientScope: the access token lacks a scope the route requires
	// (RFC 6750 section 3.1). Status 403.
	InsufficientScope
	// MethodOverride: the request asks to be treated as another method
	// (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override, _method) on
	// a route that does not allow it, or names no valid method. Status 400.
	MethodOverride
	// CORSRefused: a CORS preflight apiguard refuses: its origin, the
	// method or a header it announces is not allowed, or it carries two
	// Origin headers. The reply has no Access-Control-Allow-* header. 403.
	CORSRefused
	// HTTPSRequired: the route requires https (require_https) and the
	// request came over plain http. 403, as RFC 6797 section 7.2 leaves
	// the answer to the server and a redirect would carry the request's
	// credentials over plain text once more.
	HTTPSRequired
	// RateLimitUnavailable: a global rate limit's service (envoyproxy/
	// ratelimit) did not answer in time, or answered with an error, and
	// the rule's failure_mode is deny. Status 503, with Retry-After.
	RateLimitUnavailable
	// PeerIdentity: the route requires a peer identity (mutual TLS with a
	// SPIFFE ID) and the connection has none that it accepts: no mutual TLS,
	// a certificate without a URI SAN, a URI SAN that is not a valid SPIFFE
	// ID, or an ID the route does not list. Status 403.
	PeerIdentity
	numReasons
)

type reasonInfo struct {
	code   string
	title  string
	status int
}

var reasons = [numReasons]reasonInfo{
	None:                 {"none", "", 200},
	BadPath:              {"bad_path", "The request path is not acceptable", 400},
	NoRoute:              {"no_route", "No route matches the request", 404},
	MethodNotAllowed:     {"method_not_allowed", "The method is not allowed on this route", 405},
	BadRequest:           {"bad_request", "The request is malformed", 400},
	Internal:             {"internal", "The gateway could not process the request", 500},
	TokenMissing:         {"token_missing", "Authentication is required", 401},
	TokenMalformed:       {"token_malformed", "The access token is malformed", 401},
	TokenTooLarge:        {"token_too_large", "The access token is too large", 401},
	TokenDuplicate:       {"token_duplicate", "More than one credential was presented", 400},
	TokenAlgorithm:       {"token_algorithm", "The access token's algorithm is not accepted", 401},
	TokenIssuer:          {"token_issuer", "The access token's issuer is not accepted", 401},
	TokenAudience:        {"token_audience", "The access token is not for this audience", 401},
	TokenExpired:         {"token_expired", "The access token has expired", 401},
	TokenNotYetValid:     {"token_not_yet_valid", "The access token is not valid yet", 401},
	TokenUnknownKey:      {"token_unknown_key", "The access token's signing key is unknown", 401},
	TokenSignature:       {"token_signature", "The access token's signature is invalid", 401},
	TokenClaimHeader:     {"token_claim_header", "A token claim cannot be forwarded", 401},
	KeysUnavailable:      {"keys_unavailable", "The identity provider's keys are unavailable", 401},
	TokenCaseVariant:     {"token_case_variant", "The access token has member names that differ only in letter case", 401},
	TokenType:            {"token_type", "The token is not of the type this API accepts", 401},
	BodyTooLarge:         {"body_too_large", "The request body is too large", 413},
	RequestInvalid:       {"request_invalid", "The request does not match the API's rules", 400},
	UnsupportedMediaType: {"unsupported_media_type", "The request body's media type is not accepted", 415},
	HeadersTooLarge:      {"headers_too_large", "The request headers are too large", 431},
	RateLimited:          {"rate_limited", "Too many requests", 429},
	Forbidden:            {"forbidden", "The caller is not allowed to do this", 403},
	InsufficientScope:    {"insufficient_scope", "The access token lacks a required scope", 403},
	MethodOverride:       {"method_override", "Method override is not allowed", 400},
	CORSRefused:          {"cors_refused", "The cross-origin request is not allowed", 403},
	HTTPSRequired:        {"https_required", "This API is served over https only", 403},
	RateLimitUnavailable: {"rate_limit_unavailable", "The rate limit service is unavailable", 503},
	PeerIdentity:         {"peer_identity", "The calling service's identity is not allowed", 403},
}

// Code is the reason's stable snake_case name, used as the problem type suffix,
// the metric name suffix and in logs.
func (r Reason) Code() string { return r.info().code }

// Title is a short, fixed human summary; it never contains request data.
func (r Reason) Title() string { return r.info().title }

// Status is the HTTP status of a denial for this reason.
func (r Reason) Status() int { return r.info().status }

// info points into the table: in wasm, copying a reasonInfo is a call.
func (r Reason) info() *reasonInfo {
	if r >= numReasons {
		return &reasons[Internal]
	}
	return &reasons[r]
}

// All lists every denial reason (without None), for metrics definitions and tests.
func All() []Reason {
	out := make([]Reason, 0, numReasons-1)
	for r := None + 1; r < numReasons; r++ {
		out = append(out, r)
	}
	return out
}

// Decision is a stage's answer. The zero value continues the request.
//
// It is sixteen bytes, its detail's bytes and length beside the reason:
// Go's wasm port copies a larger value with memory.copy, a call out of the
// compiled code, and every stage and most of what they call return one. A
// denial that carries headers or violations points to a Denial instead.
type Decision struct {
	// Reason is None to continue.
	Reason Reason
	// denial: p is a *Denial; else p and n are the detail's bytes and
	// length.
	denial bool
	n      uint32
	p      unsafe.Pointer
}

// Denial is what a denial may carry beyond its reason.
type Denial struct {
	// Detail is a fixed sentence chosen by the stage (never request data) that
	// narrows the reason, e.g. "encoded slash in path".
	Detail string
	// Headers are extra response headers for a denial (e.g. Allow on a 405).
	Headers [][2]string
	// Violations say where a request broke the rules, for its problem body.
	Violations []Violation
}

// Violation is one place a request broke a rule: where (In: "header",
// "path", "query" or "body"; Pointer: a JSON pointer into the body, or
// "/" and the parameter's or header's name) and the rule broken (a schema
// keyword such as "maximum", or "required", "unknown", "repeated"). It never
// holds a value from the request.
type Violation struct {
	In, Pointer, Rule string
}

// Denied reports whether the request must be stopped.
func (d Decision) Denied() bool { return d.Reason != None }

// Deny builds a denial with a fixed detail sentence (shorter than 4 GiB).
func Deny(r Reason, detail string) Decision {
	return Decision{Reason: r, n: uint32(len(detail)), p: unsafe.Pointer(unsafe.StringData(detail))}
}

// DenyWith builds a denial that carries d, which must not change until the
// denial is answered: a stage may reuse one per stream.
func DenyWith(r Reason, d *Denial) Decision {
	return Decision{Reason: r, denial: true, p: unsafe.Pointer(d)}
}

// Detail is the denial's fixed sentence, if any.
func (d Decision) Detail() string {
	if d.denial {
		return (*Denial)(d.p).Detail
	}
	return unsafe.String((*byte)(d.p), d.n)
}

// Headers are the denial's extra response headers.
func (d Decision) Headers() [][2]string {
	if d.denial {
		return (*Denial)(d.p).Headers
	}
	return nil
}

// Violations are where the request broke the rules.
func (d Decision) Violations() []Violation {
	if d.denial {
		return (*Denial)(d.p).Violations
	}
	return nil
}

// AppendJSONString appends s as a JSON string that cannot break out of the
// document or the log line it goes in: quotes, backslashes, control
// characters, DEL and U+2028/U+2029 (line separators to JavaScript and
// some log viewers) are escaped, and invalid UTF-8 is replaced. Problem
// bodies and audit records write client-chosen text (a member name, a
// path) only through it.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == 0x2028 || r == 0x2029:
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
