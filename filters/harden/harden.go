// Package harden is the response-hardening stage (the "response" field,
// global and per route): the OWASP Secure Headers for APIs on every
// response (the upstream's, apiguard's own replies, Envoy's local replies),
// headers that name the upstream's software removed, HSTS only where the
// request came over https, plain http optionally refused (require_https),
// and upstream 5xx bodies optionally replaced by a generic problem document.
//
// Every header it sets is written with one replace: the response carries
// it once, whatever the upstream sent, unless keep_upstream says the
// upstream's value wins where it sent one.
package harden

import (
	"slices"
	"sync"

	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// Policy is a route's compiled hardening; immutable.
type Policy struct {
	// secure and plain are the edits for a request over https and over
	// plain http (without HSTS), computed once.
	secure, plain stage.Edits
	// keepUpstream are set headers whose upstream value wins when present.
	keepUpstream  []string
	assumeHTTPS   bool
	replaceErrors bool
}

// RequestHeaders lets the request through: the policy acts on responses.
func (*Policy) RequestHeaders(*stage.Stream, *stage.Input) verdict.Decision {
	return verdict.Decision{}
}

// ResponseHeaders adds the policy's edits. It reads the response only for
// keep_upstream (every header, once) and for replace_error_bodies (the
// status).
func (p *Policy) ResponseHeaders(s *stage.Stream, in *stage.Input) {
	e := p.plain
	if p.assumeHTTPS || s.Scheme == "https" {
		e = p.secure
	}
	if len(p.keepUpstream) > 0 {
		e = p.keeping(e, in)
	}
	s.Response.Add(e)
	if p.replaceErrors {
		if b := errorBody(in.Get(":status")); b != nil {
			s.ReplaceBody = b
		}
	}
}

// keeping drops from e's Set the keep_upstream headers the response has.
func (p *Policy) keeping(e stage.Edits, in *stage.Input) stage.Edits {
	all, err := in.All()
	if err != nil {
		// Unreadable: overwrite, the policy's value is the safe one.
		return e
	}
	present := func(kv [2]string) bool {
		return slices.Contains(p.keepUpstream, kv[0]) && slices.ContainsFunc(all, func(h [2]string) bool { return h[0] == kv[0] })
	}
	if !slices.ContainsFunc(e.Set, present) {
		return e
	}
	e.Set = slices.DeleteFunc(slices.Clone(e.Set), present)
	return e
}

// httpsOnly is a Policy with require_https: plain http is refused before
// authentication, so no credential is checked on a request that exposed it.
type httpsOnly struct{ *Policy }

// BeforeAuthentication refuses a request that did not come over https.
func (h httpsOnly) BeforeAuthentication(s *stage.Stream, _ *stage.Input) verdict.Decision {
	return h.Unmatched(s)
}

// Unmatched refuses a request no route matched that did not come over
// https: with the global require_https, the API is https-only whatever the
// path, so an unknown one gets the same 403 and a known one is not told
// apart from it over plain http.
func (httpsOnly) Unmatched(s *stage.Stream) verdict.Decision {
	if s.Scheme != "https" {
		return verdict.Deny(verdict.HTTPSRequired, "")
	}
	return verdict.Decision{}
}

// UpstreamError is the problem type of a replaced 5xx body.
const UpstreamError = "upstream_error"

// errorBodies are the replacement bodies of 500 to 599, built on the first
// 5xx rather than in the package's init, which every VM runs before its
// first request: building them runs the problem encoder and strconv's
// quoting, 15 KB of code that V8 would compile at start-up.
var errorBodies = sync.OnceValue(func() *[100]stage.Body {
	var b [100]stage.Body
	for i := range b {
		b[i] = stage.Body{
			Headers: [][2]string{{"content-type", "application/problem+json"}, {"x-content-type-options", "nosniff"}},
			Data:    verdict.Problem(UpstreamError, "The service could not answer the request", 500+i, ""),
		}
	}
	return &b
})

// errorBody is the replacement body for a response's :status, nil unless
// it is a 5xx.
func errorBody(status string) *stage.Body {
	if len(status) != 3 || status[0] != '5' || status[1] < '0' || status[1] > '9' || status[2] < '0' || status[2] > '9' {
		return nil
	}
	return &errorBodies()[int(status[1]-'0')*10+int(status[2]-'0')]
}
