// Package spiffe parses SPIFFE IDs strictly and matches them against the
// identities a policy names: exact IDs, IDs under a path, trust domains. It
// is the service-identity counterpart of filters/jwt: pure, allocation-free
// on the request path, and shared by every stage that decides on a peer
// (filters/peer, filters/authz, filters/ratelimit).
//
// The grammar is the SPIFFE ID specification's (spiffe/spiffe
// standards/SPIFFE-ID.md, sections 2 to 2.3), as go-spiffe's spiffeid
// package enforces it:
//
//   - the scheme is "spiffe", written in lower case, followed by "://";
//   - the trust domain (the URI's host) is 1 to 255 of a-z, 0-9, '.', '-'
//     and '_': no upper case, no userinfo, no port, no percent-encoding;
//   - the path is empty or '/'-separated segments of a-z, A-Z, 0-9, '.', '-'
//     and '_', none empty, "." or "..", with no trailing '/';
//   - no query, no fragment, at most 2048 bytes in all.
//
// Case: the trust domain must already be lower case (an upper-case one is
// malformed, never folded: a certificate is compared as issued), and the
// path is case-sensitive, so spiffe://td/ns/Orders and spiffe://td/ns/orders
// are two identities.
package spiffe

import (
	"errors"
	"strings"
)

// Limits of the specification (SPIFFE-ID.md section 2.3).
const (
	// MaxIDLength is the most bytes a SPIFFE ID may have.
	MaxIDLength = 2048
	// MaxTrustDomainLength is the most bytes of a trust domain (a URI host).
	MaxTrustDomainLength = 255
)

const scheme = "spiffe://"

// ID is a parsed SPIFFE ID. Its zero value is no ID: a stream without a
// verified peer identity.
type ID struct {
	s string
	// td is the length of the trust domain, which starts after the scheme.
	td int
}

// String is the ID as written: "spiffe://trust.domain/path". "" for the zero
// value. It is the only form of the peer's identity apiguard records (never
// the certificate).
func (id ID) String() string { return id.s }

// IsZero reports the zero value: no identity.
func (id ID) IsZero() bool { return id.s == "" }

// TrustDomain is the ID's trust domain, "cluster.local".
func (id ID) TrustDomain() string {
	if id.s == "" {
		return ""
	}
	return id.s[len(scheme) : len(scheme)+id.td]
}

// Path is the ID's path, "/ns/orders/sa/billing"; "" for a trust domain's
// own ID (spiffe://cluster.local).
func (id ID) Path() string {
	if id.s == "" {
		return ""
	}
	return id.s[len(scheme)+id.td:]
}

// Reasons Parse refuses an ID, one sentence each, fixed: they never echo
// the input, so they are safe in logs and configuration errors alike.
var (
	ErrEmpty          = errors.New("a SPIFFE ID must not be empty")
	ErrTooLong        = errors.New("a SPIFFE ID has at most 2048 bytes")
	ErrScheme         = errors.New(`a SPIFFE ID starts with "spiffe://", in lower case`)
	ErrTrustDomain    = errors.New("a SPIFFE ID's trust domain is 1 to 255 of a-z, 0-9, '.', '-' and '_' (no upper case, userinfo, port, query or fragment)")
	ErrPathCharacter  = errors.New("a SPIFFE ID's path segments are made of a-z, A-Z, 0-9, '.', '-' and '_' (no query, fragment or percent-encoding)")
	ErrEmptySegment   = errors.New("a SPIFFE ID's path has no empty segment and no trailing '/'")
	ErrDotSegment     = errors.New(`a SPIFFE ID's path has no "." or ".." segment`)
	ErrNoWorkloadPath = errors.New("a workload's SPIFFE ID has a path: spiffe://<trust domain>/<path>")
)

// Parse reads s as a SPIFFE ID. It allocates nothing: the ID keeps s.
func Parse(s string) (ID, error) {
	switch {
	case s == "":
		return ID{}, ErrEmpty
	case len(s) > MaxIDLength:
		return ID{}, ErrTooLong
	case !strings.HasPrefix(s, scheme):
		return ID{}, ErrScheme
	}
	rest := s[len(scheme):]
	td := strings.IndexByte(rest, '/')
	if td < 0 {
		td = len(rest)
	}
	if !ValidTrustDomain(rest[:td]) {
		return ID{}, ErrTrustDomain
	}
	if err := checkPath(rest[td:]); err != nil {
		return ID{}, err
	}
	return ID{s: s, td: td}, nil
}

// ParseWorkload reads s as a workload's SPIFFE ID: one with a path. A peer
// certificate naming only a trust domain (spiffe://cluster.local) is an
// authority's identity, not a caller's (SPIFFE-ID.md section 3.1).
func ParseWorkload(s string) (ID, error) {
	id, err := Parse(s)
	if err == nil && id.Path() == "" {
		return ID{}, ErrNoWorkloadPath
	}
	return id, err
}

// ValidTrustDomain reports a trust domain name as the specification allows
// it: 1 to 255 of a-z, 0-9, '.', '-' and '_'.
func ValidTrustDomain(td string) bool {
	if td == "" || len(td) > MaxTrustDomainLength {
		return false
	}
	for i := 0; i < len(td); i++ {
		if c := td[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkPath checks a path: empty, or "/"-prefixed segments.
func checkPath(p string) error {
	for p != "" {
		// p starts with '/'.
		p = p[1:]
		end := strings.IndexByte(p, '/')
		if end < 0 {
			end = len(p)
		}
		seg := p[:end]
		switch seg {
		case "":
			return ErrEmptySegment
		case ".", "..":
			return ErrDotSegment
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
				return ErrPathCharacter
			}
		}
		p = p[end:]
	}
	return nil
}
