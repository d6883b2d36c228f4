package spiffe

import (
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
)

// maxEntries bounds each list of a Matcher: a policy names services, not a
// directory of them, and each match is a linear scan.
const maxEntries = 256

// Matcher is a compiled set of accepted identities; immutable. An ID
// matches when its trust domain is one of TrustDomains (any, when none are
// listed) and, when IDs or prefixes are listed, it is one of the IDs or lies
// under one of the prefixes. Prefixes match on path-segment boundaries
// only: spiffe://cluster.local/ns/orders covers
// spiffe://cluster.local/ns/orders/sa/billing, never
// spiffe://cluster.local/ns/orders-evil/sa/billing, nor the prefix's own ID.
type Matcher struct {
	ids []string
	// under are the prefixes with their trailing '/'.
	under   []string
	domains []string
}

// Match reports whether id is accepted. The zero ID (no identity) never is.
func (m *Matcher) Match(id ID) bool {
	if id.IsZero() {
		return false
	}
	if len(m.domains) > 0 && !slices.Contains(m.domains, id.TrustDomain()) {
		return false
	}
	if len(m.ids) == 0 && len(m.under) == 0 {
		return true
	}
	if slices.Contains(m.ids, id.s) {
		return true
	}
	for _, u := range m.under {
		if strings.HasPrefix(id.s, u) {
			return true
		}
	}
	return false
}

// ReadMatcher reads an object of accepted identities ("spiffe_ids",
// "spiffe_prefixes", "trust_domains") at path, and the caller's other fields
// of that object (extra, nil when none). Every entry is checked as a SPIFFE
// ID or trust domain, at its own path; so is an ID or prefix that a
// trust_domains list would never let match.
func ReadMatcher(r *config.Reader, path string, v gjson.Result, extra config.Fields) *Matcher {
	m := &Matcher{}
	var idPaths, prefixPaths []string
	list := func(p string, v gjson.Result, each func(p, s string) bool) []string {
		var paths []string
		r.Array(p, v, func(p string, _ int, v gjson.Result) {
			if s, ok := r.Str(p, v); ok && each(p, s) {
				paths = append(paths, p)
			}
		})
		switch n := len(v.Array()); {
		case v.IsArray() && n == 0:
			r.Errorf(p, "must not be empty")
		case n > maxEntries:
			r.Errorf(p, "lists at most %d entries", maxEntries)
		}
		return paths
	}
	fields := config.Fields{
		"spiffe_ids": {Read: func(p string, v gjson.Result) {
			idPaths = list(p, v, func(p, s string) bool {
				if _, err := ParseWorkload(s); err != nil {
					r.Errorf(p, "%v", err)
					return false
				}
				return m.add(r, p, &m.ids, s)
			})
		}},
		"spiffe_prefixes": {Read: func(p string, v gjson.Result) {
			prefixPaths = list(p, v, func(p, s string) bool {
				// Written with or without its trailing '/': both mean the
				// IDs under that path.
				id, err := ParseWorkload(strings.TrimSuffix(s, "/"))
				switch {
				case err == ErrNoWorkloadPath:
					r.Errorf(p, "a prefix names a path under the trust domain; list a whole trust domain in trust_domains")
					return false
				case err != nil:
					r.Errorf(p, "%v", err)
					return false
				}
				return m.add(r, p, &m.under, id.s+"/")
			})
		}},
		"trust_domains": {Read: func(p string, v gjson.Result) {
			list(p, v, func(p, s string) bool {
				if !ValidTrustDomain(s) {
					r.Errorf(p, "%v", ErrTrustDomain)
					return false
				}
				return m.add(r, p, &m.domains, s)
			})
		}},
	}
	for k, f := range extra {
		fields[k] = f
	}
	r.Object(path, v, fields)
	if !v.IsObject() {
		return m
	}
	if !v.Get("spiffe_ids").Exists() && !v.Get("spiffe_prefixes").Exists() && !v.Get("trust_domains").Exists() {
		r.Errorf(path, "names no identity: list spiffe_ids, spiffe_prefixes or trust_domains")
	}
	if len(m.domains) > 0 {
		m.outsideDomains(r, m.ids, idPaths)
		m.outsideDomains(r, m.under, prefixPaths)
	}
	return m
}

// add appends s to list unless it is already there (an error at p).
func (m *Matcher) add(r *config.Reader, p string, list *[]string, s string) bool {
	if slices.Contains(*list, s) {
		r.Errorf(p, "%q is listed twice", s)
		return false
	}
	*list = append(*list, s)
	return true
}

// outsideDomains reports the IDs or prefixes whose trust domain the
// trust_domains list leaves out: they could never match.
func (m *Matcher) outsideDomains(r *config.Reader, entries, paths []string) {
	for i, e := range entries {
		id, _ := Parse(strings.TrimSuffix(e, "/"))
		if !slices.Contains(m.domains, id.TrustDomain()) {
			r.Errorf(paths[i], "trust domain %q is not in trust_domains, so this entry never matches", id.TrustDomain())
		}
	}
}
