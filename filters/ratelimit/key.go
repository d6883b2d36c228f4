package ratelimit

import (
	"errors"
	"net/netip"
	"strings"

	"github.com/apiguard/apiguard/filters/claims"
	"github.com/apiguard/apiguard/filters/httpsyntax"
	"github.com/apiguard/apiguard/filters/jwt"
	"github.com/tidwall/gjson"
)

// partKind is what one part of a rule's key reads.
type partKind byte

const (
	// partPeer is the peer's IP address (source.address without its port).
	partPeer partKind = iota + 1
	// partForwarded is the x-forwarded-for entry trusted_hops from the right.
	partForwarded
	// partClaim is a verified claim, by JSON pointer.
	partClaim
	// partHeader is a request header's value, used only hashed.
	partHeader
	// partRoute is the matched route's name.
	partRoute
	// partPeerIdentity is the calling service's SPIFFE ID, verified by the
	// route's peer requirement before any rule runs.
	partPeerIdentity
)

// part is one compiled key part.
type part struct {
	kind partKind
	// name is a header's lower-case name; claim a claim's path.
	name  string
	claim claims.Pointer
}

// identity reports whether the part needs the verified token, so that its
// rule runs after authentication.
func (p part) identity() bool { return p.kind == partClaim }

// parsePart reads one key part: "peer", "x_forwarded_for", "route",
// "peer_identity", "claim:<JSON pointer>" (RFC 6901, "claim:/sub") or
// "header:<name>".
func parsePart(s string) (part, error) {
	switch s {
	case "peer":
		return part{kind: partPeer}, nil
	case "peer_identity":
		return part{kind: partPeerIdentity}, nil
	case "x_forwarded_for":
		return part{kind: partForwarded}, nil
	case "route":
		return part{kind: partRoute}, nil
	}
	kind, arg, _ := strings.Cut(s, ":")
	switch kind {
	case "claim":
		ptr, err := claims.Parse(arg)
		return part{kind: partClaim, claim: ptr}, err
	case "header":
		if !validHeaderName(arg) {
			return part{}, errors.New("header name must be a lower-case token, not a pseudo-header")
		}
		return part{kind: partHeader, name: arg}, nil
	}
	return part{}, errors.New(`must be "peer", "x_forwarded_for", "route", "peer_identity", "claim:/<pointer>" or "header:<name>"`)
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// claimValue is a claim's value as a key part: a string as it is, a number
// or boolean as its JSON text; "" (missing) for null, objects, arrays, the
// empty string and a claim too wide to search, which name no one.
func claimValue(tok *jwt.Token, p claims.Pointer) string {
	v, _, _ := p.Lookup(tok)
	switch v.Type {
	case gjson.String:
		return v.Str
	case gjson.Number, gjson.True, gjson.False:
		return v.Raw
	}
	return ""
}

// claimHas reports whether a claim is value, an array holding it, or a
// space-separated list (an OAuth scope) naming it.
func claimHas(tok *jwt.Token, p claims.Pointer, value string) bool {
	v, found, _ := p.Lookup(tok)
	if !found {
		return false
	}
	for it := claims.NewStrings(v, true); ; {
		w, ok := it.Next()
		if !ok {
			return false
		}
		if w == value {
			return true
		}
	}
}

// peerKey is an address as a key: an IPv4 address, or an IPv6 address's
// /64 (one subscriber's usual allocation: keying each /128 would give a
// client 2^64 fresh buckets); ok false when addr is not an address (or
// "ip:port").
func peerKey(addr string) (key [17]byte, ok bool) {
	// Envoy's source.address is "ip:port": that form first, as a failed
	// parse allocates its error.
	var ip netip.Addr
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		ip = ap.Addr()
	} else if ip, err = netip.ParseAddr(addr); err != nil {
		return key, false
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		ip = p.Addr()
		key[16] = 64
	}
	a := ip.As16()
	copy(key[:], a[:])
	return key, true
}

// forwardedClient is the client address in x-forwarded-for given that the
// right-most hops entries were written by proxies apiguard trusts (Envoy's
// own, with use_remote_address, counts as one): the hops-th entry from the
// right, as a peerKey. ok false when the list is shorter or that entry is
// not an address; never an entry further left, which the client chose. values are
// the header's field lines in order, joined as one list.
func forwardedClient(values []string, hops int) (key [17]byte, ok bool) {
	if hops < 1 {
		return key, false
	}
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for {
			j := strings.LastIndexByte(v, ',')
			entry := v[j+1:]
			if hops--; hops == 0 {
				return peerKey(httpsyntax.TrimOWS(entry))
			}
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return key, false
}
