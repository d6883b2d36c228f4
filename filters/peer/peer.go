// Package peer authenticates the calling service by its mutual-TLS
// certificate: a route's "peer" requirement accepts the SPIFFE IDs it lists
// (filters/spiffe), read from the properties Envoy derives from the
// certificate it verified, and never from a header a client could write. The
// accepted ID is recorded in the stream (stage.Stream.Peer) for
// authorization, rate limits and the audit record.
package peer

import (
	"errors"
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/apiguard/apiguard/filters/config"
	"github.com/apiguard/apiguard/filters/spiffe"
	"github.com/apiguard/apiguard/filters/stage"
	"github.com/apiguard/apiguard/filters/verdict"
)

// Requirement is a route's compiled "peer" field; immutable. As a stage it
// runs first on its route's requests, before rate limits and token
// authentication.
type Requirement struct {
	accept *spiffe.Matcher
	// orToken makes the peer identity an alternative to the route's token:
	// a request without an accepted identity is not denied here, and
	// authentication then requires a token.
	orToken bool
	// forwardCertHeaders keeps the client-certificate headers
	// (CertHeaderPrefixes) in the request for the upstream.
	forwardCertHeaders bool
}

// Read reads a route's "peer": the identities it accepts (spiffe_ids,
// spiffe_prefixes, trust_domains) and "or_token",
// "forward_client_cert_headers". The pipeline checks or_token against the
// route's authentication.
func Read(r *config.Reader, path string, v gjson.Result) *Requirement {
	q := &Requirement{}
	q.accept = spiffe.ReadMatcher(r, path, v, config.Fields{
		"or_token":                    {Read: func(p string, v gjson.Result) { q.orToken = r.Bool(p, v) }},
		"forward_client_cert_headers": {Read: func(p string, v gjson.Result) { q.forwardCertHeaders = r.Bool(p, v) }},
	})
	return q
}

// OrToken reports whether a token may stand in for the peer identity.
func (q *Requirement) OrToken() bool { return q.orToken }

// CertHeaderPrefixes name the request headers in which proxies pass a
// client certificate, or facts about it, to their upstream: Envoy's
// x-forwarded-client-cert, RFC 9440's client-cert and client-cert-chain,
// nginx's and HAProxy's usual x-ssl-client-* and ssl-client-*, Traefik's
// x-forwarded-tls-client-cert(-info), IIS ARR's x-arr-clientcert, AWS ALB's
// x-amzn-mtls-clientcert*, and the common x-client-cert, x-ssl-cert,
// x-client-verify and x-client-*dn. A header whose name starts with one is
// removed from the requests of a route with a peer requirement, unless it
// sets forward_client_cert_headers; apiguard itself never reads them.
var CertHeaderPrefixes = []string{
	"x-forwarded-client-cert", "x-forwarded-tls-client-cert", "client-cert", "x-client-cert", "x-ssl-client-",
	"ssl-client-", "x-ssl-cert", "x-arr-clientcert", "x-amzn-mtls-clientcert", "x-client-verify", "x-client-dn",
	"x-client-s-dn", "x-client-i-dn",
}

// RequestHeaders verifies the peer, records its ID in s.Peer when accepted,
// and removes the client-certificate headers.
func (q *Requirement) RequestHeaders(s *stage.Stream, in *stage.Input) verdict.Decision {
	id, d := q.verify(in.Worker().Host)
	switch {
	case d.Reason == verdict.Internal || d.Denied() && !q.orToken:
		return d
	case !d.Denied():
		s.Peer = id
	}
	if q.forwardCertHeaders {
		return verdict.Decision{}
	}
	headers, err := in.All()
	if err != nil {
		return verdict.Deny(verdict.Internal, "cannot read request headers")
	}
	var remove []string
	for _, kv := range headers {
		if isCertHeader(kv[0]) && !slices.Contains(remove, kv[0]) {
			remove = append(remove, kv[0])
		}
	}
	if remove != nil {
		s.Edits.Add(stage.Edits{Remove: remove})
	}
	return verdict.Decision{}
}

func isCertHeader(name string) bool {
	for _, p := range CertHeaderPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// verify reads the peer's identity from the connection's properties, as
// Envoy derives them from the certificate its TLS transport socket verified
// (source/extensions/filters/common/expr/context.cc, ConnectionWrapper and
// the SSL extractors):
//
//   - connection.mtls is a bool (one byte): a TLS connection whose peer
//     presented a certificate (Ssl::ConnectionInfo::peerCertificatePresented).
//     Envoy's listener must require and validate it (a validation context
//     with trusted CAs; Istio's STRICT mTLS): a certificate Envoy accepted
//     untrusted (trust_chain_verification: ACCEPT_UNTRUSTED) is "presented"
//     too, and apiguard cannot tell.
//   - connection.uri_san_peer_certificate is a string: the certificate's
//     FIRST URI SAN only (uriSanPeerCertificate()[0]), absent (NOT_FOUND)
//     without one. An X.509-SVID carries exactly one URI SAN (SPIFFE
//     X509-SVID.md section 2); a certificate with several would be judged
//     by its first, so the CA issuing them must follow the SVID rules.
//
// A plaintext connection has mtls false and no certificate properties.
func (q *Requirement) verify(h stage.Host) (spiffe.ID, verdict.Decision) {
	mtls, err := h.Property(connectionMTLS...)
	switch {
	case err != nil && !errors.Is(err, stage.ErrNotFound):
		return spiffe.ID{}, verdict.Deny(verdict.Internal, "cannot read the connection's properties")
	case len(mtls) != 1 || mtls[0] != 1:
		return spiffe.ID{}, verdict.Deny(verdict.PeerIdentity, "the connection is not mutual TLS")
	}
	san, err := h.Property(peerURISAN...)
	switch {
	case errors.Is(err, stage.ErrNotFound):
		return spiffe.ID{}, verdict.Deny(verdict.PeerIdentity, "the peer certificate has no URI SAN")
	case err != nil:
		return spiffe.ID{}, verdict.Deny(verdict.Internal, "cannot read the connection's properties")
	}
	id, err := spiffe.ParseWorkload(string(san))
	switch {
	case err != nil:
		return spiffe.ID{}, verdict.Deny(verdict.PeerIdentity, "the peer certificate's URI SAN is not a workload's SPIFFE ID")
	case !q.accept.Match(id):
		return spiffe.ID{}, verdict.Deny(verdict.PeerIdentity, "the peer identity is not accepted on this route")
	}
	return id, verdict.Decision{}
}

// The properties' paths, made once: a variadic call through an interface
// allocates its arguments each time.
var (
	connectionMTLS = []string{"connection", "mtls"}
	peerURISAN     = []string{"connection", "uri_san_peer_certificate"}
)
