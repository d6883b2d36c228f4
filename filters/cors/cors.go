// Package cors is the CORS stage (the "cors" field, global and per route):
// allowed origins compared by parsed scheme, host and port, or by a
// subdomain wildcard on a label boundary; never an arbitrary origin
// reflected, never "*" with credentials; preflights answered by apiguard
// itself, before authentication, and never sent upstream; Vary: Origin on
// every response that depends on the origin, denials included.
//
// The Fetch standard (https://fetch.spec.whatwg.org/#http-cors-protocol)
// defines the protocol.
package cors

import (
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// Policy is a route's compiled CORS policy; immutable.
type Policy struct {
	// anyOrigin is "*": every origin, answered with "*", never reflected.
	anyOrigin bool
	allowNull bool
	patterns  []pattern
	methods   []string
	headers   []string
	// preflight are the fixed headers of a preflight's answer; expose
	// those of an allowed actual response.
	preflight, expose [][2]string
	credentials       bool
}

// What the request phase kept for the response phase.
type (
	// allowed is the Access-Control-Allow-Origin value of an allowed origin.
	allowed string
	// answered marks a preflight apiguard answered: its reply is complete.
	answered struct{}
	// notAllowed marks a request without an allowed origin.
	notAllowed struct{}
)

// RequestHeaders lets the request through: the policy decided before
// authentication.
func (*Policy) RequestHeaders(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}

// AnswersPreflights reports that a route with the policy answers CORS
// preflights itself.
func (*Policy) AnswersPreflights() bool { return true }

// BeforeAuthentication answers a preflight, or records whether an actual
// request's origin is allowed, for its response.
func (p *Policy) BeforeAuthentication(s *stage.Stream, in *stage.Input) verdict.Decision {
	if s.Preflight {
		return p.answer(s, in)
	}
	origin := in.Get("origin")
	if origin == "" {
		s.Keep(p, notAllowed{})
		return verdict.Decision{}
	}
	// Read every header: a second Origin makes the first meaningless.
	all, err := in.All()
	if err != nil {
		s.Keep(p, notAllowed{})
		return verdict.Decision{}
	}
	if value, ok := p.allow(values(all, "origin")); ok {
		s.Keep(p, allowed(value))
	} else {
		s.Keep(p, notAllowed{})
	}
	return verdict.Decision{}
}

// allow returns the Access-Control-Allow-Origin value for the request's
// Origin headers: exactly one, and allowed.
func (p *Policy) allow(origins []string) (string, bool) {
	if len(origins) != 1 {
		return "", false
	}
	o := origins[0]
	if o == "null" {
		return o, p.allowNull
	}
	parsed, ok := ParseOrigin(o)
	if !ok {
		return "", false
	}
	if p.anyOrigin {
		return "*", true
	}
	for _, pt := range p.patterns {
		if pt.matches(parsed) {
			return o, true
		}
	}
	return "", false
}

// answer decides a preflight: 204 with the allowed methods and headers, or
// 403 without any Access-Control-Allow-* header.
func (p *Policy) answer(s *stage.Stream, in *stage.Input) verdict.Decision {
	s.Keep(p, notAllowed{})
	all, err := in.All()
	if err != nil {
		return verdict.Deny(verdict.Internal, "cannot read request headers")
	}
	origin, ok := p.allow(values(all, "origin"))
	if !ok {
		return verdict.Deny(verdict.CORSRefused, "origin not allowed")
	}
	method := values(all, "access-control-request-method")
	if len(method) != 1 || !contains(p.methods, method[0], false) {
		return verdict.Deny(verdict.CORSRefused, "method not allowed")
	}
	for _, line := range values(all, "access-control-request-headers") {
		for name := range strings.SplitSeq(line, ",") {
			if name = httpsyntax.TrimOWS(name); name != "" && !contains(p.headers, name, true) {
				return verdict.Deny(verdict.CORSRefused, "header not allowed")
			}
		}
	}
	s.Keep(p, answered{})
	h := make([][2]string, 0, len(p.preflight)+2)
	h = append(h, [2]string{"access-control-allow-origin", origin})
	if !p.anyOrigin {
		h = append(h, [2]string{"vary", "Origin"})
	}
	s.Answer = &stage.Answer{Status: 204, Headers: append(h, p.preflight...)}
	return verdict.Decision{}
}

// ResponseHeaders puts the policy's headers on the response, the
// upstream's or a local reply: the upstream's own CORS headers removed
// (the policy owns them), Access-Control-Allow-Origin and the rest for an
// allowed origin, and Origin added to Vary. It does nothing where the
// request phase did not run or answered a preflight itself.
func (p *Policy) ResponseHeaders(s *stage.Stream, in *stage.Input) {
	var origin string
	switch k := s.Kept(p).(type) {
	case allowed:
		origin = string(k)
	case notAllowed:
	default:
		return
	}
	all, err := in.All()
	if err != nil {
		// Unreadable: add nothing rather than risk a second line.
		return
	}
	var e stage.Edits
	// By index: in wasm, copying a header pair is a call.
	for i := range all {
		kv := &all[i]
		if strings.HasPrefix(kv[0], "access-control-") && !contains(e.Remove, kv[0], false) {
			e.Remove = append(e.Remove, kv[0])
		}
	}
	if origin != "" {
		e.Set = append(e.Set, [2]string{"access-control-allow-origin", origin})
		if p.credentials {
			e.Set = append(e.Set, [2]string{"access-control-allow-credentials", "true"})
		}
		e.Set = append(e.Set, p.expose...)
	}
	if !p.anyOrigin {
		if vary, changed := varyOrigin(values(all, "vary")); changed {
			e.Set = append(e.Set, [2]string{"vary", vary})
		}
	}
	s.Response.Add(e)
}

// varyOrigin is the Vary value with Origin in it, as one line; changed is
// false when the lines already say it (Origin, or *).
func varyOrigin(lines []string) (string, bool) {
	for _, line := range lines {
		for name := range strings.SplitSeq(line, ",") {
			if name = httpsyntax.TrimOWS(name); name == "*" || strings.EqualFold(name, "origin") {
				return "", false
			}
		}
	}
	return strings.Join(append(lines, "Origin"), ", "), true
}

func values(all [][2]string, name string) []string {
	var out []string
	// By index: in wasm, copying a header pair is a call.
	for i := range all {
		kv := &all[i]
		if kv[0] == name {
			out = append(out, kv[1])
		}
	}
	return out
}

func contains(list []string, s string, fold bool) bool {
	for _, v := range list {
		if v == s || fold && strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// preflightHeaders are a preflight answer's fixed headers.
func preflightHeaders(methods, headers []string, credentials bool, maxAge int64) [][2]string {
	h := [][2]string{{"access-control-allow-methods", strings.Join(methods, ", ")}}
	if len(headers) > 0 {
		h = append(h, [2]string{"access-control-allow-headers", strings.Join(headers, ", ")})
	}
	if credentials {
		h = append(h, [2]string{"access-control-allow-credentials", "true"})
	}
	return append(h, [2]string{"access-control-max-age", strconv.FormatInt(maxAge, 10)})
}
